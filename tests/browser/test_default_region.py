"""Settings / General: the default phone region (CON-4) in a real browser (headless Chromium)."""
from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from .conftest import log_in

pytestmark = [pytest.mark.db, pytest.mark.browser]

SHOTS = Path(__file__).resolve().parents[2] / "screenshots"
T = 5000


def test_admin_picks_the_region_by_country_name(make_user, new_context):
    make_user("boss@example.com", role="admin", name="Barbara Boss")
    page = log_in(new_context(locale="pl-PL").new_page(), "boss@example.com")
    page.goto("/settings/general")
    select = page.locator("#default_region")
    expect(select).to_have_value("PL")
    expect(select.locator("option:checked")).to_have_text("Polska (+48)")
    # the keyboard: focus the list and type the country's name
    select.focus()
    page.keyboard.type("Niem")
    expect(select).to_have_value("DE")
    SHOTS.mkdir(exist_ok=True)
    page.locator("#region").screenshot(path=str(SHOTS / "settings-default-region.png"))
    page.click("#region button[type=submit]")
    expect(page.locator(".alert-success")).to_have_text(
        "Zapisano. Numery bez prefiksu kraju są teraz odczytywane jako numery kraju: Niemcy (+49).", timeout=T)
    expect(page.locator("#default_region")).to_have_value("DE")
    page.evaluate("window.scrollTo(0, 0)")   # the sticky top bar stays on top in a full-page shot
    page.screenshot(path=str(SHOTS / "settings-general-region.png"), full_page=True)
