"""Login, logout, forgotten password and password links (ACC-1, ACC-2, ACC-4)."""
from __future__ import annotations

import logging
import threading
from urllib.parse import urlparse

from flask import (Blueprint, abort, current_app, flash, redirect, render_template, request, session,
                   url_for)
from flask_babel import get_locale, gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from centrala import audit
from centrala.mail import MailError
from centrala.models import User
from centrala.tokens import consume_link_token, find_link_token
from centrala.users import UserError, by_email
from centrala.users import set_password as store_password

from ..extensions import client_ip, dbs, settings
from ..presence.services import change_status
from . import sessions
from .services import authenticate, login_refusal, record_failure, send_password_link

log = logging.getLogger(__name__)
bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    """A path on this site, or the dashboard.  Browsers read "\\" as "/", so "/\\evil.example"
    would leave the site like "//evil.example"; control characters are refused too."""
    if target and "\\" not in target and not any(ord(c) < 32 for c in target):
        parts = urlparse(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//"):
            return target.rstrip("?") or "/"
    return url_for("panel.dashboard")


safe_next = _safe_next


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("panel.dashboard"))
    email = ""
    if request.method == "POST":
        s = dbs()
        ip = client_ip()
        email = request.form.get("email", "").strip()
        refusal = login_refusal(s, settings(), ip, email)
        if refusal is not None:
            error = (_("Too many failed logins for this account. Wait a few minutes and try again.")
                     if refusal == "account" else
                     _("Too many failed logins from your address. Wait a minute and try again."))
            return render_template("auth/login.html", email=email, error=error), 429
        user = authenticate(s, email, request.form.get("password", ""))
        if user is None:
            record_failure(s, ip, email)
            s.commit()
            return render_template("auth/login.html", email=email,
                                   error=_("Incorrect email or password.")), 401
        lang = session.get("lang")
        session.clear()  # a new session (and cookie) at login: no session fixation
        if lang and not user.language:
            user.language = lang
        login_user(user)
        sessions.start(s, user.id, ip)
        audit.record(s, audit.LOGIN, actor=user, target=user.email, ip=ip)
        s.commit()
        return redirect(_safe_next(request.args.get("next")))
    return render_template("auth/login.html", email=email, error=None)


@bp.route("/logout", methods=["GET", "POST"])
@login_required
def logout():
    if request.method == "GET":
        return render_template("auth/logout.html")
    return _log_out(everywhere=False)


@bp.post("/logout/everywhere")
@login_required
def logout_everywhere():
    """My profile's "Log out everywhere": every login of this user ends, this one too."""
    return _log_out(everywhere=True)


def _log_out(everywhere: bool):
    s = dbs()
    user = s.get(User, current_user.id)
    change_status(s, user, "offline", actor=user)
    if everywhere:
        ended = sessions.end_everywhere(s, user.id)
        audit.record(s, audit.LOGOUT, actor=user, target=user.email, ip=client_ip(), everywhere=True, sessions=ended)
    else:
        sessions.end_here(s)
        audit.record(s, audit.LOGOUT, actor=user, target=user.email, ip=client_ip())
    s.commit()
    sessions.announce(user.id)   # sockets of the ended logins are disconnected
    logout_user()
    session.clear()
    flash(_("You have been logged out on every device.") if everywhere else _("You have been logged out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/password/forgot", methods=["GET", "POST"])
def forgot_password():
    if request.method == "POST":
        s = dbs()
        email = request.form.get("email", "").strip()
        user = by_email(s, email) if email else None
        audit.record(s, audit.PASSWORD_RESET_REQUESTED, target=email[:254], ip=client_ip())
        if user is not None and user.active:
            _send_in_background(user.id, "reset", str(get_locale()))
        s.commit()
        # the same answer whether or not the address exists
        return render_template("auth/message.html", title=_("Check your inbox"),
                               message=_("If an account exists for %(email)s, we have sent it a link to set a new password. The link is valid for %(hours)s h.",
                                         email=email, hours=_hours(settings().reset_token_hours)))
    return render_template("auth/forgot.html")


def _hours(h: float) -> str:
    return str(int(h)) if float(h).is_integer() else str(h)


def _send_in_background(user_id: int, purpose: str, locale: str) -> None:
    """Send outside the request: the answer must not take longer when the address exists."""
    app = current_app._get_current_object()

    def work():
        with app.app_context(), app.test_request_context(base_url=app.extensions["centrala.settings"].base_url):
            s = app.extensions["centrala.db"].sessions()
            try:
                user = s.get(User, user_id)
                send_password_link(app.extensions["centrala.settings"], s, user, purpose, locale)
                s.commit()
            except MailError as exc:
                log.error("password email to user %s not sent: %s", user_id, exc)
                s.rollback()
            finally:
                s.close()

    threading.Thread(target=work, name="mail", daemon=True).start()


@bp.get("/password/reset/<token>")
def legacy_password_link(token: str):
    """Links emailed before the token moved into the fragment: the same page, token in the
    fragment (this one request still names it in the access log)."""
    return redirect(url_for("auth.set_password") + "#" + token)


@bp.route("/password/set", methods=["GET", "POST"])
def set_password():
    """The emailed link is ``/password/set#<token>``: browsers never send the fragment, so the
    token is in no access log, proxy log or Referer.  The page's script posts it in the body."""
    if request.method == "GET":
        return render_template("auth/open_link.html")
    s = dbs()
    token = request.form.get("token", "")
    row = find_link_token(s, token) if token else None
    if row is None:
        return render_template("auth/message.html", title=_("This link is no longer valid"),
                               message=_("The link has already been used or has expired. Ask for a new one."),
                               action=(url_for("auth.forgot_password"), _("Send a new link"))), 410
    user = s.get(User, row.user_id)
    if user is None or not user.active:
        abort(410)
    error = None
    if "password" in request.form:
        password = request.form.get("password", "")
        if password != request.form.get("confirm", ""):
            error = _("The passwords do not match.")
        else:
            try:
                store_password(user, password)
            except UserError:
                error = _("The password must have at least %(n)d characters.", n=10)
        if error is None:
            consume_link_token(s, row)
            audit.record(s, audit.PASSWORD_SET, actor=user, target=user.email, ip=client_ip(), via=row.purpose)
            s.commit()   # store_password ended every login of the user
            sessions.announce(user.id)
            if current_user.is_authenticated:
                logout_user()
            flash(_("Your password is set. You can log in now."), "success")
            return redirect(url_for("auth.login"))
    return render_template("auth/set_password.html", user=user, purpose=row.purpose, token=token,
                           error=error), (400 if error else 200)
