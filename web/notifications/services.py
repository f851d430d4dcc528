"""The notification drawer (DSH-4, INB-1, INB-2, INB-4): channels push items here.

An item belongs to one agent; "ignore" removes it from that agent's unanswered badge,
"answer" takes it.  Every change is pushed to the agent's open panels at once.
"""
from __future__ import annotations

from flask import current_app
from sqlalchemy import func, select

from agents import events
from centrala.models import Notification, iso

NAMESPACE = "/agent"
STATES = ("new", "answered", "ignored")


def as_dict(n: Notification) -> dict:
    return {"id": n.id, "channel": n.channel, "title": n.title, "body": n.body, "link": n.link,
            "created_at": iso(n.created_at), "state": n.state, "actions": ["answer", "ignore"]}


def unanswered(session, user_id: int) -> int:
    return session.scalar(select(func.count()).select_from(Notification)
                          .where(Notification.user_id == user_id, Notification.state == "new"))


def badges(session, user_id: int) -> dict:
    from centrala.tasks import open_count  # my open tasks (TSK-2)

    return {"incoming": unanswered(session, user_id), "tasks": open_count(session, user_id)}


def recent(session, user_id: int, limit: int = 30) -> list[dict]:
    rows = session.scalars(select(Notification).where(Notification.user_id == user_id,
                                                      Notification.state == "new")
                           .order_by(Notification.created_at.desc(), Notification.id.desc()).limit(limit))
    return [as_dict(n) for n in rows]


def push(session, user_ids, channel: str, title: str, body: str = "", link: str = "") -> list[Notification]:
    """Create one item per agent, commit, and deliver it to their panels."""
    items = create(session, user_ids, channel, title, body, link)
    session.commit()
    deliver(session, items)
    return items


def create(session, user_ids, channel: str, title: str, body: str = "", link: str = "") -> list[Notification]:
    """Add one item per agent to the session, uncommitted: the caller commits it together with
    what it belongs to (a reminder's once-only claim), then calls ``deliver``."""
    items = [Notification(user_id=uid, channel=channel, title=title[:300], body=body, link=link, state="new")
             for uid in user_ids]
    session.add_all(items)
    session.flush()
    return items


def deliver(session, items) -> None:
    """Send committed items to their agents' open panels (the drawer keeps them for later)."""
    sio = current_app.extensions["socketio"]
    bus = current_app.extensions["centrala.bus"]
    for n in items:
        sio.emit("notification", as_dict(n), to=f"user:{n.user_id}", namespace=NAMESPACE)
        sio.emit("badges", badges(session, n.user_id), to=f"user:{n.user_id}", namespace=NAMESPACE)
        bus.publish(events.NOTIFICATION_CREATED, user_id=n.user_id, id=n.id, channel=n.channel, title=n.title)


def resolve(session, user_id: int, notification_id: int, state: str) -> Notification | None:
    """Answer or ignore one of the agent's own items; None if it is not theirs."""
    if state not in ("answered", "ignored"):
        raise ValueError(state)
    n = session.get(Notification, notification_id)
    if n is None or n.user_id != user_id:
        return None
    n.state = state
    session.commit()
    sio = current_app.extensions["socketio"]
    sio.emit("notification_resolved", {"id": n.id, "state": state}, to=f"user:{user_id}", namespace=NAMESPACE)
    sio.emit("badges", badges(session, user_id), to=f"user:{user_id}", namespace=NAMESPACE)
    return n
