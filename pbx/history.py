"""Call history rows (``communications``) kept by the pbx controller from what Asterisk reports.

Blocking database work: call these through ``asyncio.to_thread``.
"""
from __future__ import annotations

from sqlalchemy import select

from agents.history import outcome, seconds_between
from centrala.channels.voice import VOICE
from centrala.conversations import lifecycle
from centrala.models import Communication, User, utcnow


def open_call(db, pbx_id: str, remote: str, our_number: str | None, trunk: str | None, bus=None) -> int:
    """An inbound call's History row, opened by the conversation core; with ``bus`` it is also
    announced (``conversation.opened``)."""
    s = db.sessions()
    try:
        row = lifecycle.open(s, VOICE.key, remote=remote, our_number=our_number, trunk=trunk, pbx_id=pbx_id)
        if bus is not None:
            lifecycle.commit(s, bus)
        else:
            lifecycle.discard_events(s)
            s.commit()
        return row.id
    finally:
        s.close()


def user_for_interface(db, interface: str) -> int | None:
    username = interface.split("/", 1)[-1]
    with db.session() as s:
        return s.scalar(select(User.id).where(User.sip_username == username))


def agent_rung(db, comm_id: int, user_id: int) -> None:
    with db.session() as s:
        row = s.get(Communication, comm_id)
        if row is not None and user_id not in (row.agents_rung or []):
            row.agents_rung = list(row.agents_rung or []) + [user_id]


def answered(db, comm_id: int, user_id: int | None) -> None:
    with db.session() as s:
        row = s.get(Communication, comm_id)
        if row is not None and row.answered_at is None:
            row.answered_at = utcnow()
            row.agent_id = user_id
            row.wait_seconds = seconds_between(_aware(row.started_at), row.answered_at)


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


def finish(db, comm_id: int, *, voicemail: str | None = None, abandoned: bool = False,
           refused: bool = False, recording: str | None = None) -> Communication | None:
    with db.session() as s:
        row = s.get(Communication, comm_id)
        if row is None:
            return None
        row.ended_at = row.ended_at or utcnow()
        started = _aware(row.started_at)
        if voicemail or recording:
            row.recording = voicemail or recording
        is_vm = bool(voicemail) or row.outcome == "voicemail"
        row.outcome = outcome(ended=True, answered=row.answered_at is not None, voicemail=is_vm,
                              abandoned=abandoned, refused=refused)
        if row.answered_at is not None:
            row.talk_seconds = seconds_between(_aware(row.answered_at), _aware(row.ended_at))
        else:
            row.wait_seconds = seconds_between(started, _aware(row.ended_at))
        return row


def _aware(dt):
    from datetime import timezone

    return dt if dt is None or dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def add_note(db, comm_id: int, line: str) -> None:
    with db.session() as s:
        row = s.get(Communication, comm_id)
        if row is not None:
            row.note = (row.note + "\n" if row.note else "") + line


LOST_NOTE = "Cut off: the connection to the PBX was lost"


def close_lost(db, live_ids: set[str], started_before) -> list[tuple[int, str, str]]:
    """Calls the history still shows in progress though Asterisk no longer has their channel
    (Asterisk or the controller restarted mid-call): end them now, answered ones as answered
    (with a note), the others as failed.  Returns (communication id, outcome, channel id)."""
    closed = []
    with db.session() as s:
        rows = s.scalars(select(Communication).where(Communication.channel == "voice",
                                                     Communication.outcome == "in_progress"))
        for row in rows:
            channel_id = row.pbx_id if row.direction == "inbound" else f"c2c-{row.id}"
            if channel_id in live_ids or _aware(row.started_at) >= started_before:
                continue
            row.ended_at = utcnow()
            answered = row.answered_at is not None
            row.outcome = outcome(ended=True, answered=answered, voicemail=False, abandoned=False,
                                  refused=not answered)
            if answered:
                row.talk_seconds = seconds_between(_aware(row.answered_at), row.ended_at)
            else:
                row.wait_seconds = seconds_between(_aware(row.started_at), row.ended_at)
            row.note = (row.note + "\n" if row.note else "") + LOST_NOTE
            closed.append((row.id, row.outcome, channel_id))
    return closed
