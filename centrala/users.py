"""User accounts shared by the CLI and the web panel.  Passwords are Argon2 hashes."""
from __future__ import annotations

import re
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from sqlalchemy import func, select

from .models import User

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


def create_user(session, email: str, name: str, role: str = "agent", password: str | None = None) -> User:
    email = email.strip().lower()
    if not _EMAIL.match(email):
        raise UserError(f"{email!r} is not a valid email address")
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)}")
    if not name.strip():
        raise UserError("name must not be empty")
    if session.scalar(select(User).where(User.email == email)):
        raise UserError(f"a user with email {email} already exists")
    user = User(email=email, name=name.strip(), role=role, active=True,
                password_hash=hash_password(password) if password else None)
    session.add(user)
    session.flush()
    return user


def ensure_first_admin(db, email: str) -> tuple[User, str] | None:
    """On a fresh database create an administrator; return (user, password) once, else None."""
    with db.session() as s:
        if s.scalar(select(func.count()).select_from(User)):
            return None
        password = generate_password()
        user = create_user(s, email, "Administrator", "admin", password)
        return user, password
