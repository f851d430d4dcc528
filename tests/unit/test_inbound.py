"""Business hours (BEY-5) and the inbound decision (VOI-6, STA-4): pure functions in agents.inbound."""
from datetime import datetime, timedelta, timezone

import pytest

from agents.inbound import HoursError, Route, Schedule, inbound_route, is_open

UTC = timezone.utc
WEEKDAYS = {d: ["08:00", "16:00"] for d in ("mon", "tue", "wed", "thu", "fri")}


def test_parse_and_round_trip():
    s = Schedule.parse({**WEEKDAYS, "sat": ["09:30", "13:00"]})
    assert s.days[0] == (8 * 60, 16 * 60) and s.days[5] == (570, 780) and s.days[6] is None
    assert s.to_json()["sat"] == ["09:30", "13:00"] and s.to_json()["sun"] is None
    assert Schedule.parse({"mon": ["00:00", "24:00"]}).days[0] == (0, 1440)
    assert Schedule.parse({"tue": ["18:00", "00:00"]}).to_json()["tue"] == ["18:00", "24:00"]   # until midnight


@pytest.mark.parametrize("data, code, day", [
    ({"mon": ["8:00", "16:00"]}, "bad_time", "mon"),
    ({"tue": ["08:00", "24:30"]}, "bad_time", "tue"),
    ({"wed": ["16:00", "08:00"]}, "close_before_open", "wed"),
    ({"thu": ["10:00", "10:00"]}, "close_before_open", "thu"),
    ({"fri": "08:00-16:00"}, "bad_shape", "fri"),
    ({"funday": None}, "bad_shape", None),
    (["mon"], "bad_shape", None),
])
def test_invalid_schedules_are_refused_with_the_day(data, code, day):
    with pytest.raises(HoursError) as err:
        Schedule.parse(data)
    assert (err.value.code, err.value.day) == (code, day)


def test_open_and_closed_in_winter_warsaw_is_utc_plus_one():
    # Wednesday 2026-01-14: 08:00 in Warsaw is 07:00 UTC
    assert not is_open(WEEKDAYS, datetime(2026, 1, 14, 6, 59, tzinfo=UTC))
    assert is_open(WEEKDAYS, datetime(2026, 1, 14, 7, 0, tzinfo=UTC))
    assert is_open(WEEKDAYS, datetime(2026, 1, 14, 14, 59, tzinfo=UTC))
    assert not is_open(WEEKDAYS, datetime(2026, 1, 14, 15, 0, tzinfo=UTC))   # 16:00 local: closed
    # Saturday: closed all day; a naive datetime is read as UTC
    assert not is_open(WEEKDAYS, datetime(2026, 1, 17, 10, 0))


def test_summer_time_moves_the_hours_in_utc():
    # Wednesday 2026-07-15: Warsaw is UTC+2, 08:00 local is 06:00 UTC
    assert is_open(WEEKDAYS, datetime(2026, 7, 15, 6, 0, tzinfo=UTC))
    assert not is_open(WEEKDAYS, datetime(2026, 7, 15, 14, 0, tzinfo=UTC))   # 16:00 local


def test_dst_change_days():
    every_day = {d: ["01:00", "04:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    # Sunday 2026-03-29: at 02:00 local the clock jumps to 03:00 (01:00 UTC)
    assert is_open(every_day, datetime(2026, 3, 29, 0, 30, tzinfo=UTC))      # 01:30 CET
    assert is_open(every_day, datetime(2026, 3, 29, 1, 30, tzinfo=UTC))      # 03:30 CEST
    assert not is_open(every_day, datetime(2026, 3, 29, 2, 0, tzinfo=UTC))   # 04:00 CEST
    # the same UTC time of day, before and after the change: 00:30 CET (closed), 01:30 CEST (open)
    assert not is_open(every_day, datetime(2026, 3, 27, 23, 30, tzinfo=UTC))
    assert is_open(every_day, datetime(2026, 3, 29, 23, 30, tzinfo=UTC))
    # Sunday 2026-10-25: 03:00 CEST becomes 02:00 CET; 02:30 happens twice, both are open
    assert is_open(every_day, datetime(2026, 10, 25, 0, 30, tzinfo=UTC))     # 02:30 CEST
    assert is_open(every_day, datetime(2026, 10, 25, 1, 30, tzinfo=UTC))     # 02:30 CET
    assert is_open(every_day, datetime(2026, 10, 25, 2, 59, tzinfo=UTC))     # 03:59 CET
    assert not is_open(every_day, datetime(2026, 10, 25, 3, 0, tzinfo=UTC))  # 04:00 CET


def test_time_zone_is_the_accounts():
    wed_7_utc = datetime(2026, 1, 14, 7, 0, tzinfo=UTC)
    assert is_open(WEEKDAYS, wed_7_utc, "Europe/Warsaw")            # 08:00
    assert not is_open(WEEKDAYS, wed_7_utc, "Europe/London")        # 07:00
    assert not is_open(WEEKDAYS, wed_7_utc, "America/New_York")     # 02:00
    # the local weekday counts: Friday 23:30 UTC is Saturday 00:30 in Warsaw
    assert not is_open({"fri": ["00:00", "24:00"]}, datetime(2026, 1, 16, 23, 30, tzinfo=UTC))
    assert is_open({"sat": ["00:00", "01:00"]}, datetime(2026, 1, 16, 23, 30, tzinfo=UTC))


def test_no_schedule_is_always_open_and_a_broken_one_never_turns_callers_away():
    now = datetime.now(UTC)
    assert is_open(None, now) and is_open({}, now)
    assert is_open({"mon": ["nonsense", "x"]}, now)
    closed = {d: None for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    assert all(not is_open(closed, now + timedelta(hours=h)) for h in range(0, 24 * 7, 5))


@pytest.mark.parametrize("accepted, inbound, open_now, anyone, route", [
    (False, True, True, True, Route.REFUSE),
    (False, False, False, False, Route.REFUSE),
    (True, True, True, True, Route.QUEUE),
    (True, True, True, False, Route.VOICEMAIL),     # nobody Online (STA-4)
    (True, True, False, True, Route.VOICEMAIL),     # outside business hours (BEY-5)
    (True, False, True, True, Route.VOICEMAIL),     # inbound channel switched off (VOI-6)
])
def test_inbound_route(accepted, inbound, open_now, anyone, route):
    assert inbound_route(accepted=accepted, inbound_enabled=inbound, open_now=open_now, anyone_online=anyone) is route
