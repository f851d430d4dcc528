"""Settings / Email in the browser (SET-2): add a mailbox, Test connection against a real Dovecot and
SMTP server before saving (a wrong password named, then ok), save it, see it listed; a response
template written in the rich-text box.  Screenshots land in ``screenshots/``."""
import dataclasses
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from centrala.emails import mailboxes as mb
from centrala.models_email import EmailTemplate, Mailbox

from .conftest import log_in

pytestmark = pytest.mark.browser
SHOTS = Path(__file__).resolve().parents[2] / "screenshots"


def test_add_mailbox_test_connection_and_save(app, live_server, new_context, make_user, dovecot, smtp_server,
                                              web_settings, database):
    dovecot.add_user("office@example.com", "right-pass")
    app.extensions["centrala.settings"] = dataclasses.replace(web_settings, mail_ca_file=dovecot.ca_file)
    make_user("boss@example.com", role="admin", name="Barbara Boss")
    ann = make_user("ann@example.com", name="Ann Agent")
    page = log_in(new_context().new_page(), "boss@example.com")
    page.goto("/settings/email/")
    expect(page.locator("#no-mailboxes .empty-title")).to_have_text("No mailboxes yet")
    page.click("#add-mailbox")
    page.fill("#label", "Customer service")
    page.fill("#address", "office@example.com")
    page.fill("#password", "wrong-pass")
    page.fill("#imap_host", "127.0.0.1")
    page.check("input[name=imap_security][value=ssl]")
    page.fill("#imap_port", str(dovecot.ssl_port))
    page.fill("#smtp_host", "127.0.0.1")
    page.check("input[name=smtp_security][value=starttls]")
    expect(page.locator("#smtp_port")).to_have_value("587")     # the default port follows the security
    page.check("input[name=smtp_security][value=none]")
    expect(page.locator("#smtp_port")).to_have_value("25")
    page.fill("#smtp_port", str(smtp_server.port))
    page.check(f"input[name=agent_ids][value='{ann}']")
    page.locator(".rich-area").first.click()
    page.keyboard.type("Kind regards, Customer service")
    page.click("#test-connection")
    result = page.locator("#test-result")
    expect(result.locator(".test-bad")).to_contain_text("Incoming mail (IMAP): The server refused the login or password.")
    expect(result.locator(".test-ok")).to_contain_text("Outgoing mail (SMTP): Logged in.")
    page.fill("#password", "right-pass")
    page.click("#test-connection")
    expect(result.locator(".test-ok")).to_have_count(2)
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "email-mailbox-form.png"), full_page=True)
    with database.session() as s:
        assert s.scalars(select(Mailbox)).all() == []   # testing saved nothing
    page.click("#save-mailbox")
    row = page.locator("#mailboxes tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Customer service")
    expect(row).to_contain_text("office@example.com")
    with database.session() as s:
        m = s.scalars(select(Mailbox)).one()
        assert mb.agents_of(s, m) == [ann] and "Kind regards, Customer service" in m.signature
        assert mb.endpoint(s, m, "imap").password == "right-pass"
        m.state, m.last_error = "error", "auth: the server refused the login"
        s.commit()
    # the list follows the live state
    expect(row.locator(".mailbox-state")).to_contain_text("the server refused the login", timeout=8000)
    expect(row.locator(".pill")).to_have_text("Error")
    page.screenshot(path=str(SHOTS / "email-mailboxes.png"))
    # a template in the rich-text box
    page.fill("#title", "Price list")
    page.locator("#templates .rich-area").click()
    page.keyboard.press("Control+b")
    page.keyboard.type("Our prices")
    page.click("#template-form button[type=submit]")
    expect(page.locator("#template-list li")).to_contain_text("Price list")
    with database.session() as s:
        assert s.scalars(select(EmailTemplate.body)).one() in ("<b>Our prices</b>", "<p><b>Our prices</b></p>")
    page.screenshot(path=str(SHOTS / "email-settings.png"), full_page=True)
    # the edit form keeps the password out of sight
    page.click("#mailboxes tbody tr a")
    expect(page.locator("#password")).to_have_value("")
    expect(page.locator("#password")).to_have_attribute("placeholder", "Leave empty to keep the saved password")


def test_my_mailbox_in_polish(app, live_server, new_context, make_user, database):
    make_user("ann@example.com", name="Anna Nowak")
    page = log_in(new_context(locale="pl-PL").new_page(), "ann@example.com")
    page.goto("/profile")
    page.click("#my-mailbox-link")
    expect(page.locator("h1")).to_have_text("Moja skrzynka")
    expect(page.locator("input[name=kind]")).to_have_count(0)   # one's own personal mailbox only
    expect(page.locator("#label")).to_have_attribute("placeholder", "np. Obsługa klienta")
    expect(page.locator("#label")).to_have_attribute("maxlength", "100")
    expect(page.locator("[data-auth-part=oauth2]")).to_be_hidden()
    page.check("input[name=auth][value=oauth2]")
    expect(page.locator("[data-auth-part=oauth2]")).to_be_visible()
    expect(page.locator("[data-auth-part=password]")).to_be_hidden()
    page.check("input[name=auth][value=password]")
    page.click("#save-mailbox")   # nothing filled in: the problems in Polish, nothing saved
    expect(page.locator("#label-error")).to_have_text("To pole jest wymagane.")
    expect(page.locator("#password-error")).to_have_text("Podaj hasło skrzynki.")
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "email-my-mailbox-pl.png"), full_page=True)
    with database.session() as s:
        assert s.scalars(select(Mailbox)).all() == []
