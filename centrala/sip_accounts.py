"""Agents' softphone registrations as the pbx controller sees them (VOI-7)."""
from __future__ import annotations

from sqlalchemy import select

from .models import User

REGISTERED = {"created", "reachable", "nonqualified", "updated"}


def set_contact(db, sip_username: str, contact: str | None) -> int | None:
    """Store (or clear) the registered contact of an account; return the user id if it changed."""
    with db.session() as s:
        user = s.scalar(select(User).where(User.sip_username == sip_username))
        if user is None or user.sip_contact == contact:
            return None
        user.sip_contact = contact
        return user.id


def replace_all(db, contacts: dict[str, str]) -> list[int]:
    """After a (re)connect: the registrations Asterisk has now are the whole truth."""
    changed = []
    with db.session() as s:
        for user in s.scalars(select(User).where(User.sip_username.is_not(None))):
            contact = contacts.get(user.sip_username)
            if user.sip_contact != contact:
                user.sip_contact = contact
                changed.append(user.id)
    return changed
