"""The website chat in a real browser (issue #6): a visitor on a test website served by its own
HTTP server on another port (another origin), and agents in the panel, each in their own
Chromium context.  Screenshots land in ``screenshots/`` (git-ignored) for a visual review."""
from __future__ import annotations

import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from centrala.models import Communication
from centrala.models_chat import ChatTemplate
from web.chat import services as svc

from ..helpers import free_port, wait_for
from .conftest import log_in

pytestmark = [pytest.mark.db, pytest.mark.browser]
SHOTS = Path(__file__).resolve().parents[2] / "screenshots"
T = 5000
XSS = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>hello'

# the host page's own CSS tries hard to break embedded things; the iframe keeps the widget safe
PAGE = """<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><title>{title}</title>
<style>* {{ font-family: serif !important; color: red; }} iframe {{ width: 3px; height: 3px; opacity: .1; }}
body {{ margin: 40px; background: #f4efe6; }} h1 {{ font-size: 44px; }}</style></head>
<body><h1>{title}</h1><p>Fresh bread every morning. <a href="/other">Another page</a></p>
{snippet}</body></html>"""


class Website:
    """A tiny static website on its own port: the customer's site that embeds the snippet."""

    def __init__(self, snippet: str, lang: str = "en"):
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                title = {"/": "Bakery", "/other": "Our bread"}.get(self.path.split("?")[0])
                if title is None:
                    self.send_error(404)
                    return
                body = PAGE.format(lang=site.lang, title=title, snippet=site.snippet).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.snippet, self.lang = snippet, lang
        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


@pytest.fixture
def website(database, web_settings, live_server):
    with database.session() as s:
        key = svc.get_settings(s)["key"]
    site = Website(svc.snippet(web_settings.base_url, key))
    with database.session() as s:
        svc.save_settings(s, {"website": site.url + "/", "origins": [site.url], "company": "Bakery Ltd",
                              "offer_timeout": 2})
    yield site
    site.close()


def widget(page):
    return page.frame_locator("iframe[data-centrala-chat]")


def agent_panel(new_context, make_user, email, name):
    make_user(email, name=name, channels=("chat",))
    page = new_context().new_page()
    log_in(page, email)
    page.evaluate("new Promise(r => window.centralaSocket.emit('status:set', {status: 'online'}, r))")
    return page


def stored(page) -> int:
    """Items in the widget's storage (the iframe's origin) plus the host page's and cookies."""
    frame = next(f for f in page.frames if "/frame" in f.url)
    return (frame.evaluate("localStorage.length + sessionStorage.length") + page.evaluate("localStorage.length")
            + len(page.context.cookies()))


def shot(page, name):
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / name))


