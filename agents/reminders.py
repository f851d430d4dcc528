"""Task due-date reminders (TSK-1): when a task's reminder goes, in UTC, from its due moment.

Plain rules with the clock passed in, so time zones and summer time are tested without waiting:

- A due date typed as a local wall-clock time (the form's ``datetime-local``) becomes a UTC moment
  in the zone it was typed in (an IANA name such as ``Europe/Warsaw``).  A time skipped by the
  spring change (02:30 on the last Sunday of March in Warsaw) is read the way browsers read it,
  one hour later (03:30 summer time); a time the autumn change repeats is its first occurrence.
- "15 minutes / 1 hour before" and "at the due time" are exact durations before the due moment.
  "1 day before" is the same wall-clock time on the previous day in the task's zone (23 or 25 hours
  before across a summer-time change); without a zone it is 24 hours.
- A reminder is armed only while the due moment is still ahead: a task entered with a due date
  already past is overdue, not "due soon".  Changing the due date or the choice arms it again.
- A reminder is due when its moment has come, it has not been sent, the task is not Done and it
  has an assignee.  The web layer claims it with one atomic UPDATE so that it is sent once.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

NONE, AT_DUE, MIN15, HOUR1, DAY1 = "none", "at_due", "15m", "1h", "1d"
CHOICES = (NONE, AT_DUE, MIN15, HOUR1, DAY1)
DEFAULT = MIN15            # a new task with a due date is reminded 15 minutes before
_BEFORE = {AT_DUE: timedelta(0), MIN15: timedelta(minutes=15), HOUR1: timedelta(hours=1)}


def zone(name: str | None) -> ZoneInfo | None:
    """The IANA zone of that name, or None (empty, unknown, or no tz database on the machine)."""
    name = (name or "").strip()
    if not name or len(name) > 64:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def local_to_utc(wall: datetime, tz: ZoneInfo) -> datetime:
    """A naive wall-clock time in ``tz`` as an aware UTC moment.

    ``fold=0`` is what browsers do: a skipped time gets the offset from before the change (so it
    lands one hour later in summer time) and a repeated time is its first occurrence.
    """
    return wall.replace(tzinfo=tz, fold=0).astimezone(timezone.utc)


def utc(dt: datetime) -> datetime:
    """Aware UTC (a naive value is taken as UTC, which is how SQLite hands stored times back)."""
    return dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt.astimezone(timezone.utc)


def remind_moment(due: datetime | None, choice: str, tz: ZoneInfo | None = None) -> datetime | None:
    """When the reminder for a task due at ``due`` goes, in UTC; None for no reminder."""
    if due is None or choice == NONE:
        return None
    if choice not in CHOICES:
        raise ValueError(choice)
    due = utc(due)
    if choice == DAY1:
        if tz is None:
            return due - timedelta(days=1)
        wall = due.astimezone(tz).replace(tzinfo=None) - timedelta(days=1)
        return local_to_utc(wall, tz)
    return due - _BEFORE[choice]


def arm(due: datetime | None, choice: str, now: datetime, tz: ZoneInfo | None = None) -> datetime | None:
    """The reminder moment to store when a task's due date or choice is set at ``now``: None when
    there is nothing to remind of (no due date, no reminder, or the due moment has passed).  A
    moment already past with the due moment still ahead (due in 10 minutes, "15 minutes before")
    is kept: the reminder goes at once."""
    if due is None or utc(due) <= utc(now):
        return None
    return remind_moment(due, choice, tz)


def is_due(remind_at: datetime | None, reminded_at: datetime | None, status: str,
           assignee_id: int | None, now: datetime) -> bool:
    """The rule the sweeper's claim (one UPDATE … WHERE) spells in SQL."""
    return (remind_at is not None and reminded_at is None and status != "done"
            and assignee_id is not None and utc(remind_at) <= utc(now))
