"""Security headers on every answer (issue 12, defect 5): a small after-request hook.

- The panel's Content-Security-Policy allows only this site's own scripts, styles, images,
  media and sockets: no inline script or style (data for scripts travels in
  ``<script type="application/json">`` blocks, which are not executed), no plugins, no
  ``<base>``, forms only to this site, and no framing (``frame-ancestors 'none'`` and
  ``X-Frame-Options: DENY``): no other site can frame Settings.
- The widget frame (``web/chat/http.py``) sets its own policy, whose ``frame-ancestors`` are
  the chat settings' allowed origins; answers that bring their own policy keep it.
- Everywhere: ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: same-origin`` (the widget
  frame: ``no-referrer``), HSTS when the public URL is https.

Flask-Talisman would do the same with more options than we use; its maintained fork adds a
dependency for about thirty lines, so the hook is ours (docs/security.md).
"""
from __future__ import annotations

from flask import request

HSTS = "max-age=31536000"


def websocket_origin() -> str:
    """This site's websocket origins (CSP 'self' covers ws:/wss: only in newer browsers; both
    schemes, as a TLS proxy not listed as trusted leaves the request looking like http)."""
    return f"ws://{request.host} wss://{request.host}"


def panel_policy() -> str:
    return "; ".join((
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob:",
        "font-src 'self'",
        f"connect-src 'self' {websocket_origin()}",
        "frame-src 'self'",
        "frame-ancestors 'none'",
        "form-action 'self'",
        "base-uri 'none'",
        "object-src 'none'",
    ))


def widget_policy(ancestors: list[str]) -> str:
    """The widget frame's policy: framed only by the chat settings' allowed origins (any site
    while the list is empty, as the chat settings say), its own scripts, styles and socket."""
    return "; ".join((
        f"frame-ancestors {' '.join(ancestors) if ancestors else '*'}",
        "default-src 'self'",
        "img-src 'self' data:",
        "style-src 'self'",
        "script-src 'self'",
        f"connect-src 'self' {websocket_origin()}",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'none'",
    ))


def install(app, settings) -> None:
    https = settings.base_url.startswith("https://")

    @app.after_request
    def security_headers(resp):
        h = resp.headers
        if "Content-Security-Policy" not in h:   # the widget frame brings its own
            h["Content-Security-Policy"] = panel_policy()
            h.setdefault("X-Frame-Options", "DENY")
        h.setdefault("X-Content-Type-Options", "nosniff")
        h.setdefault("Referrer-Policy", "same-origin")
        if https:
            h.setdefault("Strict-Transport-Security", HSTS)
        return resp