def test_embed_trigger_live_chat_typing_reload_and_xss(new_context, make_user, website, database):
    with database.session() as s:
        svc.save_settings(s, {"triggers_enabled": True, "triggers": {"en": {"message": "Hi! Fresh rolls today.", "delay": 1}}})
        s.add(ChatTemplate(title="Opening hours", body="We are open 7-19, Monday to Saturday."))
    agent = agent_panel(new_context, make_user, "anna@example.com", "Anna Nowak")
    visitor = new_context().new_page()
    visitor.goto(website.url + "/")
    w = widget(visitor)
    # embedded: the launcher draws in the iframe whatever the host CSS says; CHT-7 sees it
    expect(w.locator(".launcher")).to_be_visible(timeout=T)
    wait_for(lambda: svc.get_settings(database.sessions())["embed_seen_at"], 3, what="embedding seen")
    assert stored(visitor) == 0   # nothing stored before an interaction
    # the trigger opens the widget after its delay
    expect(w.locator(".msg.trigger")).to_have_text("Hi! Fresh rolls today.", timeout=T)
    expect(w.locator(".panel")).to_be_visible()
    expect(w.locator(".who-name")).to_have_text("Anna Nowak")
    shot(visitor, "chat-widget-open.png")

    w.locator("textarea").fill(XSS)
    w.locator(".send").click()
    expect(w.locator(".msg-system")).to_contain_text("Connecting you", timeout=T)
    assert stored(visitor) == 1   # the visitor token, after the first message

    # the agent: drawer item -> answer -> the chat view, accepted
    expect(agent.locator("#badge-incoming")).to_have_text("1", timeout=T)
    agent.click("#drawer-toggle")
    agent.locator("#drawer-list [data-action=answer]").first.click()
    expect(agent).to_have_url(re.compile(r"/chat/\d+$"), timeout=T)
    expect(agent.locator("#chat-composer")).to_be_visible(timeout=T)
    expect(w.locator(".msg-system").last).to_have_text("Anna Nowak joined the chat.", timeout=T)
    # the visitor's HTML is text, never markup
    body = agent.locator(".chat-visitor .chat-body").first
    expect(body).to_have_text(XSS)
    assert agent.locator("#chat-log img, #chat-log script").count() == 0
    assert agent.evaluate("window.__xss") is None and visitor.evaluate("window.__xss") is None
    expect(agent.locator("#chat-pages li")).to_have_count(1)
    expect(agent.locator("#chat-pages li a")).to_have_text("Bakery")

    # typing both ways
    agent.locator("#chat-input").press_sequentially("We have", delay=20)
    expect(w.locator(".typing")).to_be_visible(timeout=T)
    agent.locator("#chat-input").press_sequentially(" rye bread.")
    agent.click("#chat-send")
    expect(w.locator(".msg-agent").last).to_have_text("We have rye bread.", timeout=T)
    expect(w.locator(".typing")).to_be_hidden(timeout=T)
    w.locator("textarea").press_sequentially("Great", delay=20)
    expect(agent.locator("#chat-typing")).to_be_visible(timeout=T)
    w.locator("textarea").press("Enter")
    expect(agent.locator(".chat-visitor .chat-body").last).to_have_text("Great", timeout=T)

    # the agent elsewhere in the panel: a toast and a dot on the Chats tab
    agent.goto("/")
    w.locator("textarea").fill("<b>one more</b>")
    w.locator("textarea").press("Enter")
    expect(agent.locator("#toasts .toast-link")).to_contain_text("<b>one more</b>", timeout=T)
    expect(agent.locator('.tabs a[href="/chat"].has-unread')).to_have_count(1)
    agent.locator("#toasts .toast-link").click()
    expect(agent.locator("#chat-composer")).to_be_visible(timeout=T)

    # another page of the site: the conversation continues, the agent sees the page live
    visitor.goto(website.url + "/other")
    w = widget(visitor)
    expect(w.locator(".panel")).to_be_visible(timeout=T)
    expect(w.locator(".msg-agent").last).to_have_text("We have rye bread.", timeout=T)
    expect(agent.locator("#chat-pages li a").last).to_have_text("Our bread", timeout=T)
    expect(agent.locator("#chat-pages li")).to_have_count(2)
    # a single-page site: history.pushState is reported by the loader
    visitor.evaluate("history.pushState({}, '', '/other?step=2'); document.title = 'Checkout step 2'")
    expect(agent.locator("#chat-pages li a").last).to_have_text("Checkout step 2", timeout=T)
    expect(agent.locator("#visitor-here")).to_have_text("On your website")
    agent.select_option("#chat-template", label="Opening hours")   # a canned answer (CHT-8)
    expect(agent.locator("#chat-input")).to_have_value("We are open 7-19, Monday to Saturday.")
    agent.locator("#chat-input").fill("Anything else?")
    agent.click("#chat-send")
    expect(w.locator(".msg-agent").last).to_have_text("Anything else?", timeout=T)
    w.locator(".launcher").click()                     # closed: a new answer shows as unread
    agent.locator("#chat-input").fill("We close at 19.")
    agent.click("#chat-send")
    expect(w.locator(".unread")).to_have_text("1", timeout=T)
    w.locator(".launcher").click()
    expect(w.locator(".unread")).to_be_hidden()
    shot(visitor, "chat-widget-conversation.png")
    shot(agent, "chat-agent-view.png")

    agent.click("#chat-close")
    expect(w.locator(".msg-system").last).to_contain_text("The chat has ended", timeout=T)
    with database.session() as s:
        c = s.scalar(select(Communication).where(Communication.channel == "chat"))
        assert c.ended_at is not None and c.outcome == "answered"


def test_unaccepted_chat_rolls_over_to_a_second_agent(new_context, make_user, website):
    first = agent_panel(new_context, make_user, "anna@example.com", "Anna Nowak")
    second = agent_panel(new_context, make_user, "olek@example.com", "Olek Lis")
    visitor = new_context().new_page()
    visitor.goto(website.url + "/")
    w = widget(visitor)
    w.locator(".launcher").click()
    w.locator("textarea").fill("Is anyone there?")
    w.locator(".send").click()
    expect(first.locator("#badge-incoming")).to_have_text("1", timeout=T)
    expect(second.locator("#badge-incoming")).to_be_hidden()
    # nobody answers within 2 s: the item moves to the second agent
    expect(second.locator("#badge-incoming")).to_have_text("1", timeout=T)
    expect(first.locator("#badge-incoming")).to_be_hidden(timeout=T)
    second.click("#drawer-toggle")
    second.locator("#drawer-list [data-action=answer]").first.click()
    expect(second.locator("#chat-composer")).to_be_visible(timeout=T)
    expect(w.locator(".msg-system").last).to_have_text("Olek Lis joined the chat.", timeout=T)


