"""The panel core in a real browser: headless Debian Chromium (Playwright, sync API) against
the app served over HTTP by a real threaded server (``live_server``), with a real SMTP server
for invitations and a real Socket.IO connection for presence and notifications.

Screenshots of the main pages land in ``screenshots/`` (git-ignored) for a visual review.
"""
from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.conftest import mail_link

from .conftest import PASSWORD, log_in

pytestmark = [pytest.mark.db, pytest.mark.browser]

SHOTS = Path(__file__).resolve().parents[2] / "screenshots"
ADMIN = "anna.admin@example.com"
AGENT = "piotr.agent@example.com"
T = 5000  # ms: the longest any page element may take to show up


def pill(page, user_id: int):
    return page.locator(f'#people [data-user="{user_id}"] [data-role=status]')


def open_menu(page):
    page.click("#user-menu-toggle")
    expect(page.locator("#user-menu")).to_be_visible(timeout=T)
    expect(page.locator("#user-menu-toggle")).to_have_attribute("aria-expanded", "true")


def set_status(page, status: str) -> float:
    """Pick a status in the name menu; returns the monotonic time right after the click."""
    open_menu(page)
    page.click(f"#status-form button.status-option[data-status={status}]")
    return time.monotonic()


def polish(app, text: str) -> str:
    """``text`` as the Polish catalog has it (English while there is no catalog)."""
    from flask_babel import force_locale, gettext

    with app.test_request_context(), force_locale("pl"):
        return gettext(text)


# -- 1. log in -------------------------------------------------------------------------
def test_admin_logs_in_and_wrong_password_is_refused(make_user, new_context):
    make_user(ADMIN, role="admin", name="Anna Admin")
    page = new_context().new_page()

    page.goto("/")  # anonymous: sent to the login form
    expect(page).to_have_url(re.compile(r"/login\?next=(/|%2F)"), timeout=T)

    page.fill("#email", ADMIN)
    page.fill("#password", "not the password")
    with page.expect_response(lambda r: r.url.endswith("/login") or "/login?" in r.url) as answer:
        page.click("form.form button[type=submit]")
    assert answer.value.status == 401
    expect(page.locator("#login-error")).to_have_text("Incorrect email or password.", timeout=T)
    expect(page.locator("#email")).to_have_value(ADMIN)  # kept for the next attempt
    expect(page.locator("#password")).to_have_value("")

    page.fill("#password", PASSWORD)
    page.click("form.form button[type=submit]")
    expect(page).to_have_url(re.compile(r"^http://[^/]+/$"), timeout=T)
    expect(page.locator("h1")).to_have_text("Hello, Anna", timeout=T)
    expect(page.locator("#login-error")).to_have_count(0)
    expect(page.locator(".tab.active")).to_have_text("Dashboard")
    expect(page.locator("body[data-connected='1']")).to_have_count(1, timeout=T)
    expect(page.locator("#user-menu-toggle .user-name")).to_have_text("Anna Admin")


# -- 2. languages ----------------------------------------------------------------------
def test_language_switch_is_remembered_and_login_follows_the_browser(app, make_user, new_context):
    make_user(ADMIN, role="admin", name="Anna Admin")
    page = log_in(new_context(locale="en-US").new_page(), ADMIN)
    html = page.locator("html")
    expect(html).to_have_attribute("lang", "en")
    expect(page.get_by_role("link", name="Tasks", exact=True)).to_be_visible()

    page.click("button[data-lang=pl]")
    expect(html).to_have_attribute("lang", "pl", timeout=T)
    expect(page.locator("button[data-lang=pl]")).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_role("link", name="Zadania", exact=True)).to_be_visible(timeout=T)
    open_menu(page)
    expect(page.get_by_role("menuitem", name="Mój profil")).to_be_visible()

    page.keyboard.press("Escape")
    page.click("button[data-lang=en]")
    expect(html).to_have_attribute("lang", "en", timeout=T)
    expect(page.get_by_role("link", name="Tasks", exact=True)).to_be_visible(timeout=T)

    # the choice belongs to the user: it survives logging out and in again
    page.click("button[data-lang=pl]")
    expect(html).to_have_attribute("lang", "pl", timeout=T)
    open_menu(page)
    page.click("#logout")
    expect(page).to_have_url(re.compile(r"/login$"), timeout=T)
    log_in(page, ADMIN)
    expect(html).to_have_attribute("lang", "pl", timeout=T)
    expect(page.get_by_role("link", name="Zadania", exact=True)).to_be_visible(timeout=T)
    open_menu(page)
    expect(page.get_by_role("menuitem", name="Mój profil")).to_be_visible()

    # before logging in, the page speaks the browser's language
    heading_en = "Log in to your account"
    heading_pl = polish(app, heading_en)
    assert heading_pl != heading_en, "no Polish catalog (web/translations/pl/LC_MESSAGES/messages.mo)"
    for locale, lang, heading in (("pl-PL", "pl", heading_pl), ("en-US", "en", heading_en)):
        anon = new_context(locale=locale).new_page()
        anon.goto("/login")
        expect(anon.locator("html")).to_have_attribute("lang", lang)
        expect(anon.locator("h1")).to_have_text(heading)
        expect(anon.locator(f"button[data-lang={lang}]")).to_have_attribute("aria-pressed", "true")


