"""agents/reminders.py: when a task's due-date reminder goes — time zones, summer time, arming."""
from datetime import datetime, timedelta, timezone

import pytest

from agents import reminders
from agents.reminders import arm, is_due, local_to_utc, remind_moment, zone

UTC = timezone.utc
WARSAW = zone("Europe/Warsaw")
NY = zone("America/New_York")


def u(*args):
    return datetime(*args, tzinfo=UTC)


def test_zone_lookup_is_forgiving():
    assert zone("Europe/Warsaw") is not None
    for bad in (None, "", "  ", "Mars/Olympus", "../../etc/passwd", "x" * 100):
        assert zone(bad) is None, bad


def test_local_wall_clock_to_utc_in_winter_and_summer():
    assert local_to_utc(datetime(2026, 1, 15, 16, 25), WARSAW) == u(2026, 1, 15, 15, 25)   # CET, +1
    assert local_to_utc(datetime(2026, 7, 15, 16, 25), WARSAW) == u(2026, 7, 15, 14, 25)   # CEST, +2
    assert local_to_utc(datetime(2026, 7, 15, 16, 25), NY) == u(2026, 7, 15, 20, 25)       # EDT, -4


def test_a_time_the_spring_change_skips_is_read_like_browsers_do():
    # 2026-03-29 02:30 does not exist in Warsaw (clocks go 02:00 -> 03:00): it becomes 03:30 CEST
    moment = local_to_utc(datetime(2026, 3, 29, 2, 30), WARSAW)
    assert moment == u(2026, 3, 29, 1, 30)
    assert moment.astimezone(WARSAW).strftime("%H:%M %Z") == "03:30 CEST"


def test_a_time_the_autumn_change_repeats_is_its_first_occurrence():
    # 2026-10-25 02:30 happens twice in Warsaw: first in summer time (00:30 UTC), then 01:30 UTC
    assert local_to_utc(datetime(2026, 10, 25, 2, 30), WARSAW) == u(2026, 10, 25, 0, 30)


@pytest.mark.parametrize("choice, before", [("at_due", timedelta(0)), ("15m", timedelta(minutes=15)),
                                            ("1h", timedelta(hours=1))])
def test_minutes_and_hours_before_are_exact_durations(choice, before):
    due = u(2026, 3, 29, 1, 10)   # 03:10 CEST, ten minutes after the spring change
    assert remind_moment(due, choice, WARSAW) == due - before
    assert remind_moment(due, choice) == due - before
    # "1 hour before" across the change: 01:10 UTC - 1 h = 00:10 UTC = 01:10 CET, one real hour
    assert remind_moment(due, "1h", WARSAW).astimezone(WARSAW).strftime("%H:%M %Z") == "01:10 CET"


def test_one_day_before_is_the_same_clock_time_the_day_before_in_the_tasks_zone():
    # due Sunday 2026-03-29 10:00 CEST (08:00 UTC); Saturday 10:00 was still CET (09:00 UTC): 23 hours
    due = local_to_utc(datetime(2026, 3, 29, 10, 0), WARSAW)
    r = remind_moment(due, "1d", WARSAW)
    assert r == u(2026, 3, 28, 9, 0) and due - r == timedelta(hours=23)
    assert r.astimezone(WARSAW).strftime("%Y-%m-%d %H:%M") == "2026-03-28 10:00"
    # autumn: due Sunday 2026-10-25 10:00 CET; Saturday 10:00 CEST: 25 hours
    due = local_to_utc(datetime(2026, 10, 25, 10, 0), WARSAW)
    assert due - remind_moment(due, "1d", WARSAW) == timedelta(hours=25)
    # an ordinary day: 24 hours; without a zone always 24 hours
    due = u(2026, 11, 30, 15, 25)
    assert due - remind_moment(due, "1d", WARSAW) == timedelta(hours=24)
    assert remind_moment(u(2026, 3, 29, 8, 0), "1d") == u(2026, 3, 28, 8, 0)


def test_one_day_before_a_time_that_did_not_exist_the_day_before():
    # due Monday 2026-03-30 02:30 CEST; Sunday 02:30 was skipped: the reminder goes at 03:30 CEST
    due = local_to_utc(datetime(2026, 3, 30, 2, 30), WARSAW)
    r = remind_moment(due, "1d", WARSAW)
    assert r.astimezone(WARSAW).strftime("%Y-%m-%d %H:%M %Z") == "2026-03-29 03:30 CEST"


def test_no_reminder_without_a_due_date_or_with_none_and_unknown_choices_refused():
    assert remind_moment(None, "15m") is None
    assert remind_moment(u(2026, 1, 1, 10), "none") is None
    with pytest.raises(ValueError):
        remind_moment(u(2026, 1, 1, 10), "5m")
    assert reminders.DEFAULT == "15m" and set(reminders.CHOICES) == {"none", "at_due", "15m", "1h", "1d"}


def test_naive_times_are_utc_as_sqlite_returns_them():
    assert remind_moment(datetime(2026, 1, 1, 10, 0), "1h") == u(2026, 1, 1, 9, 0)


def test_arming_only_while_the_due_moment_is_ahead():
    now = u(2026, 11, 30, 12, 0)
    assert arm(u(2026, 11, 30, 13, 0), "15m", now) == u(2026, 11, 30, 12, 45)
    # due in ten minutes, "15 minutes before": the moment is past, so it goes at once
    assert arm(u(2026, 11, 30, 12, 10), "15m", now) == u(2026, 11, 30, 11, 55)
    # due already passed (or exactly now): overdue, not "due soon" — nothing to arm
    assert arm(u(2026, 11, 30, 11, 0), "15m", now) is None
    assert arm(now, "at_due", now) is None
    assert arm(None, "15m", now) is None and arm(u(2026, 12, 1), "none", now) is None


def test_a_reminder_is_due_once_when_its_moment_came_for_an_open_assigned_task():
    now = u(2026, 11, 30, 12, 0)
    at = u(2026, 11, 30, 11, 59)
    assert is_due(at, None, "new", 7, now) and is_due(at, None, "in_progress", 7, now)
    assert is_due(now, None, "new", 7, now)                       # exactly at its moment
    assert not is_due(u(2026, 11, 30, 12, 1), None, "new", 7, now)  # not yet
    assert not is_due(at, now, "new", 7, now)                     # sent already
    assert not is_due(at, None, "done", 7, now)                   # done: nobody is reminded
    assert not is_due(at, None, "new", None, now)                 # nobody to remind (yet)
    assert not is_due(None, None, "new", 7, now)
