"""User accounts shared by the CLI and the web panel.  Passwords are Argon2 hashes."""
from __future__ import annotations

import re
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from sqlalchemy import func, select
from sqlalchemy.orm import object_session

from agents.channels import DEFAULT_CHANNELS, clean_channels
from agents.status import AgentStatus

from .models import User, utcnow
from .secretbox import of_session

ROLES = ("admin", "agent")
_hasher = PasswordHasher()
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class UserError(ValueError):
    pass


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, InvalidHashError):
        return False


def generate_password() -> str:
    return secrets.token_urlsafe(12)


MIN_PASSWORD = 10


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise UserError(f"password must have at least {MIN_PASSWORD} characters")


def create_user(session, email: str, name: str, role: str = "agent", password: str | None = None,
                position: str = "", channels=None, limit: int | None = None) -> User:
    """A new user; ``channels=None`` means the default (every channel), ``[]`` none."""
    email = email.strip().lower()
    if not _EMAIL.match(email):
        raise UserError(f"{email!r} is not a valid email address")
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)}")
    if not name.strip():
        raise UserError("name must not be empty")
    if session.scalar(select(User).where(func.lower(User.email) == email)):
        raise UserError(f"a user with email {email} already exists")
    if limit is not None and active_count(session) >= limit:
        raise UserError(f"the user limit is reached ({limit}/{limit})")
    try:
        channels = clean_channels(DEFAULT_CHANNELS if channels is None else channels)
    except ValueError as exc:
        raise UserError(str(exc)) from exc
    user = User(email=email, name=name.strip(), role=role, active=True, position=position.strip(),
                channels=channels, status=AgentStatus.OFFLINE.value, ringtone="long",
                password_hash=hash_password(password) if password else None)
    session.add(user)
    session.flush()
    give_sip_account(user)
    return user


def give_sip_account(user: User) -> None:
    """Every user gets a SIP account for a softphone (VOI-7) with a strong random password,
    stored encrypted with the data dir's key (the user's database session carries it)."""
    if not user.sip_username:
        user.sip_username = f"agent{user.id}"
    if not user.sip_password:
        user.sip_password = of_session(object_session(user)).seal(secrets.token_urlsafe(18))


def sip_password(box, user: User) -> str | None:
    """The plain SIP password, for the agent's own profile and ``centrala sip show``."""
    return box.open(user.sip_password)


def active_count(session) -> int:
    return session.scalar(select(func.count()).select_from(User).where(User.active.is_(True)))


def by_email(session, email: str) -> User | None:
    return session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))


def set_password(user: User, password: str) -> None:
    """A new password ends every panel login of the user (the caller logs in again)."""
    check_password_strength(password)
    user.password_hash = hash_password(password)
    user.password_changed_at = utcnow()
    _end_logins(user)


def _end_logins(user: User) -> None:
    from .login_sessions import end_all

    s = object_session(user)
    if s is not None and user.id is not None:
        end_all(s, user.id)


def set_status(user: User, status: str) -> bool:
    """Set an agent's status; True if it changed.  Deactivated users are always Offline."""
    new = AgentStatus(status).value
    if not user.active:
        new = AgentStatus.OFFLINE.value
    if user.status == new:
        return False
    user.status = new
    user.status_changed_at = utcnow()
    return True


def deactivate(user: User) -> None:
    """A deactivated user cannot log in and drops out of routing (Offline)."""
    user.active = False
    set_status(user, AgentStatus.OFFLINE.value)
    _end_logins(user)


def online_users(session, channel: str | None = None) -> list[User]:
    """Who is Online (STA-2), optionally only those serving ``channel``: routing asks this."""
    users = session.scalars(select(User).where(User.active.is_(True), User.status == AgentStatus.ONLINE.value)
                            .order_by(User.status_changed_at, User.id)).all()
    return [u for u in users if channel is None or channel in (u.channels or [])]


def ensure_first_admin(db, email: str) -> tuple[User, str] | None:
    """On a fresh database create an administrator; return (user, password) once, else None."""
    with db.session() as s:
        if s.scalar(select(func.count()).select_from(User)):
            return None
        password = generate_password()
        user = create_user(s, email, "Administrator", "admin", password)
        return user, password