# -- 3. invitation -----------------------------------------------------------------------
def test_admin_invites_a_user_who_sets_a_password_and_logs_in(make_user, new_context, smtp_server):
    make_user(ADMIN, role="admin", name="Anna Admin")
    admin = log_in(new_context().new_page(), ADMIN)

    open_menu(admin)
    admin.click("#menu-settings")
    expect(admin).to_have_url(re.compile(r"/settings/users$"), timeout=T)
    expect(admin.locator("#user-count")).to_have_text("1/10")

    admin.click("#add-user")
    expect(admin).to_have_url(re.compile(r"/settings/users/new$"), timeout=T)
    admin.fill("#name", "Bartek Nowak")
    admin.fill("#email", "bartek@example.com")
    admin.select_option("#role", "agent")
    admin.fill("#position", "Customer support")
    admin.uncheck("input[name=channels][value=facebook]")
    admin.click("form.form button[type=submit]")

    expect(admin).to_have_url(re.compile(r"/settings/users$"), timeout=T)
    expect(admin.locator(".alert-success")).to_contain_text("invitation was sent to bartek@example.com")
    expect(admin.locator("#user-count")).to_have_text("2/10")
    row = admin.locator("tr", has_text="bartek@example.com")
    expect(row).to_contain_text("Invitation pending")
    expect(row).to_contain_text("Customer support")
    expect(row).not_to_contain_text("Facebook")

    message = smtp_server.wait_for("bartek@example.com", timeout=10)
    link = mail_link(message)
    assert re.search(r"/password/set#[\w-]+$", link), link

    newbie = new_context().new_page()
    newbie.goto(link)
    expect(newbie.locator("h1")).to_have_text("Welcome, Bartek Nowak", timeout=T)
    newbie.fill("#password", "short")
    newbie.fill("#confirm", "short")
    newbie.locator("form.form").evaluate("f => f.noValidate = true")  # let the server judge it
    newbie.click("form.form button[type=submit]")
    expect(newbie.locator(".alert-error")).to_contain_text("at least 10 characters", timeout=T)

    newbie.fill("#password", "a long new password")
    newbie.fill("#confirm", "a long new password")
    newbie.click("form.form button[type=submit]")
    expect(newbie).to_have_url(re.compile(r"/login$"), timeout=T)
    expect(newbie.locator(".alert-success")).to_have_text("Your password is set. You can log in now.")

    log_in(newbie, "bartek@example.com", "a long new password")
    expect(newbie.locator("h1")).to_have_text("Hello, Bartek")
    open_menu(newbie)
    expect(newbie.locator("#menu-settings")).to_have_count(0)  # an agent, as invited

    newbie.goto(link)  # the link works once
    expect(newbie.locator("h1")).to_have_text("This link is no longer valid", timeout=T)

    admin.reload()
    expect(admin.locator("tr", has_text="bartek@example.com")).not_to_contain_text("Invitation pending")


