"""Issue 12, defect 5: every panel page and the widget run under their Content-Security-Policy
with nothing blocked (the ``new_context`` fixture collects violations and fails the test)."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from web.chat import services as svc

from .conftest import log_in
from .test_chat_widget import Website, widget

pytestmark = [pytest.mark.browser, pytest.mark.db]

# the panel's pages without parameters, from the URL map (JSON twins and downloads left out)
SKIP = ("/api/", "/static/", "/healthz", "/logout", "/contacts/export", "/supervisor/queue.json",
        "/calls/transfer-targets", "/contacts/match", "/tasks/contacts", "/files/picker",
        "/settings/email/oauth/callback")   # the provider's redirect target: 400 without its code and state


def _pages(app) -> list[str]:
    return sorted(r.rule for r in app.url_map.iter_rules()
                  if "GET" in r.methods and not r.arguments and not r.rule.startswith(SKIP))


def test_watcher_reports_a_blocked_inline_script(new_context, make_user, csp_violations):
    make_user("boss@example.com", role="admin")
    page = log_in(new_context().new_page(), "boss@example.com")
    page.evaluate("""() => { const s = document.createElement("script");
                             s.textContent = "window.__ran = 1"; document.body.append(s); }""")
    page.wait_for_function("() => window.__cspSeen > 0")
    assert page.evaluate("window.__ran") is None
    page.evaluate("() => 0")   # one more round trip: the binding's report has arrived
    assert any("script-src" in v for v in csp_violations), csp_violations
    csp_violations.clear()   # the control worked; the rest of the run must stay clean


def test_every_panel_page_passes_its_csp(app, new_context, make_user, csp_violations, live_server):
    make_user("boss@example.com", role="admin", name="Barbara Boss")
    page = log_in(new_context().new_page(), "boss@example.com")
    pages = _pages(app)
    assert "/settings/users" in pages and "/profile" in pages and "/supervisor/queue" in pages
    for path in pages:
        resp = page.goto(path)
        assert resp.status < 400, path
        csp = resp.headers.get("content-security-policy", "")
        assert "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp, path
        page.wait_for_load_state("load")
    assert not csp_violations, csp_violations
    with page.expect_response(lambda r: r.url.endswith("/supervisor/queue.json")):
        page.goto("/supervisor/queue")   # its refresh script, now a static file, still runs


def test_widget_passes_its_csp(new_context, database, web_settings, live_server, csp_violations):
    with database.session() as s:
        key = svc.get_settings(s)["key"]
    site = Website(svc.snippet(web_settings.base_url, key))
    try:
        with database.session() as s:
            svc.save_settings(s, {"website": site.url + "/", "origins": [site.url], "color": "#115599"})
        visitor = new_context().new_page()
        visitor.goto(site.url + "/")
        launcher = widget(visitor).locator(".launcher")
        expect(launcher).to_be_visible()
        # the brand colour reaches the widget without an inline style attribute
        expect(launcher).to_have_css("background-color", "rgb(17, 85, 153)")
        launcher.click()
        expect(widget(visitor).locator("textarea[name=message]")).to_be_visible()   # the contact form: nobody is online
        assert not csp_violations, csp_violations
    finally:
        site.close()
