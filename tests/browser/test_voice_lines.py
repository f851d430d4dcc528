"""Settings / Voice / Trunks and Numbers in a real browser (headless Debian Chromium): an
administrator adds a trunk and a number with business hours; screenshots in ``screenshots/``."""
from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from .conftest import log_in

pytestmark = [pytest.mark.db, pytest.mark.browser]

SHOTS = Path(__file__).resolve().parents[2] / "screenshots"
ADMIN = "vera.voice@example.com"


def test_admin_adds_a_trunk_and_a_number_with_business_hours(app, make_user, new_context, database):
    from centrala.models import Number

    SHOTS.mkdir(exist_ok=True)
    make_user(ADMIN, role="admin", name="Vera Voice")

    def shot(page, name):
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)

    page = log_in(new_context().new_page(), ADMIN)
    page.goto("/settings/voice/numbers")
    expect(page.locator("#no-numbers")).to_contain_text("Add a trunk first")
    page.click("#no-numbers a")
    page.fill("#name", "gsm gateway")
    page.fill("#host", "192.0.2.10")
    page.fill("#port", "5062")
    page.fill("#username", "centrala")
    page.fill("#password", "s3cret")
    page.click("form.form button[type=submit]")
    expect(page.locator("#name-error")).to_contain_text("letters, digits")
    shot(page, "voice-10-trunk-form-error")
    page.fill("#name", "gsm-gateway")
    page.fill("#password", "s3cret")
    page.click("form.form button[type=submit]")
    expect(page.locator("#trunks")).to_contain_text("192.0.2.10:5062")
    expect(page.locator(".alert-success")).to_contain_text("Trunk gsm-gateway saved")
    shot(page, "voice-11-trunks")

    page.click("a.chip-link:has-text('Numbers')")
    page.click("#add-number")
    page.fill("#number", "22 123 45 67")
    page.fill("#label", "Sales")
    page.select_option("#record", "on")
    page.check("#use_hours")
    page.check("#sat_on")
    page.fill("input[name=sat_open]", "10:00")
    page.fill("input[name=sat_close]", "13:00")
    shot(page, "voice-12-number-form")
    page.click("form.form button[type=submit]")
    expect(page.locator("#numbers")).to_contain_text("+48221234567")
    expect(page.locator("#numbers")).to_contain_text("Mon–Fri 08:00–16:00, Sat 10:00–13:00")
    shot(page, "voice-13-numbers")
    with database.session() as s:
        n = s.query(Number).one()
        assert n.record_calls is True and n.hours["sat"] == ["10:00", "13:00"] and n.hours["sun"] is None

    page.goto("/settings/voice/general")
    expect(page.locator("#voice_inbound")).to_be_checked()
    shot(page, "voice-14-general")

    pl = log_in(new_context(locale="pl-PL").new_page(), ADMIN)
    pl.goto("/settings/voice/numbers")
    expect(pl.locator("#numbers")).to_contain_text("Pon–Pią 08:00–16:00")
    shot(pl, "voice-15-numbers-pl")
    pl.goto("/settings/voice/trunks")
    shot(pl, "voice-16-trunks-pl")
