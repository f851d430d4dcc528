"""Who is offered a waiting text conversation, and a transfer of an accepted one: pure rules.

For any text channel (chat today; email, SMS, Messenger next), keyed by the skill agents need:
- a waiting conversation is offered to one Online agent serving the skill at a time, fewest open
  conversations first; not accepted within the channel's timeout -> the next one, and when all
  had their turn, a new round (like app_queue keeps ringing);
- an accepted conversation is handed to a named colleague (one offer), or to "anyone available"
  (the eligible agents one at a time, never the owner, one round); nobody took it -> it stays.

State lives in the database (``centrala/conversations/offers.py``); these functions only decide.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

OFFER = "offer"            # a waiting conversation offered to an agent
TRANSFER = "transfer"      # an accepted conversation offered by its owner to a colleague
KINDS = (OFFER, TRANSFER)

OPEN = "open"              # offered now (or waiting for someone to come Online)
ACCEPTED = "accepted"
WITHDRAWN = "withdrawn"    # a transfer nobody took, or cancelled: the owner keeps the conversation
CLOSED = "closed"          # the conversation ended (or was abandoned) before anyone accepted
STATES = (OPEN, ACCEPTED, WITHDRAWN, CLOSED)

# why an offer ended without being accepted (the panel words them)
TIMEOUT, AWAY, NOBODY, CANCELLED, ENDED = "timeout", "away", "nobody", "cancelled", "closed"

MAX_TRANSFER_NOTE = 200    # characters of the note for the colleague (never shown to the customer)


class InputError(ValueError):
    """What was sent is not acceptable; ``field`` names the input, ``code`` is stable."""

    def __init__(self, field: str, code: str):
        super().__init__(f"{field}: {code}")
        self.field = field
        self.code = code


@dataclass(frozen=True)
class OfferAgent:
    """What routing needs to know of an agent (no ORM object crosses into the domain).
    ``busy``: the agent's open conversations of the channel."""
    id: int
    status: str
    channels: tuple[str, ...]
    active: bool = True
    busy: int = 0


def serves(agent: OfferAgent | None, skill: str) -> bool:
    """May take work of ``skill`` now: active, Online, with the skill."""
    return agent is not None and agent.active and agent.status == "online" and skill in agent.channels


def eligible(agents: Iterable[OfferAgent], skill: str) -> list[int]:
    """Agents who may be offered a conversation now, least busy first, then by id (stable)."""
    return [a.id for a in sorted((a for a in agents if serves(a, skill)), key=lambda a: (a.busy, a.id))]


def anyone_online(agents: Iterable[OfferAgent], skill: str) -> bool:
    """STA-3/STA-4: a real-time channel is offered only while someone can take it."""
    return bool(eligible(agents, skill))


def next_agent(candidates: list[int], tried: list[int]) -> int | None:
    """The first candidate not tried yet in this round; when everyone was tried, start a new
    round (not with the one just tried, if there is another).  None when nobody is eligible."""
    if not candidates:
        return None
    for aid in candidates:
        if aid not in tried:
            return aid
    last = tried[-1] if tried else None
    return next((a for a in candidates if a != last), candidates[0])


def rollover(candidates: list[int], tried: list[int]) -> tuple[int | None, list[int]]:
    """The next agent to offer a waiting conversation to, and the round's tried list after it."""
    aid = next_agent(candidates, tried)
    tried = [] if candidates and set(candidates) <= set(tried) else list(tried)   # a new round
    return aid, (tried + [aid] if aid is not None else tried)


def next_colleague(candidates: list[int], tried: list[int], owner: int) -> int | None:
    """"Anyone available": the first eligible agent other than the owner not offered yet."""
    return next((a for a in candidates if a != owner and a not in tried), None)


def transfer_refusal(*, ended: bool, owner: int | None, by: int, skill: str, target: OfferAgent | None = None,
                     anyone: bool = False, others: Iterable[int] = (), pending: bool = False) -> str | None:
    """Why ``by`` may not hand the conversation over now (a stable code), or None when they may.

    Only the current owner of an open conversation transfers it, one transfer at a time; the
    target is another active agent with the skill who is Online.  ``anyone`` hands it to whoever
    of ``others`` (the eligible agents) accepts first: there must be someone besides the owner."""
    if ended:
        return "closed"
    if owner != by:
        return "not_owner"
    if pending:
        return "pending"
    if anyone:
        return None if any(a != by for a in others) else "nobody"
    if target is None or not target.active or skill not in target.channels:
        return "bad_agent"
    if target.id == by:
        return "self"
    if target.status != "online":
        return "not_online"
    return None


def withdrawal_reason(*, anyone: bool, target: OfferAgent | None) -> str:
    """Why a transfer offer ran out: nobody (anyone available), away (the colleague left), timeout."""
    if anyone:
        return NOBODY
    return AWAY if target is None or not target.active or target.status != "online" else TIMEOUT


def clean_transfer_note(text) -> str:
    """The optional short note for the colleague (never shown to the customer)."""
    text = " ".join(str(text or "").split())
    if len(text) > MAX_TRANSFER_NOTE:
        raise InputError("note", "too_long")
    return text
