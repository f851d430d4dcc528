"""Flask-Login wiring: load the user for a session; deactivated users, sessions from before a
password change and logins that have been ended (logout, log out everywhere) are rejected."""
from __future__ import annotations

from flask import redirect, request, url_for
from flask_babel import lazy_gettext as _l

from ..extensions import dbs, login_manager
from . import sessions

login_manager.login_view = "auth.login"
login_manager.login_message = _l("Log in to continue.")
login_manager.session_protection = "basic"


@login_manager.user_loader
def load_user(identity: str):
    user_id, _, stamp = identity.partition(".")
    if not user_id.isdigit():
        return None
    user = sessions.live_user(dbs(), int(user_id))   # None: the login was ended server-side
    if user is None or not user.active or user.get_id() != identity:
        return None
    return user


@login_manager.unauthorized_handler
def unauthorized():
    from flask import abort

    if request.path.startswith("/api/"):
        abort(401)
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?") if request.method == "GET" else None))