def test_ask_for_data_and_force_data(new_context, make_user, website, database):
    with database.session() as s:
        svc.save_settings(s, {"ask_data": True, "force_data": True})
    agent_panel(new_context, make_user, "anna@example.com", "Anna Nowak")
    visitor = new_context().new_page()
    visitor.goto(website.url + "/")
    w = widget(visitor)
    w.locator(".launcher").click()
    w.locator("textarea").fill("I need a cake")
    w.locator(".send").click()
    expect(w.locator(".extra .note")).to_contain_text("two questions about your details", timeout=T)
    shot(visitor, "chat-widget-consent.png")
    w.locator("[data-choice=no]").click()
    expect(w.locator(".extra .note")).to_have_text("We need your name and email address before we can chat.")
    assert stored(visitor) == 0
    w.locator("[data-choice=yes]").click()
    w.locator("input[name=name]").fill("Jan Kowalski")
    w.locator("input[name=email]").fill("jan@")
    w.locator(".data-form .send").click()
    expect(w.locator(".data-form .err").nth(1)).to_have_text("Enter a valid email address.")
    w.locator("input[name=email]").fill("jan@example.com")
    w.locator(".data-form .send").click()
    expect(w.locator(".msg-system")).to_contain_text("Connecting you", timeout=T)
    expect(w.locator("textarea")).to_be_visible()
    with database.session() as s:
        assert s.scalar(select(Communication).where(Communication.channel == "chat")).remote == \
            "Jan Kowalski <jan@example.com>"

    # ask only: "No, thanks" sends the message as it is
    with database.session() as s:
        svc.save_settings(s, {"force_data": False})
    other = new_context().new_page()
    other.goto(website.url + "/")
    w2 = widget(other)
    w2.locator(".launcher").click()
    w2.locator("textarea").fill("Just a question")
    w2.locator(".send").click()
    w2.locator("[data-choice=no]").click()
    expect(w2.locator(".msg-system")).to_contain_text("Connecting you", timeout=T)


def test_offline_form_email_arrives_polish_page(new_context, website, smtp_server, database):
    website.lang = "pl-PL"
    with database.session() as s:
        svc.save_settings(s, {"default_email": "biuro@example.com"})
    visitor = new_context(locale="pl-PL").new_page()
    visitor.goto(website.url + "/")
    w = widget(visitor)
    w.locator(".launcher").click()
    expect(w.locator(".offline-form")).to_be_visible(timeout=T)
    expect(w.locator(".intro")).to_have_text("Masz pytania? Napisz do nas")
    w.locator("input[name=name]").fill("Jan Kowalski")
    w.locator("input[name=email]").fill("jan@example.com")
    w.locator("textarea[name=message]").fill("Proszę o kontakt <b>jutro</b>")
    shot(visitor, "chat-widget-offline-pl.png")
    w.locator(".offline-form .send").click()
    expect(w.locator(".thanks")).to_have_text("Dziękujemy. Odpowiemy emailem.", timeout=T)
    mail = smtp_server.wait_for("biuro@example.com")
    assert "Proszę o kontakt <b>jutro</b>" in mail.get_body(preferencelist=("plain",)).get_content()
    with database.session() as s:
        assert s.scalar(select(Communication).where(Communication.channel == "chat")).outcome == "offline_form"


def test_attachments_in_the_browser(new_context, make_user, website, tmp_path):
    import io

    from PIL import Image

    png = tmp_path / "bread.png"
    buf = io.BytesIO()
    Image.new("RGB", (120, 80), (180, 120, 40)).save(buf, "PNG")
    png.write_bytes(buf.getvalue())
    pdf = tmp_path / "price-list.pdf"
    pdf.write_bytes(b"%PDF-1.4\n%%EOF\n")

    agent = agent_panel(new_context, make_user, "anna@example.com", "Anna Nowak")
    visitor = new_context().new_page()
    visitor.goto(website.url + "/")
    w = widget(visitor)
    w.locator(".launcher").click()
    w.locator("textarea").fill("Look at this")
    w.locator(".send").click()
    agent.click("#drawer-toggle")
    agent.locator("#drawer-list [data-action=answer]").first.click()
    expect(agent.locator("#chat-composer")).to_be_visible(timeout=T)
    expect(w.locator(".attach")).to_be_visible(timeout=T)
    w.locator("input[type=file]").set_input_files(str(png))
    expect(w.locator(".msg-visitor .file img")).to_have_count(1, timeout=T)
    expect(agent.locator(".chat-visitor .chat-file img")).to_have_count(1, timeout=T)
    wait_for(lambda: agent.evaluate("document.querySelector('.chat-file img').naturalWidth") == 120, 3,
             what="the image loaded in the panel")
    agent.locator("#chat-file").set_input_files(str(pdf))
    expect(w.locator(".msg-agent .file")).to_contain_text("price-list.pdf", timeout=T)
    shot(agent, "chat-agent-attachments.png")


def test_settings_general_snippet_copy_and_embedding_indicator(new_context, make_user, website):
    make_user("boss@example.com", role="admin", name="Barbara Boss")
    admin = new_context().new_page()
    log_in(admin, "boss@example.com")
    expect(admin.locator("#embed-snippet")).to_contain_text("/loader.js")   # the start screen
    admin.goto("/settings/general")
    expect(admin.locator("#embed-state")).to_have_text("Not seen on your website yet")
    admin.click("#embed-copy")
    expect(admin.locator("#embed-copy")).to_have_text("Copied")
    visitor = new_context().new_page()
    visitor.goto(website.url + "/")
    expect(widget(visitor).locator(".launcher")).to_be_visible(timeout=T)
    admin.reload()
    expect(admin.locator("#embed-state")).to_have_text("Embedded correctly")
    shot(admin, "chat-settings-general.png")