# -- 4. live status ----------------------------------------------------------------------
def test_agent_status_reaches_the_admin_dashboard_within_a_second(make_user, new_context, record_property):
    make_user(ADMIN, role="admin", name="Anna Admin")
    agent_id = make_user(AGENT, name="Piotr Agent")
    admin = log_in(new_context().new_page(), ADMIN)
    agent = log_in(new_context().new_page(), AGENT)
    seen_by_admin = pill(admin, agent_id)
    expect(seen_by_admin).to_have_class(re.compile(r"\bpill-offline\b"))
    expect(admin.locator("#count-online")).to_have_text("0")

    latencies = {}
    for status, label in (("online", "Online"), ("break", "Break")):
        clicked = set_status(agent, status)
        expect(seen_by_admin).to_have_class(re.compile(rf"\bpill-{status}\b"), timeout=3000)
        latencies[status] = time.monotonic() - clicked
        expect(seen_by_admin).to_have_text(label)
        expect(agent.locator("#dash-status")).to_have_text(label, timeout=T)
        expect(agent.locator("#my-status-dot")).to_have_class(f"status-dot status-{status}")
        expect(agent.locator("#user-menu")).to_be_hidden()
        expect(agent.locator(f".status-option[data-status={status}]")).to_have_attribute("aria-checked", "true")
        expect(admin.locator(f"#count-{status}")).to_have_text("1")

    record_property("status_latency_s", {k: round(v, 3) for k, v in latencies.items()})
    print(f"\nstatus latency (click -> admin pill): "
          + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in latencies.items()))
    for status, seconds in latencies.items():
        assert seconds < 1.0, f"{status} took {seconds:.3f} s to reach the admin's dashboard"

    agent.reload()  # the server kept it, not only the page
    expect(agent.locator("#dash-status")).to_have_text("Break", timeout=T)


# -- 5. permissions ----------------------------------------------------------------------
def test_agent_gets_403_on_settings_and_has_no_settings_link(make_user, new_context):
    make_user(AGENT, name="Piotr Agent")
    page = log_in(new_context().new_page(), AGENT)

    open_menu(page)
    expect(page.get_by_role("menuitem", name="My profile")).to_be_visible()
    expect(page.locator("#menu-settings")).to_have_count(0)
    expect(page.get_by_role("menuitem", name="Settings")).to_have_count(0)

    for url in ("/settings/users", "/settings/users/new", "/settings/audit"):
        response = page.goto(url)
        assert response.status == 403, url
        expect(page.locator(".error-code")).to_have_text("403")
        expect(page.locator("h1")).to_have_text("You do not have permission to open this page.")
    page.click("a.btn-primary")
    expect(page).to_have_url(re.compile(r"^http://[^/]+/$"), timeout=T)


# -- 6. notification drawer --------------------------------------------------------------
def test_notification_shows_in_drawer_and_ignore_removes_it(app, database, make_user, new_context):
    from zoneinfo import ZoneInfo

    from centrala.models import Notification

    agent_id = make_user(AGENT, name="Piotr Agent")
    # a browser away from UTC: the item's time must be shown in the agent's own time zone
    page = log_in(new_context(timezone_id="Europe/Warsaw").new_page(), AGENT)
    set_status(page, "online")
    expect(page.locator("#dash-status")).to_have_text("Online", timeout=T)
    badge = page.locator("#badge-incoming")
    expect(badge).to_be_hidden()
    expect(page.locator("#drawer")).to_be_hidden()

    with app.app_context():
        from web.extensions import dbs
        from web.notifications.services import push

        [item] = push(dbs(), [agent_id], "chat", "Visitor asks about prices")
        item_id = item.id
        local_time = item.created_at.astimezone(ZoneInfo("Europe/Warsaw")).strftime("%I:%M %p")

    entry = page.locator(f'#drawer-list li.item[data-id="{item_id}"]')
    expect(entry).to_have_count(1, timeout=T)
    expect(entry.locator(".item-title")).to_have_text("Visitor asks about prices")
    expect(entry.locator(".channel-icon")).to_have_text("Chat")
    expect(entry.locator("time")).to_have_text(local_time)
    expect(badge).to_be_visible(timeout=T)
    expect(badge).to_have_text("1")
    expect(page.locator("#toasts .toast")).to_have_text("New: Visitor asks about prices", timeout=T)

    page.reload()  # the same item again, this time from the connect snapshot (read back from the db)
    expect(page.locator("body[data-connected='1']")).to_have_count(1, timeout=T)
    expect(entry).to_have_count(1, timeout=T)
    expect(entry.locator("time")).to_have_text(local_time)
    expect(badge).to_have_text("1")

    page.click("#drawer-toggle")
    expect(page.locator("#drawer")).to_be_visible(timeout=T)
    expect(entry).to_be_visible()
    expect(page.locator("#drawer-empty")).to_be_hidden()
    open_menu(page)  # one pop-up at a time
    expect(page.locator("#drawer")).to_be_hidden()
    page.click("#drawer-toggle")
    expect(page.locator("#drawer")).to_be_visible(timeout=T)
    expect(page.locator("#user-menu")).to_be_hidden()

    entry.locator("[data-action=ignore]").click()
    expect(page.locator("#drawer-list li.item")).to_have_count(0, timeout=T)
    expect(badge).to_be_hidden(timeout=T)
    expect(page.locator("#drawer-empty")).to_be_visible()
    with database.session() as s:
        assert s.get(Notification, item_id).state == "ignored"

    page.reload()  # still gone after a fresh snapshot
    expect(page.locator("body[data-connected='1']")).to_have_count(1, timeout=T)
    expect(page.locator("#drawer-list li.item")).to_have_count(0)
    expect(badge).to_be_hidden()


