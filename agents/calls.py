"""Live calls as the domain sees them, independent of how Asterisk reports them."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

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
