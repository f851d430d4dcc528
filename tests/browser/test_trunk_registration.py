"""Settings / Voice / Trunks in a real browser: an administrator switches on "Register with the
carrier"; the list shows the registration state and follows it live (VOI-1).  Screenshots in
``screenshots/``."""
from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from .conftest import log_in

pytestmark = [pytest.mark.db, pytest.mark.browser]

SHOTS = Path(__file__).resolve().parents[2] / "screenshots"
ADMIN = "rita.register@example.com"


def test_admin_makes_a_trunk_register_and_sees_its_state_live(app, make_user, new_context, database):
    from centrala import telephony

    SHOTS.mkdir(exist_ok=True)
    make_user(ADMIN, role="admin", name="Rita Register")

    def shot(page, name):
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)

    page = log_in(new_context().new_page(), ADMIN)
    page.goto("/settings/voice/trunks/new")
    page.fill("#name", "operator")
    page.fill("#host", "192.0.2.44")
    page.fill("#username", "48221234567")
    page.check("#register")
    page.click("form.form button[type=submit]")
    expect(page.locator("#password-error")).to_contain_text("enter the user name and password")
    expect(page.locator("#register")).to_be_checked()
    shot(page, "trunkreg-10-form-error")
    page.fill("#password", "s3cret")
    page.click("form.form button[type=submit]")
    cell = page.locator("#trunks td.trunk-registration")
    expect(cell).to_contain_text("Trying…")
    shot(page, "trunkreg-20-trying")
    telephony.store_registrations(database, {"operator": "Registered"})   # as the pbx controller would
    expect(cell.locator(".pill-reg-registered")).to_have_text("Registered", timeout=8000)
    shot(page, "trunkreg-30-registered")
    telephony.store_registrations(database, {"operator": "Rejected"})
    expect(cell.locator(".pill-reg-rejected")).to_have_text("Rejected", timeout=8000)