# -- 7. screenshots for the visual review ------------------------------------------------
def test_screenshots(app, make_user, new_context):
    SHOTS.mkdir(exist_ok=True)
    admin_id = make_user(ADMIN, role="admin", name="Anna Admin")
    make_user(AGENT, name="Piotr Agent")
    make_user("maria.kowalska-wisniewska@example.com", name="Maria Kowalska-Wiśniewska")

    def shot(page, name):
        path = SHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        assert path.stat().st_size > 5000, name

    for locale, lang in (("en-US", "en"), ("pl-PL", "pl")):
        p = new_context(locale=locale).new_page()
        p.goto("/login")
        expect(p.locator("html")).to_have_attribute("lang", lang)
        shot(p, f"01-login-{lang}")

    admin = log_in(new_context().new_page(), ADMIN)
    expect(admin.locator("#people .person")).to_have_count(3)
    shot(admin, "02-dashboard-admin")

    open_menu(admin)
    shot(admin, "03-user-menu")
    admin.keyboard.press("Escape")
    expect(admin.locator("#user-menu")).to_be_hidden()

    with app.app_context():
        from web.extensions import dbs
        from web.notifications.services import push

        push(dbs(), [admin_id], "chat", "Visitor asks about prices")
    expect(admin.locator("#badge-incoming")).to_have_text("1", timeout=T)
    admin.click("#drawer-toggle")
    expect(admin.locator("#drawer-list li.item")).to_be_visible(timeout=T)
    shot(admin, "04-drawer")
    admin.click("#drawer-close")
    expect(admin.locator("#drawer")).to_be_hidden()

    admin.goto("/settings/users")
    expect(admin.locator("#user-count")).to_have_text("3/10")
    shot(admin, "05-settings-users")

    admin.goto("/settings/users/new")
    expect(admin.locator("#name")).to_be_visible()
    shot(admin, "06-add-user")

    admin.goto("/profile")
    expect(admin.locator("h1")).to_have_text("My profile")
    shot(admin, "07-profile")

    agent = log_in(new_context().new_page(), AGENT)
    assert agent.goto("/settings/users").status == 403
    shot(agent, "08-forbidden")


