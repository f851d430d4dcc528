"""History of communications (HIS-1, HIS-2): listing, search and filters, recordings."""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta, timezone as dt_timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import exists, func, or_, select

from centrala.models import Communication, User, iso

OUTCOMES = ("answered", "missed", "abandoned", "voicemail", "failed", "interrupted", "in_progress")
CHANNELS = ("voice", "voicemail", "chat")
DIRECTIONS = ("inbound", "outbound")
Q_MAX = 100
CONTACTS_MATCHED = 50   # a name search looks at the numbers and addresses of this many contacts


@dataclass
class Filters:
    """What the History list is narrowed to (HIS-2); every field optional."""
    q: str = ""
    channel: str | None = None
    direction: str | None = None
    outcome: str | None = None
    agent_id: int | None = None
    contact_id: int | None = None
    day_from: date | None = None
    day_to: date | None = None

    def args(self) -> dict:
        """The non-empty filters as URL arguments (links, the pager)."""
        names = {"day_from": "from", "day_to": "to", "agent_id": "agent", "contact_id": "contact"}
        return {names.get(k, k): (v.isoformat() if isinstance(v, date) else v)
                for k, v in asdict(self).items() if v not in (None, "")}

    @property
    def narrowed(self) -> bool:
        """Anything besides the outcome chips (which have their own row)."""
        return any(v not in (None, "") for k, v in asdict(self).items() if k != "outcome")


def parse_filters(args, id_args: tuple[str, str] = ("agent", "contact")) -> tuple[Filters, dict[str, str]]:
    """Filters from URL arguments, and the problems found (argument -> code: bad_date, range,
    bad_choice, bad_id, too_long); a bad argument is left out of the filters.  ``id_args``: the
    names of the agent and contact arguments (the API says agent_id, contact_id)."""
    f, errors = Filters(), {}
    q = (args.get("q") or "").strip()
    if len(q) > Q_MAX:
        errors["q"] = "too_long"
    else:
        f.q = q
    for arg, attr, choices in (("channel", "channel", CHANNELS), ("direction", "direction", DIRECTIONS),
                               ("outcome", "outcome", OUTCOMES)):
        value = args.get(arg) or None
        if value and value not in choices:
            errors[arg] = "bad_choice"
        else:
            setattr(f, attr, value)
    for arg, attr in zip(id_args, ("agent_id", "contact_id")):
        value = (args.get(arg) or "").strip()
        if value:
            if value.isdigit():
                setattr(f, attr, int(value))
            else:
                errors[arg] = "bad_id"
    for arg, attr in (("from", "day_from"), ("to", "day_to")):
        value = (args.get(arg) or "").strip()
        if value:
            try:
                setattr(f, attr, date.fromisoformat(value))
            except ValueError:
                errors[arg] = "bad_date"
    if f.day_from and f.day_to and f.day_from > f.day_to:
        errors["to"] = "range"
        f.day_to = None
    return f, errors


def _like(text: str) -> str:
    from centrala.contacts import _escape_like

    return f"%{_escape_like(text)}%"


def query(channel: str | None = None, direction: str | None = None, outcome: str | None = None,
          *, filters: Filters | None = None, session=None, timezone: str = "Europe/Warsaw"):
    """The History query.  ``filters`` (HIS-2) needs the ``session`` for contact look-ups; dates
    are whole days in the account's ``timezone``."""
    f = filters or Filters(channel=channel, direction=direction, outcome=outcome)
    q = select(Communication)
    if f.channel:
        q = q.where(Communication.channel == f.channel)
    if f.direction:
        q = q.where(Communication.direction == f.direction)
    if f.outcome:
        q = q.where(Communication.outcome == f.outcome)
    if f.agent_id:
        q = q.where(Communication.agent_id == f.agent_id)
    def day_start(day: date) -> datetime:   # compared in UTC: SQLite stores the UTC wall time
        return datetime.combine(day, time.min, ZoneInfo(timezone)).astimezone(dt_timezone.utc)
    if f.day_from:
        q = q.where(Communication.started_at >= day_start(f.day_from))
    if f.day_to:
        q = q.where(Communication.started_at < day_start(f.day_to + timedelta(days=1)))
    if f.contact_id and session is not None:
        from centrala.models_contacts import Contact

        contact = session.get(Contact, f.contact_id)
        q = q.where(Communication.remote.in_(_remote_keys([contact] if contact else [])))
    if f.q:
        q = q.where(_text_match(session, f.q))
    return q


def _remote_keys(contacts) -> list[str]:
    from centrala.contacts import remote_keys

    return sorted({k for c in contacts for k in remote_keys(c)})   # none: IN () matches nothing


def _text_match(session, text: str):
    """Search (HIS-2): the number or address, the note, a chat's messages, or a contact whose
    name, organisation, email or phone matches (their numbers in any form the carrier sends)."""
    from centrala.models_chat import ChatMessage

    like = _like(text)
    conds = [Communication.remote.ilike(like, escape="\\"), Communication.note.ilike(like, escape="\\"),
             exists().where(ChatMessage.communication_id == Communication.id,
                            ChatMessage.body.ilike(like, escape="\\"))]
    digits = re.sub(r"\D", "", text)
    if re.fullmatch(r"[\d\s+()./-]+", text) and len(digits) >= 3:
        conds.append(Communication.remote.like(_like(digits.removeprefix("00")), escape="\\"))
    if session is not None:
        from centrala.contacts import search_filter
        from centrala.models_contacts import Contact

        where, _total = search_filter(text, session)
        if where is not None:
            from sqlalchemy.orm import selectinload

            contacts = session.scalars(select(Contact).where(where).options(
                selectinload(Contact.phones), selectinload(Contact.emails)).limit(CONTACTS_MATCHED)).all()
            if contacts:
                conds.append(Communication.remote.in_(_remote_keys(contacts)))
    return or_(*conds)


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


def contacts_of(session, rows, region: str) -> dict[int, tuple[int, str]]:
    """The contact behind each row's remote party (communication id -> (contact id, name)):
    one query for a page, by the E.164 form of whatever the carrier sent, or the email."""
    from centrala.contacts import phone_or_none
    from centrala.models_contacts import Contact, ContactEmail, ContactPhone

    wanted = {}
    for r in rows:
        if r.remote:
            key = r.remote.lower() if "@" in r.remote else phone_or_none(r.remote, region) or (
                r.remote if r.remote.startswith("+") else None)
            if key:
                wanted[r.id] = key
    if not wanted:
        return {}
    keys = set(wanted.values())
    found: dict[str, tuple[int, str]] = {}
    for model, col in ((ContactPhone, ContactPhone.number), (ContactEmail, ContactEmail.email)):
        for key, contact in session.execute(select(col, Contact).join(Contact, Contact.id == model.contact_id)
                                            .where(col.in_(keys)).order_by(Contact.id.desc())):
            found[key] = (contact.id, contact.display_name)   # the oldest contact wins, as on the call card
    return {cid: found[key] for cid, key in wanted.items() if key in found}


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
