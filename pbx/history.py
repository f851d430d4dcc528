"""Call history rows (``communications``) kept by the pbx controller from what Asterisk reports.

Blocking database work: call these through ``asyncio.to_thread``.  The writes every call makes
(open, rung, answered, finished) are single Core statements built once, with bound parameters:
the ORM's identity map and unit of work cost ~3x the CPU for one row, and building a statement
for every write costs as much again (SQLAlchemy's cache key walk); the controller makes them at
the call rate.
"""
from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import bindparam, insert, select, update

from agents.calls import INTERRUPTED, interrupted_end, is_lost
from agents.history import outcome, seconds_between
from centrala.channels.voice import VOICE
from centrala.conversations import lifecycle
from centrala.models import Communication, User, utcnow


_C = Communication
_OPEN = insert(_C)
_SET_RUNG = update(_C).where(_C.id == bindparam("cid")).values(agents_rung=bindparam("rung"))
_ANSWER = (update(_C).where(_C.id == bindparam("cid"), _C.answered_at.is_(None))
           .values(answered_at=bindparam("at"), agent_id=bindparam("uid"), wait_seconds=bindparam("wait")))
_STARTED = select(_C.started_at).where(_C.id == bindparam("cid"), _C.answered_at.is_(None))
_KNOWN = select(_C.started_at, _C.answered_at, _C.ended_at, _C.outcome, _C.remote).where(_C.id == bindparam("cid"))
_FINISH: dict[tuple[str, ...], object] = {}     # one prebuilt UPDATE per set of columns written


def _finish_statement(keys: tuple[str, ...]):
    stmt = _FINISH.get(keys)
    if stmt is None:
        stmt = _FINISH[keys] = update(_C).where(_C.id == bindparam("cid")).values(
            {k: bindparam(f"v_{k}") for k in keys})
    return stmt


def open_call(db, pbx_id: str, remote: str, our_number: str | None, trunk: str | None,
              started_at=None, bus=None) -> int:
    """An inbound call's History row, opened as the conversation core opens one (channel voice,
    inbound, in progress: ``lifecycle.opened_values``) but in one INSERT — the controller's hot
    path; with ``bus`` it is announced as ``conversation.opened`` after the commit."""
    values = lifecycle.opened_values(VOICE.key, remote=remote, direction="inbound")
    with db.engine.begin() as conn:
        comm_id = conn.execute(_OPEN, {**values, "our_number": our_number, "trunk": trunk, "pbx_id": pbx_id,
                                       "started_at": started_at or utcnow()}).inserted_primary_key[0]
    if bus is not None:
        lifecycle.announce_opened(bus, comm_id, VOICE.key, remote=values["remote"], direction="inbound")
    return comm_id


def user_for_interface(db, interface: str) -> int | None:
    username = interface.split("/", 1)[-1]
    with db.session() as s:
        return s.scalar(select(User.id).where(User.sip_username == username))


def set_rung(db, comm_id: int, rung: list[int]) -> None:
    """The agents the queue has rung for a call so far (the controller keeps the list)."""
    with db.engine.begin() as conn:
        conn.execute(_SET_RUNG, {"cid": comm_id, "rung": list(rung)})


def agent_rung(db, comm_id: int, user_id: int) -> None:
    with db.engine.begin() as conn:
        row = conn.execute(select(Communication.agents_rung).where(Communication.id == comm_id)).first()
        if row is not None and user_id not in (row.agents_rung or []):
            conn.execute(update(Communication).where(Communication.id == comm_id)
                         .values(agents_rung=list(row.agents_rung or []) + [user_id]))


def answered(db, comm_id: int, user_id: int | None, started_at=None):
    """The first agent answered (later answers change nothing); ``started_at``: the row's, when
    the caller knows it (saves reading it).  Returns the time written."""
    now = utcnow()
    with db.engine.begin() as conn:
        started = started_at or conn.scalar(_STARTED, {"cid": comm_id})
        if started is not None:
            conn.execute(_ANSWER, {"cid": comm_id, "at": now, "uid": user_id,
                                   "wait": seconds_between(_aware(started), now)})
    return now


