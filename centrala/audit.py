"""Audit log (BEY-2): who did what, when, from where."""
from __future__ import annotations

from .models import AuditEntry

# action names
LOGIN = "login"
LOGIN_FAILED = "login.failed"
LOGOUT = "logout"
PASSWORD_RESET_REQUESTED = "password.reset_requested"
PASSWORD_SET = "password.set"
USER_CREATED = "user.created"
USER_UPDATED = "user.updated"
USER_DEACTIVATED = "user.deactivated"
USER_REACTIVATED = "user.reactivated"
PROFILE_UPDATED = "profile.updated"
STATUS_CHANGED = "status.changed"
TOKEN_CREATED = "token.created"
SETTINGS_CHANGED = "settings.changed"


def record(session, action: str, actor=None, target: str = "", ip: str = "", **details) -> AuditEntry:
    entry = AuditEntry(action=action, actor_id=getattr(actor, "id", None),
                       actor_email=getattr(actor, "email", "") or "", target=target, ip=ip or "",
                       details=details)
    session.add(entry)
    return entry
