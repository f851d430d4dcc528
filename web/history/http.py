"""History tab (HIS-1…HIS-3: calls, voicemail, chats; search and filters) and recordings for the
browser player."""
from __future__ import annotations

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from centrala.account import default_region
from centrala.models import Communication, User
from centrala.models_contacts import Contact

from ..api.schemas import sent_object
from ..extensions import dbs, settings
from . import services

bp = Blueprint("history", __name__)
PER_PAGE = 25


@bp.get("/history")
@login_required
def index():
    s = dbs()
    filters, errors = services.parse_filters(request.args)
    pg = max(1, request.args.get("page", 1, type=int))
    q = services.query(filters=filters, session=s, timezone=_timezone(s))
    rows, total = services.page(s, q, pg, PER_PAGE)
    users = s.execute(select(User.id, User.name).order_by(User.name)).all()
    contact = s.get(Contact, filters.contact_id) if filters.contact_id else None
    return render_template("history/index.html", active_tab="history", rows=rows, total=total, page=pg,
                           pages=max(1, -(-total // PER_PAGE)), f=filters, args=filters.args(),
                           errors={k: _filter_error(v) for k, v in errors.items()}, users=users,
                           contact=contact, names=services.agent_names(s, rows), outcomes=services.OUTCOMES,
                           contacts=services.contacts_of(s, rows, default_region(s, settings())))


def _timezone(session) -> str:
    from centrala.account import saved

    return saved(session).get("timezone") or settings().timezone


def _filter_error(code: str) -> str:
    return {"bad_date": _("Enter a date as YYYY-MM-DD."),
            "range": _("The end date is before the start date."),
            "too_long": _("Search for at most %(n)d characters.", n=services.Q_MAX)}.get(code, _("Choose from the list."))


@bp.get("/history/<int:comm_id>")
@login_required
def detail(comm_id: int):
    s = dbs()
    c = s.get(Communication, comm_id) or abort(404)
    has_recording = services.recording_path(settings().data_dir, c) is not None
    return render_template("history/detail.html", active_tab="history", c=c, names=services.agent_names(s, [c]),
                           has_recording=has_recording, may_edit=services.may_edit(current_user, c),
                           note_max=services.NOTE_MAX,
                           contact=services.contacts_of(s, [c], default_region(s, settings())).get(c.id))


@bp.post("/history/<int:comm_id>/note")
@login_required
def note(comm_id: int):
    """Save the note: from the history page (form) or the call card (JSON)."""
    s = dbs()
    wants_json = request.is_json
    text = (sent_object() or {}).get("note", "") if wants_json else request.form.get("note", "")
    try:
        services.set_note(s, current_user, comm_id, text)
    except services.NoteError as exc:
        message = {404: _("There is no such communication."),
                   403: _("This is another agent's communication."),
                   422: _("The note may be at most %(n)s characters long.", n=services.NOTE_MAX)}[exc.status]
        if wants_json:
            return jsonify({"ok": False, "error": message}), exc.status
        if exc.status == 404:
            abort(404)
        if exc.status == 403:
            abort(403)
        flash(message, "error")
        return redirect(url_for("history.detail", comm_id=comm_id))
    if wants_json:
        return jsonify({"ok": True})
    flash(_("Note saved."), "success")
    return redirect(url_for("history.detail", comm_id=comm_id))


@bp.get("/recordings/<int:comm_id>")
@login_required
def recording(comm_id: int):
    c = dbs().get(Communication, comm_id) or abort(404)
    path = services.recording_path(settings().data_dir, c) or abort(404)
    # conditional=True: HTTP range requests, so the browser player can seek
    return send_file(path, mimetype="audio/wav", conditional=True, download_name=f"call-{c.id}.wav",
                     as_attachment=request.args.get("download") == "1")
