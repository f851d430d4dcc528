"""Flask application factory (Flask's tutorial convention): ``create_app(settings)``."""
from __future__ import annotations

from pathlib import Path

from flask import Flask, jsonify, render_template, request
from flask_socketio import SocketIO

from agents.events import EventBus
from agents.presence import PresenceTracker
from centrala.config import Settings
from centrala.db import Database
from centrala.secretbox import SecretBox

from . import routing
from .extensions import babel, close_dbs, csrf, login_manager
from .i18n import select_locale

HERE = Path(__file__).resolve().parent


def create_app(settings: Settings | None = None, db: Database | None = None,
               bus: EventBus | None = None, start_background: bool = True) -> Flask:
    settings = settings or Settings.load()
    settings.ensure_dirs()
    app = Flask(__name__)
    routing.install(app)   # before any route: ids beyond the databases' integers are 404
    app.config.update(
        SECRET_KEY=settings.secrets.flask_secret_key,
        SESSION_COOKIE_NAME="centrala_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.base_url.startswith("https://"),
        REMEMBER_COOKIE_HTTPONLY=True,
        WTF_CSRF_TIME_LIMIT=None,   # the token lives as long as the session
        BABEL_DEFAULT_LOCALE="en",
        BABEL_TRANSLATION_DIRECTORIES=str(HERE / "translations"),
        MAX_CONTENT_LENGTH=64 * 1024 * 1024,
    )
    app.extensions["centrala.settings"] = settings
    # set to stop this app's background loops (tests build many apps on one database)
    app.extensions["centrala.stop"] = __import__("threading").Event()
    app.extensions["centrala.background"] = []   # their threads (web/background.py)
    db = db or Database.for_settings(settings)
    if db.secret_box is None:   # SIP and trunk passwords are sealed with the data dir's key
        db.use_secret_box(SecretBox.for_settings(settings))
    app.extensions["centrala.db"] = db
    app.extensions["centrala.bus"] = bus or EventBus()
    if bus is None and settings.redis_url:
        from centrala.eventbridge import RedisBridge  # web and pbx in separate processes

        app.extensions["centrala.bridge"] = RedisBridge(app.extensions["centrala.bus"], settings.redis_url)
    app.extensions["centrala.presence"] = PresenceTracker(settings.presence_grace_seconds)

    csrf.init_app(app)
    login_manager.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    from . import labels

    labels.init_app(app)   # the conversation vocabulary's labels for every template
    from flask_babel import get_locale

    app.jinja_env.globals["get_locale"] = get_locale
    # async_mode='threading' on purpose: eventlet/gevent monkey-patching breaks the pbx
    # controller's asyncio loop in the same process (docs/architecture.md).  Same-origin
    # sockets only (the default): a foreign page cannot ride an agent's session cookie.
    SocketIO(app, async_mode="threading", message_queue=settings.redis_url or None,
             channel="flask-socketio", manage_session=False)
    from .proxies import install as trust_proxies

    trust_proxies(app, settings.proxy_networks)   # CENTRALA_TRUSTED_PROXIES: the client's real address
    app.teardown_appcontext(close_dbs)

    from .api.http import bp as api_bp
    from .auth import loader  # noqa: F401  (registers the Flask-Login user loader)
    from .auth.http import bp as auth_bp
    from .health.http import bp as health_bp
    from .calls.http import bp as calls_bp
    from .contacts.api import bp as contacts_api_bp
    from .contacts.http import bp as contacts_bp
    from .supervisor.http import bp as supervisor_bp
    from .history.http import bp as history_bp
    from .panel.http import bp as panel_bp
    from .presence.sockets import register as register_presence
    from .profile.http import bp as profile_bp
    from .settings.http import bp as settings_bp
    from .voice.http import bp as voice_bp
    from .voice.api import bp as voice_api_bp
    from .chat.http import bp as chat_bp
    from .chat.api import bp as chat_api_bp
    from .conversations.api import bp as conversations_api_bp

    for bp in (health_bp, auth_bp, panel_bp, profile_bp, settings_bp, voice_bp, history_bp, calls_bp, supervisor_bp, api_bp,
               voice_api_bp, contacts_bp, contacts_api_bp, chat_bp, chat_api_bp, conversations_api_bp):
        app.register_blueprint(bp)
    csrf.exempt(api_bp)  # bearer tokens, no cookies: nothing to forge
    csrf.exempt(contacts_api_bp)
    csrf.exempt(chat_api_bp)
    csrf.exempt(conversations_api_bp)
    from . import files, tasks  # Files and Tasks tabs (FIL, TSK): pages and REST API

    for feature in (files, tasks):
        feature.init_app(app)
    from .auth.sessions import register as register_login_sockets

    register_login_sockets(app)   # sockets of ended logins are disconnected
    register_presence(app, start_background=start_background)
    from .calls.notifier import register as register_calls
    from .notifications.notifier import register as register_notifier

    register_notifier(app)   # incoming work of every kind: drawer items and pushes
    from centrala.conversations import calls as call_conversations

    call_conversations.register(app.extensions["centrala.bus"], app.extensions["centrala.db"])
    register_calls(app)
    from . import offers

    offers.init_app(app, start_background=start_background)   # offers of text conversations (issue 11)
    from .chat.sockets import register as register_chat

    register_chat(app, start_background=start_background)
    from .emails.offers import register as register_email_offers

    register_email_offers(app)   # received email: offers and drawer items (issue 13)
    from .tasks.sweeper import register as register_reminders

    register_reminders(app, start_background=start_background)   # task due-date reminders (TSK-1)
    from . import webhooks

    webhooks.init_app(app, start_background=start_background)   # outgoing webhooks (BEY-1)
    from .emails import sending as email_sending
    from .emails import settings as email_settings

    email_settings.init_app(app)   # Settings / Email, My mailbox, /api/v1/mailboxes
    email_sending.init_app(app, start_background=start_background)   # email: compose, reply, outbox (issue 13)
    _register_errors(app)
    from .security_headers import install as security_headers

    security_headers(app, settings)   # CSP, framing, nosniff, Referrer-Policy, HSTS
    return app


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def _register_errors(app: Flask) -> None:
    from flask_babel import force_locale
    from flask_babel import gettext as _
    from flask_wtf.csrf import CSRFError
    from werkzeug.exceptions import HTTPException

    messages = {
        400: lambda: _("The request could not be understood."),
        401: lambda: _("Authentication required."),
        403: lambda: _("You do not have permission to open this page."),
        404: lambda: _("This page does not exist."),
        405: lambda: _("This method is not allowed here."),
        413: lambda: _("The file is too large."),
        410: lambda: _("This link is no longer valid."),
        429: lambda: _("Too many attempts. Try again in a minute."),
    }

    def render_error(code: int, message: str | None = None):
        if _wants_json():  # API clients get stable English messages
            with force_locale("en"):
                message = message or messages.get(code, lambda: _("Something went wrong."))()
            return jsonify({"error": {"code": code, "message": str(message)}}), code
        message = message or messages.get(code, lambda: _("Something went wrong."))()
        return render_template("error.html", code=code, message=message), code

    def handler(e):
        if getattr(e, "response", None) is not None:   # abort(response): already the answer
            return e.response
        if e.code is None:
            return e
        # abort(code, "our own words") keeps them; Werkzeug's stock English text is replaced
        custom = getattr(e, "description", None)
        if custom == getattr(type(e), "description", None):
            custom = None
        return render_error(e.code, custom)

    # every HTTP error (and a bug's 500) gets the same answer: JSON under /api/, a page elsewhere
    app.register_error_handler(HTTPException, handler)

    @app.errorhandler(CSRFError)
    def csrf_error(e):
        return render_error(400, _("The form has expired or was sent from another site. Reload the page and try again."))
