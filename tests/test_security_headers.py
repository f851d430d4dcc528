"""Issue 12, defect 5: security headers on the panel and the widget; no inline script or style
left in the templates (the CSP allows none); no server banner."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import requests

from web import create_app
from web.chat import services as svc

from .helpers import instance_settings

pytestmark = pytest.mark.db
TEMPLATES = Path(__file__).resolve().parent.parent / "web" / "templates"


def test_panel_pages_carry_the_headers(admin, app):
    for path in ("/login", "/", "/settings/users", "/profile", "/static/panel.js", "/nope"):
        r = admin.get(path)
        h = r.headers
        csp = h["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "style-src 'self'" in csp, path
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp and "object-src 'none'" in csp
        assert "connect-src 'self' ws://localhost wss://localhost;" in csp
        assert h["X-Frame-Options"] == "DENY" and h["X-Content-Type-Options"] == "nosniff"
        assert h["Referrer-Policy"] == "same-origin"
        assert "Strict-Transport-Security" not in h   # the public URL is http here


def test_hsts_when_the_public_url_is_https(tmp_path, database):
    app = create_app(instance_settings(tmp_path / "data", database.url, CENTRALA_PUBLIC_URL="https://cc.example.com"),
                     db=database, start_background=False)
    r = app.test_client().get("/login", base_url="https://cc.example.com")
    assert r.headers["Strict-Transport-Security"] == "max-age=31536000"
    assert "connect-src 'self' ws://cc.example.com wss://cc.example.com;" in r.headers["Content-Security-Policy"]


def test_widget_frame_may_be_framed_only_by_the_allowed_origins(app, database):
    with database.session() as s:
        key = svc.get_settings(s)["key"]
        svc.save_settings(s, {"origins": ["https://shop.example.com", "https://www.shop.example.com"]})
    r = app.test_client().get(f"/widget/{key}/frame?o=https://shop.example.com")
    assert r.status_code == 200
    csp = r.headers["Content-Security-Policy"]
    assert csp.startswith("frame-ancestors https://shop.example.com https://www.shop.example.com;")
    assert "unsafe-inline" not in csp and "script-src 'self'" in csp
    assert "X-Frame-Options" not in r.headers          # it would forbid what frame-ancestors allows
    assert r.headers["Referrer-Policy"] == "no-referrer" and r.headers["X-Content-Type-Options"] == "nosniff"
    loader = app.test_client().get(f"/widget/{key}/loader.js", headers={"Referer": "https://shop.example.com/"})
    assert loader.headers["X-Content-Type-Options"] == "nosniff"
    assert loader.headers["Content-Type"].startswith(("application/javascript", "text/javascript"))


def test_templates_have_no_inline_script_style_or_handlers():
    """What the CSP would block: found here by name rather than in a browser by chance."""
    problems = []
    for f in TEMPLATES.rglob("*.html"):
        if f.name.startswith("email"):   # emails are read by mail clients, never served
            continue
        text = f.read_text()
        for m in re.finditer(r"<script\b([^>]*)>", text):
            attrs = m.group(1)
            if "src=" not in attrs and 'type="application/json"' not in attrs:
                problems.append(f"{f.relative_to(TEMPLATES)}: inline <script>")
        if re.search(r"\sstyle=", text) or "<style" in text:
            problems.append(f"{f.relative_to(TEMPLATES)}: inline style")
        if re.search(r"\son[a-z]+=", text):
            problems.append(f"{f.relative_to(TEMPLATES)}: inline event handler")
        if "javascript:" in text:
            problems.append(f"{f.relative_to(TEMPLATES)}: javascript: URL")
    assert not problems, problems


def test_no_server_banner(live_server):
    r = requests.get(live_server.url + "/login", timeout=5)
    assert r.status_code == 200 and "Werkzeug" not in r.headers.get("Server", "") and "Python" not in r.headers.get("Server", "")
