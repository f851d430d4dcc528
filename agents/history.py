"""What became of a call (HIS-1, VOI-8).  The rules live in ``agents/conversation.py``; these
names stay for the pbx controller's history writer."""
from __future__ import annotations

from .conversation import OUTCOMES_BY_CHANNEL, VOICE, seconds_between  # noqa: F401
from .conversation import call_outcome as outcome  # noqa: F401

OUTCOMES = OUTCOMES_BY_CHANNEL[VOICE]
