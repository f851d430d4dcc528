"""Tasks (TSK-1…4): lists, validation, permissions, the assignee's notification and live badge.

Shared by the pages (``http.py``) and the REST API (``api.py``).
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from flask import current_app
from flask_babel import gettext as _, lazy_gettext as _l
from sqlalchemy import case, func, select

from agents import ownership
from agents import events
from agents import reminders
from centrala import files as store
from centrala import tasks as tasks_domain
from centrala.models import Communication, User, iso
from centrala.models_contacts import Contact, CustomField
from centrala.models_files import Folder, StoredFile
from centrala.models_tasks import PRIORITIES, STATUSES, Task

from agents.conversation import TASK

from ..notifications import notifier
from ..notifications import services as notifications

PRIORITY_LABELS = {"low": _l("Low"), "normal": _l("Normal"), "urgent": _l("Urgent"), "critical": _l("Critical")}
STATUS_LABELS = {"new": _l("New"), "in_progress": _l("In progress"), "done": _l("Done")}
REMIND_LABELS = {"none": _l("No reminder"), "at_due": _l("At the due time"), "15m": _l("15 minutes before"),
                 "1h": _l("1 hour before"), "1d": _l("1 day before")}
LISTS = ("mine", "all", "overdue")
ATTACHMENTS_FOLDER = "Task attachments"   # uploaded attachments land here in Files
MAX_TITLE, MAX_DESCRIPTION, MAX_SHORT, MAX_LONG = 200, 10000, 500, 5000


def now() -> datetime:
    return datetime.now(timezone.utc)


def aware(dt: datetime | None) -> datetime | None:
    """SQLite hands back naive UTC; PostgreSQL aware.  Compare them as aware."""
    return dt if dt is None or dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def is_overdue(t: Task, at: datetime | None = None) -> bool:
    return t.status != "done" and t.due_at is not None and aware(t.due_at) < (at or now())


open_count = tasks_domain.open_count  # the badge, defined with the model-level helpers


def query(kind: str, user_id: int, at: datetime | None = None, text: str = ""):
    q = select(Task)
    if text.strip():
        like = "%" + text.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        q = q.where(func.lower(Task.title).like(like, escape="\\"))
    if kind == "mine":
        q = q.where(Task.assignee_id == user_id)
    elif kind == "overdue":
        q = q.where(Task.status != "done", Task.due_at.is_not(None), Task.due_at < (at or now()))
    done_last = case((Task.status == "done", 1), else_=0)
    no_due_last = case((Task.due_at.is_(None), 1), else_=0)
    return q.order_by(done_last, no_due_last, Task.due_at, Task.id)


def count(session, q) -> int:
    return session.scalar(select(func.count()).select_from(q.order_by(None).subquery()))


def page(session, q, number: int, per_page: int):
    total = session.scalar(select(func.count()).select_from(q.order_by(None).subquery()))
    rows = session.scalars(q.offset((number - 1) * per_page).limit(per_page)).all()
    return list(rows), total


# -- permissions --------------------------------------------------------------------------
def may_edit(user, t: Task) -> bool:
    return ownership.may_edit_task(user, t.created_by, t.assignee_id)


def may_delete(user, t: Task) -> bool:
    return ownership.may_delete_task(user, t.created_by)


# -- custom fields (the contacts helper's model, applies_to='task') ------------------------
def custom_fields(session) -> list[CustomField]:
    return list(session.scalars(select(CustomField).where(CustomField.applies_to == "task")
                                .order_by(CustomField.position, CustomField.id)))


# -- validation ---------------------------------------------------------------------------
def parse_due(raw: str | None, tz_offset=None, zone=None) -> datetime | None:
    """``2026-11-30T16:25`` from a datetime-local field — the browser's wall-clock time in
    ``zone`` (an IANA zone, summer time applied on the server), else shifted by ``tz_offset``
    (minutes, as JavaScript's getTimezoneOffset) — or ISO 8601 with an offset; None if empty.
    Raises ValueError if it cannot be read."""
    raw = (raw or "").strip()
    if not raw:
        return None
    dt = datetime.fromisoformat(raw.replace("Z", "+00:00").replace(" ", "T", 1))
    if dt.tzinfo is None and zone is not None:
        return reminders.local_to_utc(dt, zone)
    if dt.tzinfo is None:
        minutes = int(tz_offset) if tz_offset not in (None, "") else 0
        if not -16 * 60 <= minutes <= 16 * 60:
            raise ValueError("tz_offset")
        dt = (dt + timedelta(minutes=minutes)).replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc)


_CONTACT_REF = re.compile(r"(?:#|^)(\d+)\)?\s*$")


def contact_ref(raw) -> int | None:
    """A contact id from ``12`` or from the picker's text ``Jan Kowalski — ACME (#12)``."""
    if raw in (None, ""):
        return None
    if isinstance(raw, int):
        return raw
    m = _CONTACT_REF.search(str(raw).strip())
    if not m:
        raise ValueError("contact")
    return int(m.group(1))


def contact_label(c: Contact) -> str:
    org = f" — {c.organisation}" if c.organisation and c.name else ""
    return f"{c.display_name}{org} (#{c.id})"


def validate(session, data: dict, fields: list[CustomField], current: Task | None = None) -> tuple[dict, dict]:
    """Clean values (only keys present in ``data`` when ``current`` is given: a partial update)
    and errors {field: message} in the current language."""
    values: dict = {}
    errors: dict = {}
    partial = current is not None

    def present(key):
        return not partial or key in data

    if present("title"):
        title = str(data.get("title") or "").strip()
        if not title:
            errors["title"] = _("Enter a title.")
        elif len(title) > MAX_TITLE:
            errors["title"] = _("At most %(n)d characters.", n=MAX_TITLE)
        values["title"] = title
    zone = None
    if present("time_zone"):
        name = str(data.get("time_zone") or "").strip()
        zone = reminders.zone(name)
        if name and zone is None:
            errors["time_zone"] = _("Unknown time zone; use a name like Europe/Warsaw.")
        values["time_zone"] = name if zone is not None else None
    elif current is not None:
        zone = reminders.zone(current.time_zone)
    if present("due"):
        try:
            values["due_at"] = parse_due(data.get("due"), data.get("tz_offset"), zone)
        except (TypeError, ValueError):
            errors["due"] = _("Enter a date and time like 2026-04-01 16:25.")
    if present("remind"):
        values["remind"] = data.get("remind") or reminders.DEFAULT
        if values["remind"] not in reminders.CHOICES:
            errors["remind"] = _("Choose when to remind: no reminder, at the due time, 15 minutes, "
                                 "1 hour or 1 day before.")
    if present("assignee_id"):
        raw = data.get("assignee_id")
        if raw in (None, ""):
            values["assignee_id"] = None
        else:
            try:
                user = session.get(User, int(raw))
            except (TypeError, ValueError):
                user = None
            if user is None or not user.active:
                errors["assignee_id"] = _("Choose an active user.")
            else:
                values["assignee_id"] = user.id
    if present("priority"):
        values["priority"] = data.get("priority") or "normal"
        if values["priority"] not in PRIORITIES:
            errors["priority"] = _("Choose a priority.")
    if present("status"):
        values["status"] = data.get("status") or "new"
        if values["status"] not in STATUSES:
            errors["status"] = _("Choose a status.")
    if present("communication_id"):
        raw = data.get("communication_id")
        try:
            cid = int(raw) if raw not in (None, "") else None
        except (TypeError, ValueError):
            cid = -1
        if cid is not None and session.get(Communication, cid) is None:
            errors["communication_id"] = _("Choose a communication from History.")
        values["communication_id"] = cid
    if present("contact"):
        try:
            cid = contact_ref(data.get("contact"))
        except ValueError:
            cid = -1
        if cid is not None and session.get(Contact, cid) is None:
            errors["contact"] = _("Choose a contact from the list.")
        values["contact_id"] = cid
    if present("description"):
        values["description"] = str(data.get("description") or "")
        if len(values["description"]) > MAX_DESCRIPTION:
            errors["description"] = _("At most %(n)d characters.", n=MAX_DESCRIPTION)
    custom_in = data.get("custom") if isinstance(data.get("custom"), dict) else None
    if custom_in is not None or not partial:
        custom = dict(current.custom or {}) if current is not None else {}
        for f in fields:
            if custom_in is not None and f.key not in custom_in:
                continue
            text = str((custom_in or {}).get(f.key) or "").strip() if custom_in is not None else ""
            limit = MAX_LONG if f.kind == "long" else MAX_SHORT
            if len(text) > limit:
                errors["custom_" + f.key] = _("At most %(n)d characters.", n=limit)
            if text:
                custom[f.key] = text
            else:
                custom.pop(f.key, None)
        values["custom"] = custom
    return values, errors


def file_ids(session, raw_ids) -> tuple[list[StoredFile], bool]:
    """Files for the ids given; ok=False when one does not exist."""
    found, ok = [], True
    for raw in raw_ids or []:
        try:
            f = session.get(StoredFile, int(raw))
        except (TypeError, ValueError):
            f = None
        if f is None:
            ok = False
        elif f not in found:
            found.append(f)
    return found, ok


def attachments_folder(session, user_id: int) -> int:
    folder = session.scalar(select(Folder).where(Folder.parent_id.is_(None), Folder.name == ATTACHMENTS_FOLDER))
    if folder is None:
        folder = store.create_folder(session, ATTACHMENTS_FOLDER, None, user_id)
    return folder.id


# -- changes, notification, badges --------------------------------------------------------
def _same_moment(a: datetime | None, b: datetime | None) -> bool:
    return (a is None) == (b is None) and (a is None or aware(a) == aware(b))


def apply(t: Task, values: dict, at: datetime | None = None) -> None:
    """Set the values; a new due date or reminder choice arms the reminder again (also one
    already sent), computed in the zone the due date was set in."""
    rearm = (("due_at" in values and not _same_moment(values["due_at"], t.due_at))
             or ("remind" in values and values["remind"] != t.remind))
    for key, value in values.items():
        setattr(t, key, value)
    if "status" in values:
        t.done_at = (t.done_at or now()) if t.status == "done" else None
    if rearm:
        t.remind_at = reminders.arm(t.due_at, t.remind or reminders.NONE, at or now(),
                                    reminders.zone(t.time_zone))
        t.reminded_at = None


def due_label(t: Task) -> str:
    """The due moment in the zone it was set in (else UTC), with the zone's abbreviation."""
    if t.due_at is None:
        return ""
    local = aware(t.due_at).astimezone(reminders.zone(t.time_zone) or timezone.utc)
    return local.strftime("%Y-%m-%d %H:%M ") + (local.tzname() or "UTC")


def reminder_texts(t: Task) -> tuple[str, str]:
    """Drawer title and body of a task's reminder, in the current language."""
    return (_("Reminder: %(title)s, due %(when)s", title=t.title, when=due_label(t)),
            _("Due %(when)s", when=due_label(t)))


def after_change(session, t: Task | None, actor: User, action: str, before: dict) -> None:
    """Committed already: tell the new assignee (drawer), refresh the badges of everyone whose
    open-task count may have changed, publish the domain event."""
    affected = {before.get("assignee_id")}
    task_id = before.get("id") if t is None else t.id
    if t is not None:
        affected.add(t.assignee_id)
        if t.assignee_id and t.assignee_id != actor.id and t.assignee_id != before.get("assignee_id"):
            _notify(session, t.assignee_id, "assigned", t)
        if (t.status == "done" and before.get("status") != "done" and t.created_by
                and t.created_by not in (actor.id, t.assignee_id)):
            _notify(session, t.created_by, "done", t)
    affected.discard(None)
    emit_badges(session, affected)
    current_app.extensions["centrala.bus"].publish(events.TASK_CHANGED, task_id=task_id, action=action,
                                                   user_ids=sorted(affected), actor_id=actor.id)


def _notify(session, user_id: int, what: str, t: Task) -> None:
    """A task for an agent: through the one notifier (their drawer, in their language)."""
    if what == "assigned":
        title = lambda: _("New task: %(title)s", title=t.title)   # noqa: E731
    else:
        title = lambda: _("Task done: %(title)s", title=t.title)  # noqa: E731
    notifier.notify(current_app, session, notifier.Work(
        TASK, [user_id], title, link=f"/tasks/{t.id}",
        body=lambda: _("Due %(when)s", when=due_label(t)) if t.due_at else ""))


def emit_badges(session, user_ids) -> None:
    sio = current_app.extensions["socketio"]
    for uid in user_ids:
        sio.emit("badges", notifications.badges(session, uid), to=f"user:{uid}", namespace=notifications.NAMESPACE)


def snapshot(t: Task) -> dict:
    return {"id": t.id, "assignee_id": t.assignee_id, "status": t.status}


def task_json(t: Task, at: datetime | None = None) -> dict:
    return {"id": t.id, "title": t.title, "due_at": iso(t.due_at), "assignee_id": t.assignee_id,
            "priority": t.priority, "status": t.status, "communication_id": t.communication_id,
            "contact_id": t.contact_id, "description": t.description, "custom": dict(t.custom or {}),
            "files": [{"id": f.id, "name": f.name, "size": f.size_bytes, "content_type": f.content_type}
                      for f in t.files],
            "created_by": t.created_by, "created_at": iso(t.created_at), "updated_at": iso(t.updated_at),
            "done_at": iso(t.done_at), "overdue": is_overdue(t, at),
            "remind": t.remind, "remind_at": iso(t.remind_at), "reminded_at": iso(t.reminded_at),
            "time_zone": t.time_zone}


def search_contacts(session, q: str, limit: int = 10) -> list[Contact]:
    """The contact picker: the Contacts tab's own search (names, organisation, any email, any
    phone however it is typed)."""
    from centrala import contacts

    if not q.strip():
        return []
    return contacts.search(session, q, per_page=limit, count=False)[0]
