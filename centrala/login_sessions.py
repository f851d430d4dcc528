"""Panel logins that the server can end (issue 12, defect 4).

Each login is a row; the signed session cookie carries the random token and only its SHA-256 is
stored.  Ending a session deletes its row, so a copied cookie stops working at once, wherever it
is: logout ends one, "log out everywhere", deactivation and a new password end all of a user's.
API bearer tokens are separate (``centrala.tokens``).
"""
from __future__ import annotations

import secrets
from datetime import datetime, timedelta, timezone

from sqlalchemy import delete, select

from .models import LoginSession, User
from .tokens import digest

MAX_AGE = timedelta(days=31)   # as Flask's permanent session lifetime: older logins are over


def open_session(s, user_id: int, ip: str = "") -> str:
    """Start a login; return the token for the cookie.  Expired rows are swept on the way."""
    now = datetime.now(timezone.utc)
    s.execute(delete(LoginSession).where(LoginSession.created_at < now - MAX_AGE))
    token = secrets.token_urlsafe(32)
    s.add(LoginSession(token_hash=digest(token), user_id=user_id, ip=ip[:64], created_at=now))
    s.flush()
    return token


def live_user(s, user_id: int, token: str | None) -> User | None:
    """The user of a live login (one query: the loader runs it on every request and socket
    event), or None when the login has been ended, has expired or belongs to someone else."""
    if not token:
        return None
    return s.scalar(select(User).join(LoginSession, LoginSession.user_id == User.id)
                    .where(User.id == user_id, LoginSession.token_hash == digest(token),
                           LoginSession.created_at > datetime.now(timezone.utc) - MAX_AGE))


def is_live(s, user_id: int, token: str | None) -> bool:
    return live_user(s, user_id, token) is not None


def end_session(s, token: str | None) -> None:
    if token:
        s.execute(delete(LoginSession).where(LoginSession.token_hash == digest(token)))


def end_all(s, user_id: int) -> int:
    """End every login of a user; return how many there were."""
    return s.execute(delete(LoginSession).where(LoginSession.user_id == user_id)).rowcount or 0

