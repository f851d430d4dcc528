"""Tasks tab (TSK-1…4): lists Mine / All / Overdue, create, view, edit, status, delete."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from agents import reminders
from centrala import audit
from centrala import files as store
from centrala import tasks as related
from centrala.models import Communication, User
from centrala.models_contacts import Contact
from centrala.models_files import StoredFile
from centrala.models_tasks import PRIORITIES, STATUSES, Task

from ..extensions import client_ip, dbs, settings
from ..files import services as file_services
from . import services

bp = Blueprint("tasks", __name__)
PER_PAGE = 25


def _form_data() -> dict:
    f = request.form
    data = {k: f.get(k, "") for k in ("title", "due", "tz_offset", "assignee_id", "priority", "status",
                                      "communication_id", "contact", "description", "remind")}
    # the browser's IANA zone (tasks.js); one this server does not know falls back to tz_offset
    zone = (f.get("time_zone") or "").strip()
    data["time_zone"] = zone if reminders.zone(zone) is not None else ""
    data["custom"] = {k[len("custom_"):]: v for k, v in f.items() if k.startswith("custom_")}
    return data


def _choices(s, task: Task | None = None, communication_id: int | None = None) -> dict:
    users = s.scalars(select(User).where(User.active.is_(True)).order_by(User.name)).all()
    comms = list(s.scalars(select(Communication).order_by(Communication.started_at.desc()).limit(30)))
    for cid in (communication_id, task.communication_id if task else None):
        c = s.get(Communication, cid) if cid else None
        if c is not None and c not in comms:
            comms.insert(0, c)
    recent_files = s.scalars(select(StoredFile).order_by(StoredFile.uploaded_at.desc()).limit(200)).all()
    contact = s.get(Contact, task.contact_id) if task and task.contact_id else None
    return {"contact_label": services.contact_label(contact) if contact else "",
            "users": users, "communications": comms, "recent_files": recent_files,
            "custom_fields": services.custom_fields(s), "priorities": PRIORITIES, "statuses": STATUSES,
            "priority_labels": services.PRIORITY_LABELS, "status_labels": services.STATUS_LABELS,
            "remind_choices": reminders.CHOICES, "remind_labels": services.REMIND_LABELS,
            "remind_default": reminders.DEFAULT, "size": file_services.size}


def _attachments(s, t: Task) -> tuple[list[str], list[StoredFile]]:
    """Attach files picked from Files and upload the ones from the computer; return refusals
    and the files stored now (their bytes go if the commit fails)."""
    problems, new = [], []
    picked, ok = services.file_ids(s, request.form.getlist("file_ids"))
    if not ok:
        problems.append(_("One of the chosen files no longer exists."))
    remove = {int(x) for x in request.form.getlist("remove_file_ids") if x.isdigit()}
    t.files = [f for f in t.files if f.id not in remove] + [f for f in picked if f not in t.files]
    uploads = [u for u in request.files.getlist("upload") if u and u.filename]
    if uploads:
        folder_id = services.attachments_folder(s, current_user.id)
        for u in uploads[:10]:
            try:
                f = store.store(s, settings().files_dir, u.stream, u.filename, folder_id, current_user.id,
                                file_services.limits())
                t.files.append(f)
                new.append(f)
            except store.FileError as e:
                problems.append(file_services.message(e))
    return problems, new


def _render_form(s, task: Task | None, errors: dict, form=None, status: int = 200, communication_id=None):
    return render_template("tasks/form.html", active_tab="tasks", task=task, errors=errors, form=form,
                           **_choices(s, task, communication_id)), status


@bp.app_template_global()
def tasks_for(communication_id: int | None = None, contact_id: int | None = None, limit: int = 50) -> list[Task]:
    """Tasks related to a communication or a contact, for other pages' templates
    (``{% include "tasks/_related.html" %}`` with ``communication_id`` or ``contact_id`` set)."""
    if communication_id is not None:
        return related.tasks_for_communication(dbs(), communication_id, limit)
    if contact_id is not None:
        return related.tasks_for_contact(dbs(), contact_id, limit)
    return []


@bp.app_template_global()
def task_overdue(t: Task) -> bool:
    """Due date passed and not Done: marked in every list of tasks."""
    return services.is_overdue(t)


@bp.get("/tasks")
@login_required
def index():
    s = dbs()
    kind = request.args.get("list") if request.args.get("list") in services.LISTS else "mine"
    text = (request.args.get("q") or "").strip()[:100]
    pg = max(1, request.args.get("page", 1, type=int))
    at = services.now()
    rows, total = services.page(s, services.query(kind, current_user.id, at, text), pg, PER_PAGE)
    ids = {t.assignee_id for t in rows} | {t.created_by for t in rows}
    names = file_services.user_names(s, ids)
    contacts = {c.id: c for c in s.scalars(select(Contact).where(Contact.id.in_({t.contact_id for t in rows if t.contact_id})))}
    counts = {k: services.count(s, services.query(k, current_user.id, at, text)) for k in services.LISTS}
    return render_template("tasks/index.html", active_tab="tasks", rows=rows, total=total, page=pg,
                           pages=max(1, -(-total // PER_PAGE)), kind=kind, q=text, names=names, contacts=contacts,
                           counts=counts, overdue=lambda t: services.is_overdue(t, at),
                           priority_labels=services.PRIORITY_LABELS, status_labels=services.STATUS_LABELS)


@bp.route("/tasks/new", methods=["GET", "POST"])
@login_required
def create():
    s = dbs()
    if request.method == "GET":
        comm = request.args.get("communication_id", type=int)
        contact = s.get(Contact, request.args.get("contact_id", type=int) or 0)
        return _render_form(s, None, {}, communication_id=comm,
                            form={"assignee_id": str(current_user.id), "priority": "normal", "status": "new",
                                  "communication_id": str(comm or ""),
                                  "contact": services.contact_label(contact) if contact else ""})
    file_services.allow_large_upload()
    data = _form_data()
    values, errors = services.validate(s, data, services.custom_fields(s))
    if errors:
        return _render_form(s, None, errors, request.form, 400)
    t = Task(created_by=current_user.id)
    services.apply(t, values)
    s.add(t)
    s.flush()
    problems, new = _attachments(s, t)
    file_services.commit_or_unlink(s, *new)
    actor = s.get(User, current_user.id)
    services.after_change(s, t, actor, "created", {"id": t.id})
    for p in problems:
        flash(p, "error")
    flash(_("Task “%(title)s” saved.", title=t.title), "success")
    return redirect(url_for("tasks.detail", task_id=t.id), 303)


@bp.get("/tasks/<int:task_id>")
@login_required
def detail(task_id: int):
    s = dbs()
    t = s.get(Task, task_id) or abort(404)
    names = file_services.user_names(s, [t.assignee_id, t.created_by])
    return render_template("tasks/detail.html", active_tab="tasks", t=t, names=names,
                           contact=s.get(Contact, t.contact_id) if t.contact_id else None,
                           comm=s.get(Communication, t.communication_id) if t.communication_id else None,
                           custom_fields=services.custom_fields(s), overdue=services.is_overdue(t),
                           may_edit=services.may_edit(current_user, t), may_delete=services.may_delete(current_user, t),
                           priority_labels=services.PRIORITY_LABELS, status_labels=services.STATUS_LABELS,
                           remind_labels=services.REMIND_LABELS, statuses=STATUSES, size=file_services.size)


@bp.route("/tasks/<int:task_id>/edit", methods=["GET", "POST"])
@login_required
def edit(task_id: int):
    s = dbs()
    t = s.get(Task, task_id) or abort(404)
    if not services.may_edit(current_user, t):
        abort(403, _("Only the task's author, its assignee or an administrator can change it."))
    if request.method == "GET":
        return _render_form(s, t, {})
    file_services.allow_large_upload()
    before = services.snapshot(t)
    fields = services.custom_fields(s)
    data = _form_data()
    values, errors = services.validate(s, data, fields)
    if errors:
        return _render_form(s, t, errors, request.form, 400)
    services.apply(t, values)
    problems, new = _attachments(s, t)
    file_services.commit_or_unlink(s, *new)
    services.after_change(s, t, s.get(User, current_user.id), "updated", before)
    for p in problems:
        flash(p, "error")
    flash(_("Task “%(title)s” saved.", title=t.title), "success")
    return redirect(url_for("tasks.detail", task_id=t.id), 303)


@bp.post("/tasks/<int:task_id>/status")
@login_required
def set_status(task_id: int):
    s = dbs()
    t = s.get(Task, task_id) or abort(404)
    if not services.may_edit(current_user, t):
        abort(403, _("Only the task's author, its assignee or an administrator can change it."))
    status = request.form.get("status")
    if status not in STATUSES:
        abort(400)
    before = services.snapshot(t)
    services.apply(t, {"status": status})
    s.commit()
    services.after_change(s, t, s.get(User, current_user.id), "updated", before)
    nxt = request.form.get("next") or ""
    local = nxt.startswith("/") and not nxt.startswith("//") and "\\" not in nxt   # no way off-site
    return redirect(nxt if local else url_for("tasks.detail", task_id=t.id), 303)


@bp.post("/tasks/<int:task_id>/delete")
@login_required
def delete(task_id: int):
    s = dbs()
    t = s.get(Task, task_id) or abort(404)
    if not services.may_delete(current_user, t):
        abort(403, _("Only the task's author or an administrator can delete it."))
    before, title = services.snapshot(t), t.title
    s.delete(t)
    audit.record(s, related.AUDIT_TASK_DELETED, actor=current_user, target=title, ip=client_ip(), task_id=task_id)
    s.commit()
    services.after_change(s, None, s.get(User, current_user.id), "deleted", before)
    flash(_("Task “%(title)s” deleted.", title=title), "success")
    return redirect(url_for("tasks.index"), 303)


@bp.get("/tasks/contacts")
@login_required
def contact_options():
    """Contacts matching ``q`` for the task form's picker (JSON, the panel's session)."""
    found = services.search_contacts(dbs(), (request.args.get("q") or "")[:100])
    return {"items": [{"id": c.id, "label": services.contact_label(c)} for c in found]}
