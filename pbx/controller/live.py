"""The controller's live-call state, typed: what it knows of each call while it lasts.

One :class:`LiveCall` per inbound call in Centrala's Stasis app (keyed by the caller's channel
id), one :class:`OutboundCall` per click-to-call, one :class:`TransferLeg` per ringing transfer
target.  Nothing here is stored: the History row (``communications``) is the durable record.
"""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import datetime


class _Seen:
    last_seen: float

    def seen(self, at: float | None = None) -> None:
        """Evidence that the call is live now (or at ``at``, a time.time())."""
        self.last_seen = time.time() if at is None else at


@dataclass
class LiveCall(_Seen):
    """An inbound call as the controller follows it, from StasisStart to its History row."""
    caller: str = ""
    comm_id: int | None = None          # its History row, once written
    started_at: datetime | None = None  # as written in that row
    answered_at: datetime | None = None  # as written in that row (the first agent's answer)
    rung: list[int] = field(default_factory=list)   # agents the queue rang, as written in that row
    # how the inbound flow routed it
    queued: bool = False                # handed to the queue (its end then comes from AMI Hangup)
    refused: bool = False               # number not ours / unavailable: played a notice
    voicemail: str | None = None        # the message's file under the data dir, if one was left
    abandoned: bool = False             # the caller left the queue unanswered
    # who talks to the caller
    agent_channel: str | None = None    # the answering agent's channel (hold/transfer act on it)
    user_id: int | None = None          # that agent
    held: bool = False
    consult: str | None = None          # label of the attended-transfer target being consulted
    consult_target: str | None = None   # that target (agent's SIP name or a number)
    # when the controller last had evidence the call was live (time.time()): an event about it,
    # or a heartbeat with both links up.  An interrupted call is closed at this time.
    last_seen: float = field(default_factory=time.time)
    opened: asyncio.Event = field(default_factory=asyncio.Event)     # History row written (or failed)
    flow_done: asyncio.Event = field(default_factory=asyncio.Event)  # the Stasis flow returned


@dataclass
class OutboundCall(_Seen):
    """A click-to-call (COM-2), keyed by its agent channel id ``c2c-<communication id>``."""
    comm_id: int
    last_seen: float = field(default_factory=time.time)


@dataclass
class TransferLeg:
    """A transfer target's softphone ringing for a live call (VOI-8, VOI-9), keyed by its channel."""
    call_id: str                        # the live call it would take
    consult: bool                       # the consultation leg of an attended transfer
    user_id: int | None = None          # the target agent, once known (None: a number)
    answered: bool = False
    known: asyncio.Event = field(default_factory=asyncio.Event)   # user_id looked up
