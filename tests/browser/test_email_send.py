"""Sending email in a real browser (issue 13): New email from the top bar with a template and a
file from Files, arriving at a real SMTP server (aiosmtpd); an email offered in the drawer,
accepted and answered from its page.  Headless Debian Chromium on the live server; Dovecot for
the Sent folder.  Screenshots land in ``screenshots/`` for a visual review."""
from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from centrala.models import User
from centrala.models_email import EmailTemplate

from ..email_send_helpers import OFFICE, inbound_conversation, make_mailbox
from .conftest import log_in

pytestmark = [pytest.mark.db, pytest.mark.browser]

SHOTS = Path(__file__).resolve().parents[2] / "screenshots"
T = 8000


def _setup(app, database, dovecot, smtp_server, make_user):
    from centrala import files as team_files

    uid = make_user("ewa@example.com", name="Ewa Nowak")
    settings = app.extensions["centrala.settings"]
    with database.session() as s:
        mb = make_mailbox(s, dovecot, smtp_server.port, agents=[uid], signature="<p>Biuro Obsługi Klienta</p>")
        s.add(EmailTemplate(title="Potwierdzenie zamówienia",
                            body="<p>Dziękujemy, zamówienie jest <b>w realizacji</b>.</p>"))
        team_files.store(s, settings.files_dir, io.BytesIO(b"Cennik 2026: 100 zl"), "cennik 2026.txt", None, uid,
                         team_files.Limits(10 ** 6, 10 ** 8))
        mailbox_id = mb.id
    return uid, mailbox_id


def test_new_email_with_a_template_and_a_file_from_files(app, database, dovecot, smtp_server, make_user,
                                                         new_context):
    _setup(app, database, dovecot, smtp_server, make_user)
    page = log_in(new_context().new_page(), "ewa@example.com")
    page.click("#new-email")
    expect(page).to_have_url(re.compile(r"/email/new$"), timeout=T)
    expect(page.locator("#em-mailbox")).to_contain_text("Biuro Obsługi")

    # nothing filled: the server says what is missing, next to the field
    page.click("#email-send")
    expect(page.locator("#em-to-error")).to_have_text("Add at least one valid recipient.", timeout=T)

    page.fill("#em-to", "jan.kowalski@example.org")
    page.fill("#em-subject", "Zamówienie 2026/17")
    page.click("#em-body")
    page.keyboard.type("Dzień dobry Panie Janie,")
    page.keyboard.press("Enter")
    page.fill("#em-template", "Potwierdzenie zamówienia")
    page.press("#em-template", "Enter")
    expect(page.locator("#em-body b")).to_have_text("w realizacji")
    page.fill("#em-file-search", "cennik")
    page.click(".em-file-add")
    expect(page.locator("#em-picked li")).to_contain_text("cennik 2026.txt")
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "email-new.png"), full_page=True)
    page.click("#email-send")

    expect(page).to_have_url(re.compile(r"/email/\d+$"), timeout=T)
    got = smtp_server.wait_for("jan.kowalski@example.org", timeout=15)
    assert got["Subject"].startswith("Zamówienie 2026/17 [#")
    html = got.get_body(preferencelist=("html",)).get_content()
    assert "Dzień dobry Panie Janie" in html and "<b>w realizacji</b>" in html and "Biuro Obsługi Klienta" in html
    assert [(p.get_filename(), p.get_content()) for p in got.iter_attachments()] == [
        ("cennik 2026.txt", "Cennik 2026: 100 zl")]
    # the page follows the message to "Sent"
    expect(page.locator(".em-delivery .em-state").first).to_have_text("Sent", timeout=15000)
    page.screenshot(path=str(SHOTS / "email-sent.png"), full_page=True)
    assert len(dovecot.messages(OFFICE, "Sent")) == 1