# -- 8. the call card's buttons (VOI-9) ----------------------------------------------------
def test_call_card_holds_and_transfers_with_a_consultation(app, database, make_user, new_context):
    """The controller is not running here: the test plays its part on the bus (the events it
    would publish) and checks what the card asks of it."""
    from datetime import datetime, timezone

    from agents import events
    from centrala.models import Communication
    from tests.helpers import EventRecorder

    bus = app.extensions["centrala.bus"]
    recorder = EventRecorder(bus)
    agent_id = make_user(AGENT, name="Piotr Agent")
    make_user("bob@example.com", name="Bob Nowak")
    with database.session() as s:
        call = Communication(channel="voice", direction="inbound", outcome="in_progress", remote="+48600100200",
                             agent_id=agent_id, agents_rung=[agent_id], note="", pbx_id="pbx-7",
                             answered_at=datetime.now(timezone.utc))
        s.add(call)
        s.flush()
        comm_id = call.id
    page = log_in(new_context().new_page(), AGENT)
    expect(page.locator("body[data-connected='1']")).to_have_count(1, timeout=T)
    card = page.locator("#call-card")
    ids = {"user_id": agent_id, "call_id": "pbx-7", "communication_id": comm_id}
    bus.publish(events.AGENT_RINGING, caller="+48600100200", **ids)
    expect(card.locator("#call-state")).to_have_text("Incoming call", timeout=T)
    expect(page.locator("#toasts .toast")).to_have_text("Incoming call from +48600100200", timeout=T)
    expect(card.locator("[data-call=hold]")).to_be_hidden()
    bus.publish(events.CALL_CONNECTED, **ids)
    expect(card.locator("#call-state")).to_have_text("On a call", timeout=T)

    card.locator("[data-call=hold]").click()
    recorder.wait(events.CALL_HOLD_REQUESTED, 3, communication_id=comm_id, hold=True)
    bus.publish(events.CALL_HELD, held=True, **ids)
    expect(card.locator("#call-state")).to_have_text("On hold", timeout=T)
    expect(card.locator("[data-call=hold]")).to_be_hidden()
    shot_path = SHOTS / "08-call-card-held.png"
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(shot_path))
    card.locator("[data-call=unhold]").click()
    recorder.wait(events.CALL_HOLD_REQUESTED, 3, communication_id=comm_id, hold=False)
    bus.publish(events.CALL_HELD, held=False, **ids)
    expect(card.locator("#call-state")).to_have_text("On a call", timeout=T)

    card.locator("[data-call=open-transfer]").click()
    expect(page.locator("#call-transfer")).to_be_visible(timeout=T)
    expect(page.locator("#transfer-agent option")).to_have_count(2, timeout=T)  # "choose" + Bob
    page.select_option("#transfer-agent", label="Bob Nowak · Offline")
    page.screenshot(path=str(SHOTS / "09-call-card-transfer.png"))
    page.locator("#call-transfer button[type=submit]").click()
    start = recorder.wait(events.CALL_CONSULT_REQUESTED, 3, communication_id=comm_id, step="start")
    assert start.data["label"] == "Bob Nowak"
    expect(page.locator("#call-transfer")).to_be_hidden(timeout=T)
    bus.publish(events.CALL_CONSULTING, state="consulting", label="Bob Nowak", **ids)
    expect(card.locator("#call-state")).to_have_text("Consulting Bob Nowak", timeout=T)
    card.locator("[data-call=complete]").click()
    recorder.wait(events.CALL_CONSULT_REQUESTED, 3, communication_id=comm_id, step="complete")
    card.locator("[data-call=open-note]").click()
    page.fill("#call-note-text", "Wants a <b>callback</b> on Monday")
    page.keyboard.press("Control+Enter")
    expect(page.locator("#call-note-saved")).to_have_text("Note saved.", timeout=T)
    with database.session() as s:
        assert s.get(Communication, comm_id).note == "Wants a <b>callback</b> on Monday"
    bus.publish(events.CALL_CONSULTING, state="completed", label="Bob Nowak", **ids)
    expect(card.locator("#call-state")).to_have_text("Transferred to Bob Nowak", timeout=T)
    page.wait_for_timeout(4500)  # the card stays while the note is open (it would hide after 4 s)
    expect(card).to_be_visible()
    page.goto(f"/history/{comm_id}")
    expect(page.locator("#note")).to_have_value("Wants a <b>callback</b> on Monday", timeout=T)