def handed_over(db, comm_id: int, user_id: int) -> None:
    """A transfer target answered: the call is now theirs (their card's actions, History's agent);
    the agents before them stay listed as rung."""
    with db.session() as s:
        row = s.get(Communication, comm_id)
        if row is not None:
            if row.agent_id is not None and row.agent_id not in (row.agents_rung or []):
                row.agents_rung = list(row.agents_rung or []) + [row.agent_id]
            row.agent_id = user_id


def answered_outbound(db, comm_id: int) -> None:
    """The customer picked up a click-to-call; the agent on it was set when it was requested."""
    with db.session() as s:
        row = s.get(Communication, comm_id)
        if row is not None and row.answered_at is None:
            row.answered_at = utcnow()
            row.wait_seconds = seconds_between(_aware(row.started_at), row.answered_at)


class Finished(NamedTuple):
    """What the controller publishes of a finished row."""
    id: int
    outcome: str
    remote: str


class Known(NamedTuple):
    """What the controller already knows of a row it wrote (finish need not read it)."""
    started_at: object
    answered_at: object
    ended_at: object = None
    outcome: str = "in_progress"
    remote: str = ""


def finish(db, comm_id: int, *, voicemail: str | None = None, abandoned: bool = False,
           refused: bool = False, recording: str | None = None, known: Known | None = None) -> Finished | None:
    with db.engine.begin() as conn:
        row = known or conn.execute(_KNOWN, {"cid": comm_id}).first()
        if row is None:
            return None
        ended = _aware(row.ended_at) or utcnow()
        answered = _aware(row.answered_at)
        values = {"ended_at": ended,
                  "outcome": outcome(ended=True, answered=answered is not None,
                                     voicemail=bool(voicemail) or row.outcome == "voicemail",
                                     abandoned=abandoned, refused=refused)}
        if voicemail or recording:
            values["recording"] = voicemail or recording
        if answered is not None:
            values["talk_seconds"] = seconds_between(answered, ended)
        else:
            values["wait_seconds"] = seconds_between(_aware(row.started_at), ended)
        keys = tuple(sorted(values))
        if conn.execute(_finish_statement(keys), {"cid": comm_id, **{f"v_{k}": values[k] for k in keys}}).rowcount == 0:
            return None
        return Finished(comm_id, values["outcome"], row.remote)


def _aware(dt):
    from datetime import timezone

    return dt if dt is None or dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def add_note(db, comm_id: int, line: str) -> None:
    with db.session() as s:
        row = s.get(Communication, comm_id)
        if row is not None:
            row.note = (row.note + "\n" if row.note else "") + line


LOST_NOTE = "Cut off: the connection to the PBX was lost"


def close_lost(db, live_ids: set[str], resync_at, last_seen: dict[int, object] | None = None,
               fallback_seen=None) -> list[tuple[int, str, str]]:
    """Calls the history still shows in progress though Asterisk no longer has their channel
    (Asterisk or the controller restarted mid-call): close them as interrupted, at the last
    moment each was known live (``last_seen`` by communication id, from the controller's memory;
    ``fallback_seen`` for calls a previous controller followed: its last heartbeat), with a note.
    Returns (communication id, outcome, channel id)."""
    last_seen = last_seen or {}
    closed = []
    with db.session() as s:
        rows = s.scalars(select(Communication).where(Communication.channel == VOICE.key,
                                                     Communication.outcome == "in_progress"))
        for row in rows:
            channel_id = row.pbx_id if row.direction == "inbound" else f"c2c-{row.id}"
            started = _aware(row.started_at)
            if not is_lost(channel_id, started, live_ids, resync_at):
                continue
            answered = _aware(row.answered_at)
            row.ended_at = interrupted_end(started, answered, last_seen.get(row.id, fallback_seen), resync_at)
            row.outcome = INTERRUPTED
            if answered is not None:
                row.talk_seconds = seconds_between(answered, row.ended_at)
            else:
                row.wait_seconds = seconds_between(started, row.ended_at)
            row.note = (row.note + "\n" if row.note else "") + LOST_NOTE
            closed.append((row.id, row.outcome, channel_id))
    return closed