def test_reply_from_the_drawers_offered_item(app, database, dovecot, smtp_server, make_user, new_context,
                                             csp_violations):
    from centrala.channels.email import EMAIL
    from centrala.conversations.offers import SilentPresenter
    from centrala.models import Communication
    from web.notifications import notifier
    from web.offers import engine

    class DrawerOnly(SilentPresenter):
        """Stands in for the receiving side's presenter (web/emails/offers.py): a drawer item."""
        def offered(self, session, offer):
            c = session.get(Communication, offer.communication_id)
            items = notifier.notify(app, session, notifier.Work("email", [offer.agent_id],
                                                                lambda: f"Email from {c.remote}",
                                                                link=EMAIL.offer_link(c)))
            return items[0].id if items else None

    engine(app).register("email", DrawerOnly())
    uid, mailbox_id = _setup(app, database, dovecot, smtp_server, make_user)
    page = log_in(new_context().new_page(), "ewa@example.com")
    with database.session() as s:
        s.get(User, uid).status = "online"
        mb = s.get(__import__("centrala.models_email", fromlist=["Mailbox"]).Mailbox, mailbox_id)
        c, _m = inbound_conversation(
            s, mb, text="Dzień dobry,\ngdzie jest moja paczka?\n\nW dniu 1.12.2026 Sklep pisze:\n> Wysłaliśmy paczkę.",
            html=None)
        comm = c.id
    with app.app_context(), database.session() as s:
        assert engine(app).offer(s, comm).agent_id == uid

    expect(page.locator("#badge-incoming")).to_have_text("1", timeout=T)
    page.click("#drawer-toggle")
    item = page.locator("#drawer-list li").first
    expect(item).to_contain_text("Email from klient@example.net")
    page.screenshot(path=str(SHOTS / "email-drawer.png"), full_page=True)
    item.locator("[data-action=answer]").click()
    expect(page).to_have_url(re.compile(rf"/email/{comm}$"), timeout=T)   # accepted, then the page again
    expect(page.locator("#email-reply")).to_be_visible()
    expect(page.locator(".em-text").first).to_contain_text("gdzie jest moja paczka?")
    expect(page.locator(".em-quoted")).not_to_have_attribute("open", "")
    page.click("#em-body")
    page.keyboard.type("Paczka wyszła wczoraj, numer 123.")
    page.fill("#em-cc", "magazyn@example.com")
    page.click("#email-send")
    got = smtp_server.wait_for("klient@example.net", timeout=15)
    assert got["In-Reply-To"] == "<abc123@mail.example.net>" and "magazyn@example.com" in got["Cc"]
    assert "Paczka wyszła wczoraj" in got.get_body(preferencelist=("plain",)).get_content()
    expect(page.locator(".em-outbound .em-delivery .em-state")).to_have_text("Sent", timeout=15000)
    page.screenshot(path=str(SHOTS / "email-reply.png"), full_page=True)
    with database.session() as s:
        assert s.get(Communication, comm).agent_id == uid
        assert s.get(User, uid).email == "ewa@example.com"


def test_remote_images_wait_for_show_images(app, database, dovecot, smtp_server, make_user, new_context,
                                            live_server, csp_violations):
    uid, mailbox_id = _setup(app, database, dovecot, smtp_server, make_user)
    pixel = f"{live_server.url}/static/favicon.svg?tracker=1"   # stands in for a sender's tracking pixel
    with database.session() as s:
        mb = s.get(__import__("centrala.models_email", fromlist=["Mailbox"]).Mailbox, mailbox_id)
        c, _m = inbound_conversation(s, mb, agent_id=uid, html=f'<p>Promocja!</p><img src="{pixel}" alt="">'
                                     '<blockquote>Poprzednia wiadomość</blockquote>')
        comm = c.id
    page = log_in(new_context().new_page(), "ewa@example.com")
    answered = []
    page.on("response", lambda r: "tracker=1" in r.url and answered.append(r.url))
    page.goto(f"/email/{comm}")
    frame = page.frame_locator(".em-frame")
    expect(frame.locator("p")).to_have_text("Promocja!", timeout=T)
    expect(frame.locator("summary")).to_have_text("Show quoted text")
    expect(frame.locator("blockquote")).to_be_hidden()
    assert answered == []                                # never fetched: blocked by the body's own policy
    page.screenshot(path=str(SHOTS / "email-images-blocked.png"), full_page=True)
    with page.expect_response(lambda r: "tracker=1" in r.url, timeout=T) as shown:
        page.click(".em-show-images")
    assert shown.value.status == 200
    assert not shown.value.request.headers.get("referer")   # the sender learns nothing of the panel
    expect(frame.locator("img")).to_be_visible()
    page.screenshot(path=str(SHOTS / "email-images-shown.png"))
    # the refusals before the click were the point: they are not panel bugs
    csp_violations[:] = [v for v in csp_violations if "tracker=1" not in v and "img-src" not in v]
