"""History of communications (HIS-1): listing, filtering, recordings."""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from centrala.models import Communication, User, iso

OUTCOMES = ("answered", "missed", "abandoned", "voicemail", "failed", "in_progress")


def query(channel: str | None = None, direction: str | None = None, outcome: str | None = None):
    q = select(Communication)
    if channel:
        q = q.where(Communication.channel == channel)
    if direction:
        q = q.where(Communication.direction == direction)
    if outcome:
        q = q.where(Communication.outcome == outcome)
    return q


def page(session, q, page: int, per_page: int) -> tuple[list[Communication], int]:
    total = session.scalar(select(func.count()).select_from(q.subquery()))
    rows = session.scalars(q.order_by(Communication.started_at.desc(), Communication.id.desc())
                           .offset((page - 1) * per_page).limit(per_page)).all()
    return list(rows), total


def agent_names(session, rows) -> dict[int, str]:
    ids = {r.agent_id for r in rows if r.agent_id} | {u for r in rows for u in (r.agents_rung or [])}
    if not ids:
        return {}
    return dict(session.execute(select(User.id, User.name).where(User.id.in_(ids))).all())


def as_dict(c: Communication, names: dict[int, str], recording_url: str | None) -> dict:
    return {"id": c.id, "channel": c.channel, "direction": c.direction, "outcome": c.outcome,
            "number": c.remote, "our_number": c.our_number, "trunk": c.trunk,
            "agent": {"id": c.agent_id, "name": names.get(c.agent_id)} if c.agent_id else None,
            "agents_rung": list(c.agents_rung or []), "wait_seconds": c.wait_seconds,
            "talk_seconds": c.talk_seconds, "started_at": iso(c.started_at), "answered_at": iso(c.answered_at),
            "ended_at": iso(c.ended_at), "recording_url": recording_url, "note": c.note or ""}


NOTE_MAX = 4000


class NoteError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def may_edit(user: User, c: Communication) -> bool:
    """Administrators, the agent who handled it, or an agent it rang (a missed call's note)."""
    return user.is_admin or c.agent_id == user.id or user.id in (c.agents_rung or [])


def set_note(session, user: User, comm_id: int, text) -> Communication:
    """The note on a communication (VOI-8 call card, history): whole text replaced."""
    c = session.get(Communication, comm_id)
    if c is None:
        raise NoteError(404, "No such communication.")
    if not may_edit(user, c):
        raise NoteError(403, "This is another agent's communication.")
    if not isinstance(text, str):
        raise NoteError(422, "note must be text.")
    text = text.replace("\r\n", "\n").strip()
    if len(text) > NOTE_MAX:
        raise NoteError(422, f"The note may be at most {NOTE_MAX} characters long.")
    c.note = text
    session.commit()
    return c


def recording_path(data_dir: Path, c: Communication) -> Path | None:
    """The recording's file, only if it lies inside the data dir."""
    if not c.recording:
        return None
    path = (data_dir / c.recording).resolve()
    if data_dir.resolve() not in path.parents or not path.is_file():
        return None
    return path
