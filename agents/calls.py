"""Live calls as the domain sees them, independent of how Asterisk reports them."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

from .conversation import INTERRUPTED  # noqa: F401  (the outcome of a call whose end nobody saw)

# Q.850 causes that count as a normal end of a call.
NORMAL_CAUSES = {16, 31}


@dataclass
class Call:
    call_id: str
    caller: str
    number: str
    entered_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    cause: int | None = None

    @property
    def ended_normally(self) -> bool:
        return self.ended_at is not None and self.cause in NORMAL_CAUSES

    @property
    def duration(self) -> float:
        end = self.ended_at or datetime.now(timezone.utc)
        return (end - self.entered_at).total_seconds()


class CallRegistry:
    """Calls currently inside Centrala, keyed by the PBX channel id."""

    def __init__(self) -> None:
        self._calls: dict[str, Call] = {}

    def enter(self, call_id: str, caller: str, number: str) -> Call:
        call = self._calls.get(call_id) or Call(call_id, caller, number)
        self._calls[call_id] = call
        return call

    def answered(self, call_id: str) -> Call | None:
        call = self._calls.get(call_id)
        if call and call.answered_at is None:
            call.answered_at = datetime.now(timezone.utc)
        return call

    def end(self, call_id: str, cause: int | None) -> Call | None:
        call = self._calls.pop(call_id, None)
        if call:
            call.ended_at = datetime.now(timezone.utc)
            call.cause = cause
        return call

    def replace_all(self, live_ids: set[str]) -> set[str]:
        """After a reconnect: forget calls Asterisk no longer has; return the ids dropped."""
        dropped = set(self._calls) - live_ids
        for call_id in dropped:
            self._calls.pop(call_id)
        return dropped

    def __len__(self) -> int:
        return len(self._calls)

    def __contains__(self, call_id: str) -> bool:
        return call_id in self._calls


# -- calls cut off by an outage (Asterisk or the controller restarted mid-call) ------------


def interrupted_end(started_at: datetime, answered_at: datetime | None, last_seen: datetime | None,
                    resync_at: datetime) -> datetime:
    """When a call whose end went unseen ended, as far as anyone can tell: the last moment it
    was known to be live (its last event, or the last heartbeat with the links up), never before
    it started or was answered, never after the resync that found it gone.  Without that moment
    the last event of the call (answered, else started) is the end: an outage is never talk time."""
    floor = answered_at or started_at
    end = last_seen if last_seen is not None else floor
    return min(max(end, floor), max(resync_at, floor))


def is_lost(channel_id: str, started_at: datetime, live_ids: set[str], resync_at: datetime) -> bool:
    """An in-progress call is lost when Asterisk no longer has its channel; calls that started
    after the resync began are not judged (their channel may not have been listed yet)."""
    return channel_id not in live_ids and started_at < resync_at
