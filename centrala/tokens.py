"""API bearer tokens and single-use link tokens (password reset, invitation).

Only SHA-256 digests are stored: a database leak does not leak usable tokens.
"""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from .models import ApiToken, AuthToken, User, utcnow


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def create_api_token(session, user: User, name: str = "") -> str:
    token = "ctr_" + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, token_hash=digest(token), name=name))
    session.flush()
    return token


def user_for_api_token(session, token: str) -> User | None:
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == digest(token)))
    if row is None:
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        return None
    row.last_used_at = utcnow()
    return user


def issue_link_token(session, user: User, purpose: str, lifetime: timedelta) -> str:
    token = secrets.token_urlsafe(32)
    session.add(AuthToken(user_id=user.id, token_hash=digest(token), purpose=purpose,
                          expires_at=datetime.now(timezone.utc) + lifetime))
    session.flush()
    return token


def find_link_token(session, token: str) -> AuthToken | None:
    """The token if it exists, is unused and has not expired."""
    row = session.scalar(select(AuthToken).where(AuthToken.token_hash == digest(token)))
    if row is None or row.used_at is not None:
        return None
    if _aware(row.expires_at) <= datetime.now(timezone.utc):
        return None
    return row


def consume_link_token(session, row: AuthToken) -> None:
    """Mark this token, and every other open link of the user, used."""
    now = utcnow()
    for other in session.scalars(select(AuthToken).where(AuthToken.user_id == row.user_id,
                                                         AuthToken.used_at.is_(None))):
        other.used_at = now
