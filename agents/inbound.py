"""Where an inbound call goes (VOI-3, VOI-6, STA-4, BEY-5): pure policy, no Asterisk, no database.

Business hours are a weekly schedule per number: for each weekday either closed or one period
``open``–``close`` (local time, ``HH:MM``; ``24:00`` or ``00:00`` as closing time: midnight).  Local time is read in
the account's time zone (default Europe/Warsaw) with :mod:`zoneinfo`, so the schedule follows
summer time: 08:00 is 07:00 UTC in winter and 06:00 UTC in summer.  A number without a schedule
is always open.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from enum import Enum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")   # datetime.weekday() order
DEFAULT_TIMEZONE = "Europe/Warsaw"
_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$|^24:00$")


class HoursError(ValueError):
    """A schedule that cannot be used; ``day`` says which weekday (or None for the whole)."""

    def __init__(self, code: str, day: str | None = None):
        super().__init__(f"{code}{' (' + day + ')' if day else ''}")
        self.code = code    # bad_time | close_before_open | bad_shape
        self.day = day


def _minutes(text: str, day: str) -> int:
    text = str(text or "").strip()
    if not _TIME.match(text):
        raise HoursError("bad_time", day)
    h, m = text.split(":")
    return int(h) * 60 + int(m)


@dataclass(frozen=True)
class Schedule:
    """``days[i]``: None (closed) or (open, close) in minutes after local midnight, weekday i."""
    days: tuple

    @classmethod
    def parse(cls, data) -> "Schedule":
        """From the stored/API form ``{"mon": ["08:00", "16:00"], "sat": None, ...}``; a missing
        day is closed.  Raises :class:`HoursError`."""
        if not isinstance(data, dict) or set(data) - set(DAYS):
            raise HoursError("bad_shape")
        days = []
        for day in DAYS:
            period = data.get(day)
            if period is None:
                days.append(None)
                continue
            if not isinstance(period, (list, tuple)) or len(period) != 2:
                raise HoursError("bad_shape", day)
            start, end = _minutes(period[0], day), _minutes(period[1], day)
            end = end or 24 * 60   # closing at 00:00 is closing at midnight
            if end <= start:
                raise HoursError("close_before_open", day)
            days.append((start, end))
        return cls(tuple(days))

    def to_json(self) -> dict:
        return {day: None if p is None else [_hhmm(p[0]), _hhmm(p[1])] for day, p in zip(DAYS, self.days)}

    def is_open(self, when: datetime, tz: str = DEFAULT_TIMEZONE) -> bool:
        """Is the number open at ``when`` (an aware datetime; naive means UTC)?"""
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        local = when.astimezone(zone(tz))
        period = self.days[local.weekday()]
        if period is None:
            return False
        minute = local.hour * 60 + local.minute
        return period[0] <= minute < period[1]


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or DEFAULT_TIMEZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_TIMEZONE)


def valid_timezone(name: str) -> bool:
    return name in available_timezones()


def is_open(hours: dict | None, when: datetime, tz: str = DEFAULT_TIMEZONE) -> bool:
    """A stored schedule (or None: always open) at ``when``.  A stored schedule that no longer
    parses counts as always open: a caller is never turned away by a broken setting."""
    if not hours:
        return True
    try:
        return Schedule.parse(hours).is_open(when, tz)
    except HoursError:
        return True


class Route(str, Enum):
    REFUSE = "refuse"        # not one of our numbers: "service unavailable", hang up
    QUEUE = "queue"          # welcome prompt, then the agents' queue
    VOICEMAIL = "voicemail"  # answering machine: the caller may leave a message


def inbound_route(*, accepted: bool, inbound_enabled: bool, open_now: bool, anyone_online: bool) -> Route:
    """The inbound decision.  With the inbound voice channel switched off (VOI-6), outside the
    number's business hours (BEY-5) or with no agent Online (STA-4) the caller reaches the
    answering machine, so a message can still be left and nothing is lost."""
    if not accepted:
        return Route.REFUSE
    if not inbound_enabled or not open_now or not anyone_online:
        return Route.VOICEMAIL
    return Route.QUEUE
