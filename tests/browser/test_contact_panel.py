"""The contact side panel (COM-4) in a real browser: beside the ringing call card (the event comes
over the app's bus and Socket.IO, as from the pbx controller) and in the agent's chat view."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from .conftest import log_in

pytestmark = [pytest.mark.db, pytest.mark.browser]

SHOTS = Path(__file__).resolve().parents[2] / "screenshots"
AGENT = "piotr.agent@example.com"
T = 5000


def shot(page, name):
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / name))


def test_call_card_opens_the_contact_panel_and_creates_a_contact_for_an_unknown_number(
        app, database, make_user, new_context):
    from agents import events
    from centrala.contacts import ContactData, create, find_by_phone
    from centrala.models import Communication
    from centrala.models_tasks import Task

    bus = app.extensions["centrala.bus"]
    agent_id = make_user(AGENT, name="Piotr Agent", channels=("voice_in", "voice_out"))
    now = datetime.now(timezone.utc)
    with database.session() as s:
        jan = create(s, ContactData(first_name="Jan", last_name="Kowalski", organisation="ACME sp. z o.o.",
                                    phones=[("600 100 200", "mobile")], emails=[("jan@acme.pl", "work")],
                                    note="Prefers calls in the morning."))
        s.flush()
        jan_id = jan.id
        s.add(Communication(channel="voice", direction="inbound", outcome="answered", remote="+48600100200",
                            started_at=now - timedelta(days=2)))
        s.add(Task(title="Send the offer", contact_id=jan_id, status="new", due_at=now + timedelta(days=1)))
    page = log_in(new_context().new_page(), AGENT)
    card, panel = page.locator("#call-card"), page.locator("#call-contact-panel")
    expect(panel).to_be_hidden()

    # the carrier sends the number without '+': the panel still finds Jan
    bus.publish(events.AGENT_RINGING, user_id=agent_id, call_id="pbx-1", caller="48600100200", communication_id=901)
    expect(card).to_be_visible(timeout=T)
    expect(panel).to_be_visible(timeout=T)
    expect(panel.locator(".cp-link")).to_have_text("Jan Kowalski", timeout=T)
    expect(panel.locator(".cp-link")).to_have_attribute("href", f"/contacts/{jan_id}")
    expect(panel.locator(".cp-org")).to_have_text("ACME sp. z o.o.")
    expect(panel.locator(".cp-phones")).to_contain_text("+48 600 100 200")
    expect(panel.locator(".cp-comms li")).to_have_count(1)
    expect(panel.locator(".cp-tasks")).to_contain_text("Send the offer")
    expect(panel.locator(".cp-edit")).to_have_attribute("href", f"/contacts/{jan_id}/edit")
    expect(panel.locator(".cp-edit")).to_have_attribute("target", "_blank")

    # add a note by keyboard: shown at once, stored as a dated line
    panel.locator(".cp-note-input").focus()
    page.keyboard.type("Asked for a discount")
    page.keyboard.press("Enter")
    expect(panel.locator(".cp-note")).to_contain_text("Piotr Agent: Asked for a discount", timeout=T)
    expect(panel.locator(".cp-note-input")).to_have_value("")
    with database.session() as s:
        from centrala.models_contacts import Contact
        assert s.get(Contact, jan_id).note.endswith("Piotr Agent: Asked for a discount")
    shot(page, "contact-panel-call.png")

    # Escape closes it; the card's Contact button opens it again
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    button = card.locator('[data-call="open-contact"]')
    expect(button).to_have_attribute("aria-expanded", "false")
    button.click()
    expect(panel).to_be_visible()
    expect(button).to_have_attribute("aria-expanded", "true")
    expect(panel.locator(".cp-link")).to_have_text("Jan Kowalski")
    # collapsing from the header
    panel.locator(".cp-toggle").click()
    expect(panel.locator(".cp-body")).to_be_hidden()
    panel.locator(".cp-toggle").click()
    expect(panel.locator(".cp-body")).to_be_visible()

    # the call ends: card and panel go
    bus.publish(events.CALL_LOGGED, call_id="pbx-1", outcome="answered", communication_id=901)
    expect(card).to_be_hidden(timeout=6000)
    expect(panel).to_be_hidden()

    # an unknown number: the Create contact form, prefilled with it
    bus.publish(events.AGENT_RINGING, user_id=agent_id, call_id="pbx-2", caller="+48500999888", communication_id=902)
    expect(panel.locator(".cp-create")).to_be_visible(timeout=T)
    expect(panel.locator(".cp-none")).to_have_text("No contact has the number +48500999888.")
    expect(panel.locator("[name=phone]")).to_have_value("+48500999888")
    panel.locator(".cp-create-btn").click()
    err = panel.locator('[data-error-for="first_name"]')
    expect(err).to_have_text("Enter a first name, a last name or an organisation.", timeout=T)
    expect(panel.locator("[name=first_name]")).to_be_focused()
    expect(panel.locator("[name=phone]")).to_have_value("+48500999888")     # nothing lost
    page.keyboard.type("Ewa")
    panel.locator("[name=last_name]").fill("Lis")
    panel.locator("[name=email]").fill("ewa@lis.pl")
    shot(page, "contact-panel-call-create.png")
    panel.locator(".cp-create-btn").click()
    expect(panel.locator(".cp-link")).to_have_text("Ewa Lis", timeout=T)
    expect(panel.locator(".cp-create")).to_be_hidden()
    expect(panel.locator(".cp-status")).to_have_text("Contact Ewa Lis added.")
    with database.session() as s:
        ewa = find_by_phone(s, "+48500999888")
        assert ewa is not None and ewa.name == "Ewa Lis" and [e.email for e in ewa.emails] == ["ewa@lis.pl"]


def test_chat_view_shows_the_visitors_contact_or_offers_to_create_it(database, make_user, new_context):
    from centrala.contacts import ContactData, create, find_by_email
    from centrala.models import Communication
    from centrala.models_chat import ChatConversation, ChatVisitor

    agent_id = make_user(AGENT, name="Piotr Agent", channels=("chat",))
    chats = {}
    with database.session() as s:
        create(s, ContactData(first_name="Jan", last_name="Kowalski", emails=[("jan@acme.pl", "work")]))
        for key, name, email in (("known", "Jan", "Jan@Acme.pl"), ("new", "Maria Wiśniewska", "maria@example.com")):
            c = Communication(channel="chat", direction="inbound", outcome="in_progress", remote=email,
                              agent_id=agent_id, answered_at=datetime.now(timezone.utc))
            s.add(c)
            s.flush()
            v = ChatVisitor(token_hash=f"h-{key}", name=name, email=email, communication_id=c.id)
            s.add(v)
            s.flush()
            s.add(ChatConversation(communication_id=c.id, visitor_id=v.id, origin="https://shop.example.com"))
            chats[key] = c.id
    page = log_in(new_context().new_page(), AGENT)
    page.goto(f"/chat/{chats['known']}")
    panel = page.locator("#chat-contact-panel")
    expect(panel.locator(".cp-link")).to_have_text("Jan Kowalski", timeout=T)

    page.goto(f"/chat/{chats['new']}")
    expect(panel.locator(".cp-create")).to_be_visible(timeout=T)
    expect(panel.locator("[name=first_name]")).to_have_value("Maria")
    expect(panel.locator("[name=last_name]")).to_have_value("Wiśniewska")
    expect(panel.locator("[name=email]")).to_have_value("maria@example.com")
    panel.locator(".cp-create-btn").click()
    expect(panel.locator(".cp-link")).to_have_text("Maria Wiśniewska", timeout=T)
    # Escape in the chat view's panel collapses it, the header opens it again
    panel.locator(".cp-link").focus()
    page.keyboard.press("Escape")
    expect(panel.locator(".cp-body")).to_be_hidden()
    expect(panel.locator(".cp-toggle")).to_be_focused()
    page.keyboard.press("Enter")
    expect(panel.locator(".cp-body")).to_be_visible()
    with database.session() as s:
        assert find_by_email(s, "maria@example.com").name == "Maria Wiśniewska"
        assert s.scalar(select(ChatVisitor.email).where(ChatVisitor.token_hash == "h-new")) == "maria@example.com"
    shot(page, "contact-panel-chat.png")
