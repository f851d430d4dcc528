"""Due-date reminders (TSK-1): a background sweep sends each due reminder to the task's assignee
once — a drawer item (kept in ``notifications`` for a panel opened later) and, over Socket.IO,
the desktop notification and sound of any open panel, like the new-task item.

Once only, across restarts and web processes: the reminder is claimed with one
``UPDATE tasks SET reminded_at = now WHERE id = … AND reminded_at IS NULL AND …`` and the drawer
item is written in the same transaction; whoever's UPDATE changed the row sends it, the other
sweeper's UPDATE finds ``reminded_at`` set (PostgreSQL re-checks the WHERE after the first
transaction commits; SQLite serialises writers) and changes nothing.  The rule itself is
``agents.reminders.is_due``.
"""
from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select, update

from agents import events
from agents.conversation import TASK
from centrala.models import User
from centrala.models_tasks import Task

from .. import background
from ..notifications import notifier
from ..notifications import services as notifications
from . import services

log = logging.getLogger(__name__)
INTERVAL = 5.0   # seconds between sweeps; reminders are minute-grained
BATCH = 200      # reminders claimed per sweep at most (the rest on the next one)


def _due(now: datetime):
    """agents.reminders.is_due in SQL (the index ix_tasks_reminder serves it)."""
    return (Task.reminded_at.is_(None), Task.remind_at.is_not(None), Task.remind_at <= now,
            Task.status != "done", Task.assignee_id.is_not(None))


def sweep(app, now: datetime | None = None) -> list[int]:
    """Send the reminders due at ``now`` (default: the real time); the ids of the tasks this call
    reminded (a reminder another sweeper claimed first is not among them)."""
    now = now or services.now()
    sent: list[int] = []
    with app.app_context():
        s = app.extensions["centrala.db"].sessions()
        try:
            ids = list(s.scalars(select(Task.id).where(*_due(now)).order_by(Task.remind_at, Task.id)
                                 .limit(BATCH)))
            s.rollback()   # no read transaction kept open across the claims
            for task_id in ids:
                try:
                    if _remind(app, s, task_id, now):
                        sent.append(task_id)
                except Exception:
                    s.rollback()
                    log.exception("reminder for task %s failed", task_id)
        finally:
            s.close()
    return sent


def _remind(app, s, task_id: int, now: datetime) -> bool:
    claimed = s.execute(update(Task).where(Task.id == task_id, *_due(now)).values(reminded_at=now)
                        .execution_options(synchronize_session=False)).rowcount
    if claimed != 1:
        s.rollback()
        return False
    t = s.get(Task, task_id, populate_existing=True)
    user = s.get(User, t.assignee_id)
    items = []
    if user is not None:   # a deactivated assignee: claimed, nobody to tell (stage skips them)
        items = notifier.stage(app, s, notifier.Work(TASK, [user.id], lambda: services.reminder_texts(t)[0],
                                                     link=f"/tasks/{t.id}", body=lambda: services.reminder_texts(t)[1]))
    s.commit()
    if items:
        notifications.deliver(s, items)
    app.extensions["centrala.bus"].publish(events.TASK_REMINDED, task_id=t.id, user_id=t.assignee_id)
    return True


def start(app, interval: float = INTERVAL) -> None:
    """Sweep every ``interval`` seconds until the app's stop event is set."""
    stop = app.extensions["centrala.stop"]

    def loop() -> None:
        while not stop.wait(interval):
            try:
                sweep(app)
            except Exception:
                log.exception("task reminder sweep failed")

    background.start(app, loop)


def register(app, start_background: bool = True) -> None:
    if start_background:
        start(app)
