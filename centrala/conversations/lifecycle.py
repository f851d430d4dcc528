"""Opening, messages and closing of a conversation of any channel; History writes; events.

Every function works in the caller's session and leaves the commit to ``commit(session, bus)``,
which publishes the ``conversation.*`` events the work queued only once it is committed (a
rolled-back conversation never announced itself).  The old ``chat.*``/``call.*`` names are
published beside them while something subscribes to them (see ``agents/events.py``).
"""
from __future__ import annotations

from agents import conversation, events
from centrala.channels import registry
from centrala.channels.base import Inbound, Message, Sent
from centrala.models import Communication, User, utcnow

_QUEUE = "centrala.conversation_events"


class ConversationError(Exception):
    """``status``: the HTTP answer an adapter gives (403 not yours, 404 none, 409 closed …)."""

    def __init__(self, status: int, message: str, code: str = ""):
        super().__init__(message)
        self.status, self.code = status, code or "refused"


# -- events after commit -------------------------------------------------------------------------
def announce(session, name: str, **data) -> None:
    """Queue a domain event to publish when the session's work is committed by ``commit``."""
    session.info.setdefault(_QUEUE, []).append((name, data))


def commit(session, bus) -> list[events.Event]:
    """Commit, then publish what was announced (in order).  Returns the events published."""
    session.commit()
    queued = session.info.pop(_QUEUE, [])
    return [bus.publish(name, **data) for name, data in queued]


def discard(session) -> None:
    """Roll back and forget the announced events."""
    session.rollback()
    discard_events(session)


def discard_events(session) -> None:
    """Forget the announced events (a caller with no bus to publish them on)."""
    session.info.pop(_QUEUE, None)


# -- reading ---------------------------------------------------------------------------------
def get(session, comm_id, channel: str | None = None) -> Communication | None:
    """A conversation by id (of one channel, when given)."""
    if not isinstance(comm_id, int) or isinstance(comm_id, bool) or not 0 < comm_id < 2 ** 63:
        return None   # no such row (and no 64-bit overflow in the database driver)
    c = session.get(Communication, comm_id)
    if c is None or (channel is not None and c.channel != channel):
        return None
    return c


def may_take_part(user: User, c: Communication) -> bool:
    """Who may read and write a conversation's messages: its agent, or an administrator
    (the panel's chat view and the REST API alike)."""
    return user.is_admin or c.agent_id == user.id


def owned(session, user: User, comm_id) -> Communication:
    """The conversation if ``user`` may take part in it, else ConversationError (404/403)."""
    c = get(session, comm_id)
    if c is None:
        raise ConversationError(404, "No such communication.", "not_found")
    if not may_take_part(user, c):
        raise ConversationError(403, "This is another agent's conversation.", "forbidden")
    return c


def state(c: Communication) -> str:
    return conversation.state_of(ended=c.ended_at is not None, agent=c.agent_id, offered=bool(c.agents_rung))


# -- opening -----------------------------------------------------------------------------------
def open(session, channel: str, *, remote: str, direction: str = "inbound", agent_id: int | None = None,
         outcome: str = conversation.IN_PROGRESS, **columns) -> Communication:  # noqa: A001
    """A new conversation in History (state opened; accepted at once when ``agent_id`` starts it).
    ``columns``: channel-specific Communication columns (our_number, trunk, pbx_id …)."""
    values = opened_values(channel, remote=remote, direction=direction, agent_id=agent_id, outcome=outcome)
    c = Communication(**values, **columns)
    session.add(c)
    session.flush()
    announce(session, events.CONVERSATION_OPENED, **_opened(c.id, values))
    if outcome != conversation.IN_PROGRESS:   # over as it starts (a chat's offline form)
        c.ended_at = c.started_at or utcnow()
        announce_closed(session, c, by=agent_id)
    return c


