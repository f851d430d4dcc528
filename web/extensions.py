"""Extension objects bound to the app in ``create_app`` (``init_app``), and request helpers."""
from __future__ import annotations

from flask import current_app, g
from flask_babel import Babel
from flask_login import LoginManager
from flask_wtf import CSRFProtect

csrf = CSRFProtect()
login_manager = LoginManager()
babel = Babel()


def settings():
    return current_app.extensions["centrala.settings"]


def db():
    return current_app.extensions["centrala.db"]


def bus():
    return current_app.extensions["centrala.bus"]


def socketio():
    """This app's Flask-SocketIO server (one per app, so tests can run several apps)."""
    return current_app.extensions["socketio"]


def presence():
    return current_app.extensions["centrala.presence"]


def dbs():
    """The request's database session; closed (uncommitted work rolled back) at teardown."""
    if "db_session" not in g:
        g.db_session = db().sessions()
    return g.db_session


def close_dbs(_exc=None) -> None:
    s = g.pop("db_session", None)
    if s is not None:
        s.close()


def client_ip() -> str:
    from flask import request

    return request.remote_addr or ""