# -- 9. the caller's contact on the card; click-to-call from a contact (VOI-2, COM-2, COM-4) ------
def test_ringing_card_names_the_contact_and_a_contact_can_be_called(app, database, make_user, new_context):
    from agents import events
    from centrala.contacts import ContactData, create
    from centrala.models import Number, Trunk
    from tests.helpers import EventRecorder

    bus = app.extensions["centrala.bus"]
    recorder = EventRecorder(bus)
    agent_id = make_user(AGENT, name="Piotr Agent", channels=("voice_in", "voice_out"))
    with database.session() as s:
        jan = create(s, ContactData(first_name="Jan", last_name="Kowalski", phones=[("600 100 200", "mobile")]))
        s.flush()
        jan_id = jan.id
        t = Trunk(name="gsm1", host="10.0.0.9", port=5060, enabled=True)
        s.add(t)
        s.flush()
        s.add(Number(number="+48221234567", trunk_id=t.id, kind="gsm", label="", enabled=True))
    page = log_in(new_context().new_page(), AGENT)
    expect(page.locator("body[data-connected='1']")).to_have_count(1, timeout=T)
    card = page.locator("#call-card")
    # the carrier sends the number without '+': still Jan
    bus.publish(events.AGENT_RINGING, user_id=agent_id, call_id="pbx-9", caller="48600100200", communication_id=901)
    expect(page.locator("#toasts .toast")).to_have_text("Incoming call from Jan Kowalski (48600100200)", timeout=T)
    expect(card.locator("#call-who")).to_have_text("Jan Kowalski · 48600100200")
    expect(card.locator("#call-contact")).to_have_text("Open contact")
    expect(card.locator("#call-contact")).to_have_attribute("href", f"/contacts/{jan_id}")
    bus.publish(events.CALL_LOGGED, call_id="pbx-9", outcome="missed", communication_id=901)
    expect(card.locator("#call-state")).to_have_text("Call ended", timeout=T)
    expect(card).to_be_hidden(timeout=6000)
    bus.publish(events.AGENT_RINGING, user_id=agent_id, call_id="pbx-10", caller="+48500999888", communication_id=902)
    expect(card.locator("#call-contact")).to_have_text("Add to contacts", timeout=T)
    expect(card.locator("#call-contact")).to_have_attribute("href", "/contacts/new?phone=%2B48500999888")
    # a transfer that rang this agent and was not completed: only this agent's card closes
    bus.publish(events.AGENT_LEFT_CALL, user_id=agent_id, call_id="pbx-10", communication_id=902)
    expect(card.locator("#call-state")).to_have_text("Call ended", timeout=T)
    expect(card).to_be_hidden(timeout=6000)

    page.goto(f"/contacts/{jan_id}")
    page.locator("[data-dial]").first.click()
    req = recorder.wait(events.CALL_REQUESTED, 5)
    assert req.data["number"] == "+48600100200" and req.data["our_number"] == "+48221234567"
    expect(card.locator("#call-state")).to_have_text("Calling…", timeout=T)
    expect(card.locator("#call-who")).to_have_text("Jan Kowalski · +48600100200")


# -- History search and filters (HIS-2) ------------------------------------------------------
def test_history_search_by_keyboard_and_filters(app, database, make_user, new_context):
    from datetime import datetime, timedelta, timezone

    from centrala.contacts import ContactData, create
    from centrala.models import Communication

    agent_id = make_user(AGENT, name="Piotr Agent")
    now = datetime.now(timezone.utc)
    with database.session() as s:
        create(s, ContactData(first_name="Jan", last_name="Kowalski", phones=[("600 100 200", "mobile")]))
        for i in range(6):
            s.add(Communication(channel="voice", direction="inbound", outcome=("answered", "missed")[i % 2],
                                remote="48600100200" if i < 2 else f"+4850012345{i}", agent_id=agent_id if i % 2 == 0 else None,
                                agents_rung=[agent_id], note="Reklamacja okna" if i == 3 else "",
                                started_at=now - timedelta(hours=i)))
    page = log_in(new_context().new_page(), AGENT)
    page.goto("/history")
    expect(page.locator("#history tbody tr")).to_have_count(6, timeout=T)
    page.fill("#hf-q", "Kowalski")
    page.keyboard.press("Enter")
    expect(page.locator("#history tbody tr")).to_have_count(2, timeout=T)
    expect(page.locator("#history-total")).to_have_text("2 entries")
    page.locator(".filters .chip-link", has_text="Missed").click()
    expect(page.locator("#history tbody tr")).to_have_count(1, timeout=T)
    expect(page.locator("#hf-q")).to_have_value("Kowalski")      # the chip kept the search
    page.fill("#hf-q", "reklamacja")
    page.select_option("#hf-agent", label="Piotr Agent")
    page.locator("#history-filters button[type=submit]").click()
    expect(page.locator(".empty-title")).to_have_text("Nothing matches these filters", timeout=T)
    SHOTS.mkdir(exist_ok=True)
    page.locator("#hf-clear").click()
    expect(page.locator("#history tbody tr")).to_have_count(6, timeout=T)
    page.fill("#hf-q", "600 100 200")
    page.keyboard.press("Enter")
    expect(page.locator("#history tbody tr")).to_have_count(2, timeout=T)
    # the rows name the contact (the carrier sent the number without '+'), linked to it
    expect(page.locator("#history tbody tr .contact-link")).to_have_text(["Jan Kowalski", "Jan Kowalski"])
    page.screenshot(path=str(SHOTS / "20-history-search.png"))
