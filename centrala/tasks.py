"""Tasks related to a contact or a communication, for other areas' pages (the contact view,
the History detail) without importing the web layer."""
from __future__ import annotations

from sqlalchemy import func, select

from .models_tasks import Task

AUDIT_TASK_DELETED = "task.deleted"   # audit log action (BEY-2)


def _related(session, where, limit: int) -> list[Task]:
    # open first, then by due date (none last), oldest first
    q = select(Task).where(where).order_by(Task.status == "done", Task.due_at.is_(None), Task.due_at, Task.id)
    return list(session.scalars(q.limit(limit)))


def tasks_for_contact(session, contact_id: int, limit: int = 50) -> list[Task]:
    return _related(session, Task.contact_id == contact_id, limit)


def tasks_for_communication(session, communication_id: int, limit: int = 50) -> list[Task]:
    return _related(session, Task.communication_id == communication_id, limit)


def open_count(session, user_id: int) -> int:
    """The top bar's badge: tasks assigned to the user that are not Done."""
    return session.scalar(select(func.count()).select_from(Task)
                          .where(Task.assignee_id == user_id, Task.status != "done"))
