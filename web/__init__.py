"""Flask application factory (Flask's tutorial convention): ``create_app(settings)``."""
from __future__ import annotations

from flask import Flask

from agents.events import EventBus
from centrala.config import Settings
from centrala.db import Database

from .extensions import socketio


def create_app(settings: Settings | None = None, db: Database | None = None,
               bus: EventBus | None = None) -> Flask:
    settings = settings or Settings.load()
    settings.ensure_dirs()
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.secrets.flask_secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        MAX_CONTENT_LENGTH=64 * 1024 * 1024,
    )
    app.extensions["centrala.settings"] = settings
    app.extensions["centrala.db"] = db or Database(settings.db_url)
    app.extensions["centrala.bus"] = bus or EventBus()

    socketio.init_app(app, async_mode="threading", message_queue=settings.redis_url or None,
                      channel="flask-socketio", cors_allowed_origins=[])

    from .health.http import bp as health_bp
    from .main.http import bp as main_bp

    app.register_blueprint(health_bp)
    app.register_blueprint(main_bp)
    return app
