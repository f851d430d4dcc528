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

WINDOW = timedelta(minutes=1)            # per account + address pair, and per address
ACCOUNT_WINDOW = timedelta(minutes=15)   # the slower ceiling per account, whatever the address


def _failures(session, since: datetime, *conditions) -> int:
    return session.scalar(select(func.count()).select_from(LoginFailure)
                          .where(LoginFailure.at > since, *conditions))


def login_refusal(session, settings, ip: str, email: str) -> str | None:
    """Why a login attempt is refused before its password is checked, or None.

    ``pair``: this address failed for this account ``login_attempts`` times in a minute;
    ``address``: this address failed ``login_address_attempts`` times in a minute (any accounts);
    ``account``: the account failed ``login_account_attempts`` times in 15 minutes from anywhere.
    A victim elsewhere is not locked out by an attacker's address (only the pair and the address
    are); the account ceiling is high and slow, for attacks spread over many addresses."""
    now = datetime.now(timezone.utc)
    account = email.strip().lower()[:254]
    if _failures(session, now - WINDOW, LoginFailure.ip == ip, LoginFailure.account == account) >= settings.login_attempts:
        return "pair"
    if _failures(session, now - WINDOW, LoginFailure.ip == ip) >= settings.login_address_attempts:
        return "address"
    if _failures(session, now - ACCOUNT_WINDOW, LoginFailure.account == account) >= settings.login_account_attempts:
        return "account"
    return None


def record_failure(session, ip: str, email: str) -> None:
    session.add(LoginFailure(ip=ip, account=email.strip().lower()[:254]))
    session.execute(delete(LoginFailure).where(LoginFailure.at < datetime.now(timezone.utc) - ACCOUNT_WINDOW * 2))
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
    link = settings.base_url + url_for("auth.set_password") + "#" + token   # the fragment: in no log
    with force_locale(user.language or locale or str(get_locale() or "en")):
        if purpose == "invite":
            subject = _("You are invited to Centrala")
        else:
            subject = _("Reset your Centrala password")
        ctx = dict(user=user, link=link, hours=hours, purpose=purpose)
        text = render_template("auth/email.txt", **ctx)
        html = render_template("auth/email.html", subject=subject, **ctx)
    send_mail(settings, user.email, subject, text, html)
