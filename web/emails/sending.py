"""Registers the email sending side in the web app (issue 13): the conversation page, New email,
attachment downloads (``views``), the REST twins (``api``), and the outbox among the app's
background loops (``centrala.emails.outbox.loop``; the mail worker may run it too: claims keep
two runners from sending a message twice)."""
from __future__ import annotations


def init_app(app, start_background: bool = True) -> None:
    from centrala.emails import outbox

    from .. import background
    from ..extensions import csrf
    from .api import bp as api_bp
    from .views import bp

    from ..files.services import size

    app.jinja_env.filters.setdefault("human_size", size)   # 18 B, 8,44 KB (as Files shows sizes)
    db = app.extensions["centrala.db"]
    outbox.bind(db, app.extensions["centrala.settings"])
    app.register_blueprint(bp)
    app.register_blueprint(api_bp)
    csrf.exempt(api_bp)  # bearer tokens, no cookies: nothing to forge
    if start_background:
        interval = float(app.config.get("EMAIL_OUTBOX_INTERVAL", 2.0))
        background.start(app, outbox.loop, db, app.extensions["centrala.stop"], interval)
