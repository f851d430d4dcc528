"""The conversation lifecycle, once for every channel (pure: no Flask, SQLAlchemy or Asterisk).

A conversation is one ``Communication`` row in History, whatever its channel.  This module is
the one place that says

- which channels exist (their stable keys) and which agent skills each needs,
- which "types" History and the drawer know (a channel, or voicemail: a voice call that ended
  in a message),
- the states a conversation passes through (opened → offered → accepted → closed),
- the outcomes and which channel can end with which,
- how wait, talk and handle times are computed and rounded (one rule for all channels).

Labels (what a person reads) live in ``web/labels.py``; keys never change.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

# -- channels and skills ----------------------------------------------------------------------
VOICE, CHAT, EMAIL, SMS, FACEBOOK = "voice", "chat", "email", "sms", "facebook"
CHANNELS = (VOICE, CHAT, EMAIL, SMS, FACEBOOK)

# The skills an agent needs to serve a channel (users.channels holds skills).  Voice is split:
# inbound calls ring the agent, outbound calls are placed by the agent.
SKILLS_BY_CHANNEL: dict[str, tuple[str, ...]] = {
    CHAT: ("chat",),
    EMAIL: ("email",),
    VOICE: ("voice_in", "voice_out"),
    SMS: ("sms",),
    FACEBOOK: ("facebook",),
}
# Canonical order of skills on a user (kept as stored since ACC-4).
SKILLS: tuple[str, ...] = tuple(s for ch in (CHAT, EMAIL, VOICE, SMS, FACEBOOK) for s in SKILLS_BY_CHANNEL[ch])
INBOUND_SKILL = {ch: skills[0] for ch, skills in SKILLS_BY_CHANNEL.items()}   # who is offered inbound work
OUTBOUND_SKILL = {ch: skills[-1] for ch, skills in SKILLS_BY_CHANNEL.items()}  # who may start one

# -- states ---------------------------------------------------------------------------------
OPENED, OFFERED, ACCEPTED, CLOSED = "opened", "offered", "accepted", "closed"
STATES = (OPENED, OFFERED, ACCEPTED, CLOSED)
_MOVES = {OPENED: {OFFERED, ACCEPTED, CLOSED},     # an agent's own outbound call is accepted at once
          OFFERED: {OFFERED, ACCEPTED, CLOSED},    # offered to the next agent, taken, or given up
          ACCEPTED: {OFFERED, ACCEPTED, CLOSED},   # a transfer offers it again; accepting moves it
          CLOSED: set()}


def can_move(state: str, to: str) -> bool:
    return to in _MOVES.get(state, set())


def state_of(*, ended: bool, agent: int | None, offered: bool) -> str:
    """Where a stored conversation stands, from its columns (ended_at, agent_id, agents_rung)."""
    if ended:
        return CLOSED
    if agent is not None:
        return ACCEPTED
    return OFFERED if offered else OPENED


# -- outcomes -------------------------------------------------------------------------------
IN_PROGRESS, ANSWERED, MISSED, ABANDONED, VOICEMAIL, OFFLINE_FORM, FAILED = (
    "in_progress", "answered", "missed", "abandoned", "voicemail", "offline_form", "failed")
INTERRUPTED = "interrupted"   # a call whose end nobody saw (Asterisk or the controller went away)
OUTCOMES = (ANSWERED, MISSED, ABANDONED, VOICEMAIL, OFFLINE_FORM, FAILED, INTERRUPTED, IN_PROGRESS)
OUTCOMES_BY_CHANNEL: dict[str, tuple[str, ...]] = {
    VOICE: (ANSWERED, MISSED, ABANDONED, VOICEMAIL, FAILED, INTERRUPTED, IN_PROGRESS),
    CHAT: (ANSWERED, MISSED, OFFLINE_FORM, IN_PROGRESS),
    EMAIL: (ANSWERED, MISSED, FAILED, IN_PROGRESS),
    SMS: (ANSWERED, MISSED, FAILED, IN_PROGRESS),
    FACEBOOK: (ANSWERED, MISSED, FAILED, IN_PROGRESS),
}


def allowed_outcome(channel: str, outcome: str) -> bool:
    return outcome in OUTCOMES_BY_CHANNEL.get(channel, ())


def call_outcome(*, ended: bool, answered: bool, voicemail: bool, abandoned: bool, refused: bool) -> str:
    """What became of a call (HIS-1, VOI-8): follows from what happened, in any order."""
    if voicemail:
        return VOICEMAIL
    if answered:
        return ANSWERED
    if not ended:
        return IN_PROGRESS
    if refused:
        return FAILED
    if abandoned:
        return ABANDONED
    return MISSED


# -- types: what History's filter and the drawer call a kind of work -----------------------------
@dataclass(frozen=True)
class Kind:
    """A History type: the channel, and the outcome it is narrowed to (voicemail) if any."""
    key: str
    channel: str
    outcome: str | None = None


TYPES: dict[str, Kind] = {
    VOICE: Kind(VOICE, VOICE),
    VOICEMAIL: Kind(VOICEMAIL, VOICE, VOICEMAIL),
    CHAT: Kind(CHAT, CHAT),
    EMAIL: Kind(EMAIL, EMAIL),
    SMS: Kind(SMS, SMS),
    FACEBOOK: Kind(FACEBOOK, FACEBOOK),
}
# The drawer's items: incoming work of any type, and what is not a conversation.
TASK, SYSTEM = "task", "system"
DRAWER_KINDS = tuple(TYPES) + (TASK, SYSTEM)


def kind_of(channel: str, outcome: str | None) -> str:
    """The type of a stored conversation (a voice call that ended in a message is voicemail)."""
    for kind in TYPES.values():
        if kind.outcome is not None and kind.channel == channel and kind.outcome == outcome:
            return kind.key
    return channel


# -- times ----------------------------------------------------------------------------------
DECIMALS = 1    # every duration, every channel: tenths of a second


def _aware(dt: datetime | None) -> datetime | None:
    """SQLite gives naive datetimes back; everything here is UTC."""
    return dt if dt is None or dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def seconds_between(a: datetime | None, b: datetime | None) -> float | None:
    """The one duration rule: never negative, rounded to ``DECIMALS``."""
    a, b = _aware(a), _aware(b)
    if a is None or b is None:
        return None
    return round(max(0.0, (b - a).total_seconds()), DECIMALS)


@dataclass(frozen=True)
class Times:
    wait: float | None     # start → accepted (or → end when nobody accepted)
    talk: float | None     # accepted → end (None while open, or never accepted)
    handle: float | None   # start → end


def times(started: datetime, accepted: datetime | None, ended: datetime | None) -> Times:
    """Wait, talk and handle time of a conversation, the same for every channel."""
    wait = seconds_between(started, accepted if accepted is not None else ended)
    talk = seconds_between(accepted, ended) if accepted is not None else None
    return Times(wait, talk, seconds_between(started, ended))