def opened_values(channel: str, *, remote: str, direction: str = "inbound", agent_id: int | None = None,
                  outcome: str = conversation.IN_PROGRESS) -> dict:
    """The columns of a new conversation's row (for a caller that writes it in one statement, the
    pbx controller's hot path, as ``open`` does through the ORM)."""
    ch = registry.get(channel)
    if not conversation.allowed_outcome(ch.key, outcome):
        raise ValueError(f"{outcome!r} is not an outcome of {ch.key}")
    return {"channel": ch.key, "direction": direction, "outcome": outcome, "remote": remote[:64],
            "agent_id": agent_id, "agents_rung": [], "note": ""}


def _opened(comm_id: int, values: dict) -> dict:
    return {"communication_id": comm_id, "channel": values["channel"], "direction": values["direction"],
            "remote": values["remote"], "agent_id": values["agent_id"]}


def announce_opened(bus, comm_id: int, channel: str, *, remote: str, direction: str = "inbound",
                    agent_id: int | None = None) -> None:
    """``conversation.opened`` for a row written (and committed) without ``open``."""
    bus.publish(events.CONVERSATION_OPENED, **_opened(comm_id, {"channel": channel, "direction": direction,
                                                                 "remote": remote, "agent_id": agent_id}))


# -- messages --------------------------------------------------------------------------------
def _message_event(session, c: Communication, m: Message) -> None:
    author = m.author or {}
    announce(session, events.CONVERSATION_MESSAGE, communication_id=c.id, channel=c.channel,
             message_id=m.id, direction=m.direction, author=author.get("kind"), user_id=author.get("id"),
             text=m.text, attachments=m.attachments, delivery=m.delivery)


def add_inbound(session, c: Communication, inbound: Inbound) -> Message:
    """The customer wrote (a visitor's message, an email, an SMS …): stored by its channel."""
    m = registry.get(c.channel).store_inbound(session, c, inbound)
    _message_event(session, c, m)
    return m


def reply(session, c: Communication, user: User, text, attachments=()) -> Sent:
    """An agent's reply through the conversation's own channel (checks who may write)."""
    if not may_take_part(user, c):
        raise ConversationError(403, "This is another agent's conversation.", "forbidden")
    sent = registry.get(c.channel).send(session, c, user.id, text, attachments)
    _message_event(session, c, sent.message)
    return sent


def messages(session, c: Communication) -> list[Message]:
    return registry.get(c.channel).messages(session, c)


# -- closing -------------------------------------------------------------------------------------
def close(session, c: Communication, outcome: str = conversation.ANSWERED, *, by: int | None = None) -> bool:
    """End a conversation with an outcome; False when it had already ended (nothing changes)."""
    if c.ended_at is not None:
        return False
    if not conversation.allowed_outcome(c.channel, outcome) or outcome == conversation.IN_PROGRESS:
        raise ValueError(f"{outcome!r} does not close a {c.channel} conversation")
    c.ended_at = utcnow()
    c.outcome = outcome
    t = conversation.times(c.started_at, c.answered_at, c.ended_at)
    if c.answered_at is not None:
        c.talk_seconds = t.talk
    else:                      # never accepted: the whole time was waiting
        c.wait_seconds = t.wait
    ch = registry.get(c.channel)
    ch.closed(session, c)
    announce_closed(session, c, by=by)
    if "closed" in ch.legacy_events:      # e.g. chat.closed, still offered to webhooks
        announce(session, ch.legacy_events["closed"], communication_id=c.id, outcome=outcome, user_id=by)
    return True


def announce_closed(session, c: Communication, *, by: int | None) -> None:
    """``conversation.closed`` for a conversation that has just ended (its outcome and times set)."""
    announce(session, events.CONVERSATION_CLOSED, communication_id=c.id, channel=c.channel, outcome=c.outcome,
             user_id=by if by is not None else c.agent_id, wait_seconds=c.wait_seconds,
             talk_seconds=c.talk_seconds)
