"""Settings / Webhooks in the browser (BEY-1): add one with the keyboard, see the secret once,
send a test to a real local receiver and see its delivery.  Screenshots land in ``screenshots/``."""
from pathlib import Path

import pytest
from playwright.sync_api import expect

from web.webhooks import worker

from ..helpers import wait_for
from ..test_webhooks import Receiver
from .conftest import log_in

pytestmark = pytest.mark.browser
SHOTS = Path(__file__).resolve().parents[2] / "screenshots"


def test_add_webhook_secret_once_and_test_delivery(app, live_server, new_context, make_user):
    app.config.update(WEBHOOK_BACKOFF=(0.2,), WEBHOOK_TIMEOUT=2.0)
    worker.start(app, interval=0.1)
    make_user("boss@example.com", role="admin", name="Barbara Boss")
    r = Receiver(codes=(500, 200))
    try:
        page = log_in(new_context().new_page(), "boss@example.com")
        page.goto("/settings/webhooks/")
        expect(page.locator(".empty-title")).to_have_text("No webhooks yet")
        page.click("#add-webhook")
        expect(page.locator("#url")).to_be_focused(timeout=5000)   # the form is there, typing starts in it
        page.keyboard.press("Enter")   # nothing filled in: both messages, nothing lost
        expect(page.locator("#url-error")).to_have_text("Enter the address to send events to.")
        expect(page.locator("#events-error")).to_have_text("Choose at least one event.")
        page.fill("#url", r.url)
        page.check("input[value='call.logged']")
        page.check("input[value='chat.closed']")
        page.click(".settings-body button[type=submit]")
        expect(page.locator("#secret")).to_contain_text("whsec_")
        page.click("#send-test")
        r.wait(2)   # failed once, then answered 200; the worker records it just after the answer

        def delivered():
            page.reload()
            return "Delivered" in page.locator("#deliveries").inner_text()
        wait_for(delivered, 5, interval=0.2, what="the delivery shown as delivered")
        expect(page.locator("#secret")).to_have_count(0)
        expect(page.locator("#secret-masked")).to_be_visible()
        expect(page.locator("#deliveries tbody tr")).to_have_count(1)
        expect(page.locator("#deliveries")).to_contain_text("Delivered")
        SHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SHOTS / "webhook.png"), full_page=True)
        page.goto("/settings/webhooks/")
        expect(page.locator("#webhooks tbody tr")).to_have_count(1)
        page.screenshot(path=str(SHOTS / "webhooks.png"), full_page=True)
    finally:
        r.close()
