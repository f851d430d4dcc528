"""Contacts tab (CON-1…5): list with search, sort and paging; contact form and view; CSV export;
the import wizard (upload → status list → configure → verify → import); Settings / Custom
fields (SET-3)."""
from __future__ import annotations

from datetime import datetime, timezone

from flask import (Blueprint, Response, abort, flash, jsonify, redirect, render_template, request,
                   send_file, url_for)
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from centrala import account, audit
from centrala import contact_export as X
from centrala import contact_import as I
from centrala import contacts as C
from centrala import custom_fields as CF
from centrala.models import User
from centrala.models_contacts import Contact, ContactImport, CustomField

from ..auth.permissions import admin_required
from ..extensions import client_ip, db, dbs, settings
from ..labels import communication_label
from . import services as S

bp = Blueprint("contacts", __name__)
PER_PAGE = 25


@bp.app_context_processor
def contact_labels():
    return {"email_kind_labels": S.EMAIL_KIND_LABELS, "phone_kind_labels": S.PHONE_KIND_LABELS,
            "display_phone": C.display_phone, "outcome_labels": S.OUTCOME_LABELS}


def _region() -> str:
    """Settings / General's default phone region (else CENTRALA_DEFAULT_REGION), read per request."""
    return account.default_region(dbs(), settings())


