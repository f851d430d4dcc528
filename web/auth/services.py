"""Login checks, the failed-login limit, and password links sent by email."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from flask import render_template, url_for
from flask_babel import force_locale, get_locale, gettext as _
from sqlalchemy import delete, func, select

from centrala import audit
from centrala.mail import send_mail
from centrala.models import LoginFailure, User
from centrala.tokens import issue_link_token
from centrala.users import by_email, verify_password

WINDOW = timedelta(minutes=1)


def too_many_failures(session, ip: str, limit: int) -> bool:
    since = datetime.now(timezone.utc) - WINDOW
    count = session.scalar(select(func.count()).select_from(LoginFailure)
                           .where(LoginFailure.ip == ip, LoginFailure.at > since))
    return count >= limit


def record_failure(session, ip: str, email: str) -> None:
    session.add(LoginFailure(ip=ip))
    session.execute(delete(LoginFailure).where(LoginFailure.at < datetime.now(timezone.utc) - WINDOW * 10))
    audit.record(session, audit.LOGIN_FAILED, target=email[:254], ip=ip)


def authenticate(session, email: str, password: str) -> User | None:
    user = by_email(session, email)
    if user is None or not user.active or not verify_password(user.password_hash, password):
        return None
    return user


def send_password_link(settings, session, user: User, purpose: str, locale: str | None = None) -> None:
    """Email a single-use link: ``invite`` (set a first password) or ``reset``.  The email is in
    the user's language, else in ``locale`` (the language of whoever asked for it)."""
    hours = settings.invite_token_hours if purpose == "invite" else settings.reset_token_hours
    token = issue_link_token(session, user, purpose, timedelta(hours=hours))
    session.commit()  # the link must work the moment the email arrives
    link = settings.base_url + url_for("auth.set_password", token=token)
    with force_locale(user.language or locale or str(get_locale() or "en")):
        if purpose == "invite":
            subject = _("You are invited to Centrala")
        else:
            subject = _("Reset your Centrala password")
        ctx = dict(user=user, link=link, hours=hours, purpose=purpose)
        text = render_template("auth/email.txt", **ctx)
        html = render_template("auth/email.html", subject=subject, **ctx)
    send_mail(settings, user.email, subject, text, html)
