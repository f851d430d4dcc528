"""Chat transfer in real browsers (CHT-5, INB-3): a visitor on the test website and two agents in
the panel, each in their own Chromium context.  Agent A accepts, hands the chat to B with a note
using the keyboard, B accepts from the drawer and writes; the visitor sees B join and answer; A's
view turns read-only.  And the offer B does not take within the (2 s) offer timeout."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from centrala.models import Communication

from .test_chat_widget import agent_panel, shot, website, widget  # noqa: F401  (fixture and helpers)

pytestmark = [pytest.mark.db, pytest.mark.browser]
T = 5000
NOTE = "Customer asks about invoice 12/2026"


def start_chat(agent, visitor, site, text):
    visitor.goto(site.url + "/")
    w = widget(visitor)
    w.locator(".launcher").click()
    w.locator("textarea").fill(text)
    w.locator(".send").click()
    agent.click("#drawer-toggle")
    agent.locator("#drawer-list [data-action=answer]").first.click()
    expect(agent).to_have_url(re.compile(r"/chat/\d+$"), timeout=T)
    expect(agent.locator("#chat-composer")).to_be_visible(timeout=T)
    return w


def test_agent_transfers_a_chat_to_a_colleague_with_a_note(new_context, make_user, website, database):
    anna = agent_panel(new_context, make_user, "anna@example.com", "Anna Nowak")
    olek = agent_panel(new_context, make_user, "olek@example.com", "Olek Lis")
    ewa = agent_panel(new_context, make_user, "ewa@example.com", "Ewa Break")
    ewa.evaluate("new Promise(r => window.centralaSocket.emit('status:set', {status: 'break'}, r))")
    visitor = new_context().new_page()
    w = start_chat(anna, visitor, website, "Hello, where is my invoice?")
    expect(w.locator(".msg-system").last).to_have_text("Anna Nowak joined the chat.", timeout=T)
    anna.locator("#chat-input").fill("Let me check.")
    anna.click("#chat-send")
    expect(w.locator(".msg-agent").last).to_have_text("Let me check.", timeout=T)

    # the Transfer control: Online colleagues selectable, the one on a break shown but disabled
    anna.click("#chat-transfer-open")
    expect(anna.locator("#chat-transfer")).to_be_visible()
    expect(anna.locator("#chat-transfer-open")).to_have_attribute("aria-expanded", "true")
    row_olek = anna.locator("#chat-transfer-list li", has_text="Olek Lis")
    row_ewa = anna.locator("#chat-transfer-list li", has_text="Ewa Break")
    expect(row_olek.locator(".pill")).to_have_text("Online", timeout=T)
    expect(row_ewa.locator(".pill")).to_have_text("Break")
    expect(row_ewa.locator("input")).to_be_disabled()
    expect(anna.locator("#transfer-anyone")).to_be_enabled()
    # keyboard: focus lands on the first choice; arrows move between the enabled ones
    expect(anna.locator("#transfer-anyone")).to_be_focused(timeout=T)
    anna.keyboard.press("ArrowDown")
    expect(row_olek.locator("input")).to_be_checked()
    anna.keyboard.press("Tab")
    expect(anna.locator("#chat-transfer-note")).to_be_focused()
    anna.keyboard.type(NOTE)
    expect(anna.locator("#chat-transfer-count")).to_have_text(str(len(NOTE)))
    shot(anna, "chat-transfer-open.png")
    # statuses change while the list is open: Olek on a break -> disabled at once, back -> enabled
    olek.evaluate("new Promise(r => window.centralaSocket.emit('status:set', {status: 'break'}, r))")
    expect(row_olek.locator("input")).to_be_disabled(timeout=T)
    expect(anna.locator("#chat-transfer-error")).to_have_text("This agent is not Online any more. Choose someone who is.")
    olek.evaluate("new Promise(r => window.centralaSocket.emit('status:set', {status: 'online'}, r))")
    expect(row_olek.locator("input")).to_be_enabled(timeout=T)
    row_olek.locator("input").focus()
    anna.keyboard.press("Space")
    anna.keyboard.press("Tab")          # the note
    anna.keyboard.press("Tab")          # Cancel
    anna.keyboard.press("Tab")          # Transfer
    expect(anna.locator("#chat-transfer-send")).to_be_focused()
    anna.keyboard.press("Enter")
    expect(anna.locator("#chat-transfer")).to_be_hidden(timeout=T)
    expect(anna.locator("#chat-transfer-waiting")).to_have_text("Waiting for Olek Lis to accept…", timeout=T)
    expect(anna.locator("#chat-transfer-open")).to_be_disabled()     # one transfer at a time
    shot(anna, "chat-transfer-pending.png")
    # still Anna's chat while the offer waits
    anna.locator("#chat-input").fill("A colleague will help you with that.")
    anna.click("#chat-send")
    expect(w.locator(".msg-agent").last).to_have_text("A colleague will help you with that.", timeout=T)

    # Olek: a drawer item like a new chat's, with the note; Answer accepts
    expect(olek.locator("#badge-incoming")).to_have_text("1", timeout=T)
    olek.click("#drawer-toggle")
    expect(olek.locator("#drawer-list .item-title").first).to_contain_text("Anna Nowak")
    olek.locator("#drawer-list [data-action=answer]").first.click()
    expect(olek).to_have_url(re.compile(r"/chat/\d+$"), timeout=T)
    expect(olek.locator("#chat-composer")).to_be_visible(timeout=T)
    # the whole transcript and page history, and the transfer as a system entry with the note
    expect(olek.locator(".chat-visitor .chat-body").first).to_have_text("Hello, where is my invoice?")
    # the transcript keeps who joined first, then the transfer with its note
    expect(olek.locator(".chat-system .chat-body")).to_contain_text(
        ["Anna Nowak joined the chat.", "Anna Nowak transferred the chat to Olek Lis."])
    expect(olek.locator(".chat-system .chat-note")).to_have_text("Note: " + NOTE)
    expect(olek.locator("#chat-pages li a")).to_have_text("Bakery")
    olek.locator("#chat-input").fill("Hello, Olek here. Invoice 12/2026 went out today.")
    olek.click("#chat-send")

    # the visitor: Olek joined and answers; never the note
    expect(w.locator(".msg-system").last).to_have_text("Olek Lis joined the chat.", timeout=T)
    expect(w.locator(".msg-agent").last).to_have_text("Hello, Olek here. Invoice 12/2026 went out today.", timeout=T)
    expect(w.locator(".who-name")).to_have_text("Olek Lis")
    assert NOTE not in widget(visitor).locator("body").inner_text()
    # Anna's view: transferred, read-only
    expect(anna.locator("#chat-transferred")).to_have_text("Transferred to Olek Lis", timeout=T)
    expect(anna.locator("#chat-composer")).to_be_hidden()
    expect(anna.locator("#chat-transfer-open")).to_have_count(0)
    expect(anna.locator("#chat-close")).to_have_count(0)
    expect(anna.locator(".chat-system .chat-body").last).to_contain_text("Anna Nowak transferred the chat to Olek Lis.")
    shot(anna, "chat-transfer-after.png")
    shot(olek, "chat-transfer-new-owner.png")
    shot(visitor, "chat-transfer-visitor.png")
    # the visitor writes: Olek gets it, Anna's panel does not
    w.locator("textarea").fill("Thank you!")
    w.locator("textarea").press("Enter")
    expect(olek.locator(".chat-visitor .chat-body").last).to_have_text("Thank you!", timeout=T)
    expect(anna.locator(".chat-visitor .chat-body").last).to_have_text("Hello, where is my invoice?")
    with database.session() as s:
        c = s.scalar(select(Communication).where(Communication.channel == "chat"))
        assert c.agent_id is not None and c.ended_at is None


def test_a_transfer_not_accepted_in_time_stays_with_the_agent(new_context, make_user, website, database):
    anna = agent_panel(new_context, make_user, "anna@example.com", "Anna Nowak")
    olek = agent_panel(new_context, make_user, "olek@example.com", "Olek Lis")
    visitor = new_context().new_page()
    w = start_chat(anna, visitor, website, "Is the shop open on Sunday?")
    anna.click("#chat-transfer-open")
    anna.locator("#chat-transfer-list li", has_text="Olek Lis").locator("input").check()
    anna.click("#chat-transfer-send")
    expect(anna.locator("#chat-transfer-pending")).to_be_visible(timeout=T)
    expect(olek.locator("#badge-incoming")).to_have_text("1", timeout=T)
    # Olek does nothing: after the 2 s offer timeout the offer is withdrawn, Anna is told
    expect(anna.locator("#chat-transfer-result")).to_have_text("Olek Lis did not accept; the chat stays with you.",
                                                               timeout=T)
    expect(anna.locator("#chat-transfer-pending")).to_be_hidden()
    expect(olek.locator("#badge-incoming")).to_be_hidden(timeout=T)
    expect(anna.locator("#chat-transfer-open")).to_be_enabled()
    shot(anna, "chat-transfer-withdrawn.png")
    anna.locator("#chat-input").fill("Yes, 9 to 14.")
    anna.click("#chat-send")
    expect(w.locator(".msg-agent").last).to_have_text("Yes, 9 to 14.", timeout=T)
    assert w.locator(".msg-system", has_text="Olek Lis").count() == 0
    with database.session() as s:
        c = s.scalar(select(Communication).where(Communication.channel == "chat"))
        assert c.agent_id is not None

    # in Polish: the control's words and the states
    anna.click(".lang-switch [data-lang=pl]")
    expect(anna.locator("#chat-transfer-open")).to_have_text("Przekaż", timeout=T)
    anna.click("#chat-transfer-open")
    expect(anna.locator("#chat-transfer-title")).to_have_text("Przekaż chat")
    expect(anna.locator("#chat-transfer-list li", has_text="Olek Lis").locator(".pill")).to_have_text("Online", timeout=T)
    anna.click("#chat-transfer-send")
    expect(anna.locator("#chat-transfer-error")).to_have_text("Wybierz, kto ma przejąć chat.")
    shot(anna, "chat-transfer-open-pl.png")
    anna.keyboard.press("Escape")
    expect(anna.locator("#chat-transfer")).to_be_hidden()
    expect(anna.locator("#chat-transfer-open")).to_be_focused()