# -- list, search ---------------------------------------------------------------------------
@bp.get("/contacts")
@login_required
def index():
    s = dbs()
    q = request.args.get("q", "").strip()[:200]
    sort = request.args.get("sort") if request.args.get("sort") in C.SORTS else "last_name"
    page = max(1, request.args.get("page", 1, type=int))
    rows, total = C.search(s, q, sort, page, PER_PAGE)
    pages = max(1, -(-total // PER_PAGE))
    return render_template("contacts/index.html", active_tab="contacts", section="list", rows=rows, total=total,
                           q=q, sort=sort, page=page, pages=pages, sort_labels=S.SORT_LABELS)


# -- create / edit / view / delete ----------------------------------------------------------------
def _form_page(contact: Contact | None, values: dict, errors: dict, status: int = 200):
    fields = C.custom_fields(dbs())
    return render_template("contacts/form.html", active_tab="contacts", section="list", contact=contact,
                           values=values, errors=errors, fields=fields), status


def _values_of(contact: Contact | None, form=None, fields=()) -> dict:
    if form is not None:
        data = S.form_data(form, fields)
        return {"first_name": data.first_name, "last_name": data.last_name, "organisation": data.organisation,
                "address": data.address, "note": data.note, "emails": data.emails or [("", "work")],
                "phones": data.phones or [("", "mobile")], "custom": data.custom}
    if contact is None:
        return {"first_name": "", "last_name": "", "organisation": "", "address": "", "note": "",
                "emails": [("", "work")], "phones": [("", "mobile")], "custom": {}}
    return {"first_name": contact.first_name, "last_name": contact.last_name,
            "organisation": contact.organisation, "address": contact.address, "note": contact.note,
            "emails": [(e.email, e.kind) for e in contact.emails] or [("", "work")],
            "phones": [(C.display_phone(p.number), p.kind) for p in contact.phones] or [("", "mobile")],
            "custom": dict(contact.custom or {})}


@bp.get("/contacts/new")
@login_required
def new():
    values = _values_of(None)
    # "add as contact" from a call: /contacts/new?phone=+48…
    if request.args.get("phone"):
        values["phones"] = [(request.args["phone"][:40], "mobile")]
    return _form_page(None, values, {})


@bp.post("/contacts/new")
@login_required
def create():
    s = dbs()
    fields = C.custom_fields(s)
    try:
        contact = C.create(s, S.form_data(request.form, fields), _region(), current_user.id)
    except C.ContactError as exc:
        return _form_page(None, _values_of(None, request.form, fields), S.form_errors(exc.errors), 422)
    s.commit()
    flash(_("Contact %(name)s added.", name=contact.display_name), "success")
    return redirect(url_for("contacts.view", contact_id=contact.id))


def _contact(contact_id: int) -> Contact:
    return dbs().scalar(select(Contact).where(Contact.id == contact_id)
                        .options(selectinload(Contact.emails), selectinload(Contact.phones))) or abort(404)


@bp.get("/contacts/<int:contact_id>")
@login_required
def view(contact_id: int):
    s = dbs()
    contact = _contact(contact_id)
    comms = C.communications(s, contact)
    return render_template("contacts/view.html", active_tab="contacts", section="list", c=contact,
                           fields=C.custom_fields(s), comms=comms)


@bp.get("/contacts/<int:contact_id>/edit")
@login_required
def edit(contact_id: int):
    contact = _contact(contact_id)
    return _form_page(contact, _values_of(contact), {})


@bp.post("/contacts/<int:contact_id>/edit")
@login_required
def save(contact_id: int):
    s = dbs()
    contact = _contact(contact_id)
    fields = C.custom_fields(s)
    try:
        C.update(s, contact, S.form_data(request.form, fields), _region())
    except C.ContactError as exc:
        s.rollback()
        return _form_page(contact, _values_of(contact, request.form, fields), S.form_errors(exc.errors), 422)
    s.commit()
    flash(_("Contact saved."), "success")
    return redirect(url_for("contacts.view", contact_id=contact.id))


@bp.post("/contacts/<int:contact_id>/delete")
@login_required
def delete(contact_id: int):
    s = dbs()
    contact = _contact(contact_id)
    name = contact.display_name
    C.delete_contact(s, contact)
    audit.record(s, "contact.delete", actor=s.get(User, current_user.id), target=name, ip=client_ip())
    s.commit()
    flash(_("Contact %(name)s deleted.", name=name), "success")
    return redirect(url_for("contacts.index"))


# -- export -----------------------------------------------------------------------------------------
def export_response(database) -> Response:
    """The CSV streamed from its own session, closed when the download ends (or is cut)."""
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H_%M_%SZ")

    def gen():
        session = database.sessions()
        try:
            yield from X.stream_csv(session)
        finally:
            session.close()

    resp = Response(gen(), mimetype="text/csv; charset=utf-8")
    resp.headers["Content-Disposition"] = f'attachment; filename="Contacts_{stamp}.csv"'
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.get("/contacts/export")
@login_required
def export():
    return export_response(db())


# -- import wizard -----------------------------------------------------------------------------------
def _import(import_id: int) -> ContactImport:
    return dbs().get(ContactImport, import_id) or abort(404)


def _own_import(import_id: int) -> ContactImport:
    """The import, for its uploader or an administrator (403 for anyone else)."""
    imp = _import(import_id)
    try:
        I.check_may_manage(imp, current_user)
    except I.ImportError_ as exc:
        abort(403, S.import_problem_text(exc))
    return imp


def may_manage_import(imp: ContactImport) -> bool:
    return I.may_manage(imp, current_user)


@bp.get("/contacts/imports")
@login_required
def imports():
    s = dbs()
    rows = list(s.scalars(select(ContactImport).order_by(ContactImport.created_at.desc(), ContactImport.id.desc())
                          .limit(100)))
    return render_template("contacts/imports.html", active_tab="contacts", section="imports", rows=rows,
                           status_labels=S.STATUS_LABELS, is_stale=I.is_stale, is_running=I.is_running,
                           may_manage=may_manage_import, failure_text=S.failure_text)


@bp.get("/contacts/imports/new")
@login_required
def upload_page():
    return render_template("contacts/upload.html", active_tab="contacts", section="upload",
                           max_mb=I.MAX_BYTES // (1024 * 1024), max_bytes=I.MAX_BYTES, error=None)


def _upload(s) -> ContactImport:
    """Create the import from the request's file; ImportError_ with a reason otherwise."""
    if request.content_length and request.content_length > I.MAX_BYTES + 64 * 1024:
        raise I.ImportError_("too_large", "too large", limit_mb=I.MAX_BYTES // (1024 * 1024))
    f = request.files.get("file")
    if f is None or not f.filename:
        raise I.ImportError_("no_file", "Choose a CSV file.")
    return I.create_import(s, settings().data_dir, f.stream, f.filename, current_user.id)


@bp.post("/contacts/imports")
@login_required
def upload():
    s = dbs()
    wants_json = request.accept_mimetypes.best == "application/json"
    try:
        imp = _upload(s)
    except I.ImportError_ as exc:
        s.rollback()
        message = _("Choose a CSV file.") if exc.code == "no_file" else S.import_problem_text(exc)
        if wants_json:
            return jsonify({"error": {"code": 413 if exc.code == "too_large" else 400, "message": message}}), \
                (413 if exc.code == "too_large" else 400)
        return render_template("contacts/upload.html", active_tab="contacts", section="upload",
                               max_mb=I.MAX_BYTES // (1024 * 1024), max_bytes=I.MAX_BYTES,
                               error=message), 413 if exc.code == "too_large" else 400
    s.commit()
    flash(_("File %(name)s uploaded. Configure it to import the contacts.", name=imp.filename), "success")
    target = url_for("contacts.configure", import_id=imp.id)
    if wants_json:
        return jsonify({"id": imp.id, "next": target}), 201
    return redirect(target)


@bp.get("/contacts/imports/<int:import_id>/configure")
@login_required
def configure(import_id: int):
    s = dbs()
    imp = _own_import(import_id)
    pv = I.preview(settings().data_dir, imp)
    fields = C.custom_fields(s)
    choices = [(k, str(v)) for k, v in S.FIELD_LABELS.items()] + [("custom." + f.key, f.name) for f in fields]
    by_index = {c["index"]: c for c in imp.mapping or []}
    total = None
    return render_template("contacts/configure.html", active_tab="contacts", section="imports", imp=imp,
                           preview=pv, choices=choices, by_index=by_index, multi=I.MULTI, total=total,
                           error=None)


@bp.post("/contacts/imports/<int:import_id>/configure")
@login_required
def save_mapping(import_id: int):
    s = dbs()
    imp = _own_import(import_id)
    pv = I.preview(settings().data_dir, imp, rows=1)
    columns = []
    for col in pv["columns"]:
        i = col["index"]
        field = request.form.get(f"field_{i}", "")
        slot = request.form.get(f"slot_{i}", type=int)
        if field:
            columns.append({"index": i, "field": field, **({"slot": slot or 1} if field in I.MULTI else {})})
    try:
        I.set_mapping(s, settings().data_dir, imp, request.form.get("has_header") == "1", columns)
    except I.ImportError_ as exc:
        s.rollback()
        flash(S.import_problem_text(exc), "error")
        return redirect(url_for("contacts.configure", import_id=import_id))
    s.commit()
    if request.form.get("action") == "verify":
        if not I.claim(db(), settings().data_dir, import_id, "verify"):
            flash(_("Map the first name and the last name before verifying."), "error")
            return redirect(url_for("contacts.configure", import_id=import_id))
        I.run_in_background(db(), settings().data_dir, import_id, "verify", _region())
        flash(_("Verifying %(name)s…", name=imp.filename), "info")
        return redirect(url_for("contacts.imports"))
    flash(_("Mapping saved."), "success")
    return redirect(url_for("contacts.configure", import_id=import_id))


@bp.post("/contacts/imports/<int:import_id>/import")
@login_required
def run_import(import_id: int):
    imp = _own_import(import_id)
    if not I.claim(db(), settings().data_dir, import_id, "commit"):
        flash(_("Verify the file before importing it."), "error")
    else:
        I.run_in_background(db(), settings().data_dir, import_id, "commit", _region(), current_user.id)
        flash(_("Importing %(name)s…", name=imp.filename), "info")
    return redirect(url_for("contacts.imports"))


@bp.get("/contacts/imports/<int:import_id>.json")
@login_required
def import_status(import_id: int):
    imp = _import(import_id)
    return jsonify(I.as_dict(imp, full=I.may_manage(imp, current_user)))


@bp.get("/contacts/imports/<int:import_id>/report")
@login_required
def report(import_id: int):
    s = dbs()
    imp = _own_import(import_id)
    names = {f.key: f.name for f in C.custom_fields(s)}
    if request.args.get("download") == "1":
        path = I.report_path(settings().data_dir, imp)
        if not path.is_file():
            abort(404)
        return send_file(path, mimetype="text/plain; charset=utf-8", as_attachment=True,
                         download_name=f"errors-{imp.id}.txt")
    lines = [S.import_error_text(e, names) for e in imp.errors or []]
    return render_template("contacts/report.html", active_tab="contacts", section="imports", imp=imp,
                           lines=lines)


@bp.get("/contacts/imports/<int:import_id>/file")
@login_required
def original(import_id: int):
    imp = _own_import(import_id)
    path = I.original_path(settings().data_dir, imp)
    if not path.is_file():
        abort(404)
    return send_file(path, mimetype="text/csv", as_attachment=True, download_name=imp.filename)


@bp.post("/contacts/imports/<int:import_id>/delete")
@login_required
def delete_import(import_id: int):
    """The import record, its original file and its error report; never the contacts it made."""
    s = dbs()
    imp = _own_import(import_id)
    name = imp.filename
    try:
        paths = I.delete_import(s, settings().data_dir, imp)
        audit.record(s, I.AUDIT_DELETED, actor=current_user, target=name, ip=client_ip(), import_id=import_id)
        s.commit()
    except I.ImportError_ as exc:
        s.rollback()
        flash(S.import_problem_text(exc), "error")
        return redirect(url_for("contacts.imports"))
    for p in paths:
        p.unlink(missing_ok=True)
    flash(_("The import of %(name)s was deleted. The contacts it created or updated stay.", name=name), "success")
    return redirect(url_for("contacts.imports"))


# -- Settings / Custom fields (SET-3) -------------------------------------------------------------------
def _field_errors(errors: dict) -> dict:
    msgs = {"name": _("Enter a name (at most 100 characters)."),
            "key": _("Use lower-case letters, digits and _, starting with a letter; each key once."),
            "kind": _("Choose short or long text."), "applies_to": _("Choose contacts or tasks.")}
    out = {k: msgs.get(k, v) for k, v in errors.items()}
    if "key" in errors and "already" in errors["key"]:
        out["key"] = _("A field with this key already exists.")
    elif "key" in errors and "built-in" in errors["key"]:
        out["key"] = _("This key is used by a built-in field.")
    return out


def _fields_page(values=None, errors=None, status=200, editing=None):
    rows = CF.fields(dbs())
    return render_template("contacts/custom_fields.html", section="custom_fields", rows=rows,
                           values=values or {"kind": "short", "applies_to": "contact"}, errors=errors or {},
                           editing=editing), status


@bp.get("/settings/custom-fields")
@admin_required
def custom_fields():
    return _fields_page()


@bp.post("/settings/custom-fields")
@admin_required
def add_custom_field():
    s = dbs()
    values = {k: request.form.get(k, "").strip() for k in ("name", "key", "kind", "applies_to")}
    try:
        f = CF.create(s, values["name"], values["key"], values["kind"] or "short", values["applies_to"])
    except CF.FieldError as exc:
        s.rollback()
        return _fields_page(values, _field_errors(exc.errors), 422)
    s.commit()
    flash(_("Field %(name)s added.", name=f.name), "success")
    return redirect(url_for("contacts.custom_fields"))


@bp.post("/settings/custom-fields/<int:field_id>")
@admin_required
def save_custom_field(field_id: int):
    s = dbs()
    f = s.get(CustomField, field_id) or abort(404)
    try:
        CF.update(s, f, request.form.get("name", ""), request.form.get("kind", f.kind))
    except CF.FieldError as exc:
        s.rollback()
        return _fields_page(None, _field_errors(exc.errors), 422, editing=field_id)
    s.commit()
    flash(_("Field saved."), "success")
    return redirect(url_for("contacts.custom_fields"))


@bp.post("/settings/custom-fields/<int:field_id>/delete")
@admin_required
def delete_custom_field(field_id: int):
    s = dbs()
    f = s.get(CustomField, field_id) or abort(404)
    name = f.name
    CF.delete(s, f)
    s.commit()
    flash(_("Field %(name)s deleted.", name=name), "success")
    return redirect(url_for("contacts.custom_fields"))


# -- the contact side panel beside a call or a chat (COM-4) ------------------------------------
def _panel_json(s, contact: Contact) -> dict:
    """What the side panel shows: the contact, its last 5 communications and open tasks."""
    from centrala import tasks as TK
    from web.tasks.services import STATUS_LABELS, is_overdue

    names = {f.key: f.name for f in C.custom_fields(s)}
    comms = C.communications(s, contact, limit=5)
    tasks = [t for t in TK.tasks_for_contact(s, contact.id, limit=50) if t.status != "done"][:10]
    return {
        "id": contact.id, "name": contact.display_name, "first_name": contact.first_name,
        "last_name": contact.last_name, "organisation": contact.organisation, "note": contact.note,
        "url": url_for("contacts.view", contact_id=contact.id),
        "edit_url": url_for("contacts.edit", contact_id=contact.id),
        "phones": [{"number": C.display_phone(p.number), "e164": p.number,
                    "type": str(S.PHONE_KIND_LABELS.get(p.kind, p.kind))} for p in contact.phones],
        "emails": [{"email": e.email, "type": str(S.EMAIL_KIND_LABELS.get(e.kind, e.kind))} for e in contact.emails],
        "custom": [{"name": names[k], "value": v} for k, v in (contact.custom or {}).items() if k in names and v],
        "communications": [{
            "id": m.id, "started_at": m.started_at.isoformat(), "remote": m.remote, "outcome": m.outcome,
            "outcome_label": str(S.OUTCOME_LABELS.get(m.outcome, m.outcome)),
            "channel": communication_label(m.channel, m.direction),
            "url": url_for("history.detail", comm_id=m.id)} for m in comms],
        "tasks": [{"id": t.id, "title": t.title, "status": t.status,
                   "status_label": str(STATUS_LABELS.get(t.status, t.status)),
                   "due_at": t.due_at.isoformat() if t.due_at else None, "overdue": is_overdue(t),
                   "url": url_for("tasks.detail", task_id=t.id)} for t in tasks],
    }


@bp.get("/contacts/match")
@login_required
def match():
    """``?phone=`` (any form) or ``?email=``: the matched contact for the side panel, or null."""
    s = dbs()
    phone = request.args.get("phone", "").strip()[:64]
    email = request.args.get("email", "").strip()[:254]
    contact = None
    if phone:
        contact = C.find_by_phone(s, phone, _region())
    if contact is None and email:
        contact = C.find_by_email(s, email)
    return jsonify({"contact": _panel_json(s, contact) if contact else None})


def _json_body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        abort(400)
    return body


@bp.post("/contacts/quick")
@login_required
def quick_create():
    """The side panel's short "Create contact" form (JSON): first and last name, organisation,
    one phone and one email.  422 with translated messages by field when invalid."""
    s = dbs()
    body = _json_body()
    val = {k: str(body.get(k) or "") for k in ("first_name", "last_name", "organisation", "email", "phone")}
    data = C.ContactData(first_name=val["first_name"], last_name=val["last_name"], organisation=val["organisation"],
                         emails=[(val["email"], "work")], phones=[(val["phone"], "mobile")])
    try:
        contact = C.create(s, data, _region(), current_user.id)
    except C.ContactError as exc:
        s.rollback()
        errors = {k.replace("_0", ""): v for k, v in S.form_errors(exc.errors).items()}
        return jsonify({"ok": False, "errors": errors}), 422
    s.commit()
    return jsonify({"ok": True, "contact": _panel_json(s, _contact(contact.id))}), 201


@bp.post("/contacts/<int:contact_id>/note-line")
@login_required
def add_note_line(contact_id: int):
    """The side panel's "Add a note": a dated line (account time zone) with the agent's name
    at the end of the contact's note."""
    from datetime import timezone as dt_timezone
    from zoneinfo import ZoneInfo

    s = dbs()
    contact = _contact(contact_id)
    body = _json_body()
    zone = account.saved(s).get("timezone") or settings().timezone
    try:
        now = datetime.now(dt_timezone.utc).astimezone(ZoneInfo(zone))
    except Exception:   # noqa: BLE001  (an unknown zone name: UTC rather than nothing)
        now = datetime.now(dt_timezone.utc)
    stamp = f"{now:%Y-%m-%d %H:%M} {current_user.name}:"
    try:
        note = C.append_note(contact, str(body.get("text") or ""), stamp)
    except C.ContactError as exc:
        raw = exc.errors["note"]
        error = (_("Write the note first.") if raw == "empty" else
                 _("The contact's note is full. Edit the contact to shorten it.") if raw == "full" else
                 _("A note can have at most %(n)d characters.", n=C.NOTE_LINE_LIMIT))
        return jsonify({"ok": False, "error": error}), 422
    s.commit()
    return jsonify({"ok": True, "note": note})
