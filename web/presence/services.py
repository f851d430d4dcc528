"""Agent status changes and who is online, pushed to every panel (STA-1)."""
from __future__ import annotations

from typing import Literal

from flask import current_app
from sqlalchemy import select

from agents import events
from agents.status import AgentStatus
from centrala import audit
from centrala.models import User, iso
from centrala.users import set_status

from ..api.schemas import Body

NAMESPACE = "/agent"
StatusName = Literal[tuple(s.value for s in AgentStatus)]


class StatusChange(Body):
    """An agent's new status (the API's ``PUT /users/me/status`` and the panel's ``status:set``)."""
    status: StatusName  # type: ignore[valid-type]


def user_presence(user: User) -> dict:
    return {"id": user.id, "name": user.name, "status": user.status, "role": user.role,
            "avatar": bool(user.avatar),
            "changed_at": iso(user.status_changed_at)}


def roster(session) -> list[dict]:
    users = session.scalars(select(User).where(User.active.is_(True)).order_by(User.name)).all()
    return [user_presence(u) for u in users]


def change_status(session, user: User, status: str, actor: User | None = None, reason: str = "") -> bool:
    """Store the new status, commit, then tell every panel and the rest of the system."""
    if not set_status(user, status):
        return False
    audit.record(session, audit.STATUS_CHANGED, actor=actor, target=user.email, status=user.status,
                 **({"reason": reason} if reason else {}))
    session.commit()
    app = current_app
    app.extensions["socketio"].emit("presence", user_presence(user), namespace=NAMESPACE)
    app.extensions["centrala.bus"].publish(events.AGENT_STATUS_CHANGED, user_id=user.id,
                                           status=user.status, channels=list(user.channels or []))
    return True
