"""What became of a call (HIS-1, VOI-8): the outcome follows from what happened, in any order."""
from __future__ import annotations

from datetime import datetime

OUTCOMES = ("in_progress", "answered", "missed", "abandoned", "voicemail", "failed", "interrupted")


def outcome(*, ended: bool, answered: bool, voicemail: bool, abandoned: bool, refused: bool) -> str:
    if voicemail:
        return "voicemail"
    if answered:
        return "answered"
    if not ended:
        return "in_progress"
    if refused:
        return "failed"
    if abandoned:
        return "abandoned"
    return "missed"


def seconds_between(a: datetime | None, b: datetime | None) -> float | None:
    if a is None or b is None:
        return None
    return round(max(0.0, (b - a).total_seconds()), 2)
