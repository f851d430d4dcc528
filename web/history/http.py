"""History tab (HIS-1, partial: calls and voicemail) and recordings for the browser player."""
from __future__ import annotations

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from centrala.models import Communication

from ..extensions import dbs, settings
from . import services

bp = Blueprint("history", __name__)
PER_PAGE = 25


@bp.get("/history")
@login_required
def index():
    s = dbs()
    outcome = request.args.get("outcome") if request.args.get("outcome") in services.OUTCOMES else None
    pg = max(1, request.args.get("page", 1, type=int))
    rows, total = services.page(s, services.query(outcome=outcome), pg, PER_PAGE)
    return render_template("history/index.html", active_tab="history", rows=rows, total=total, page=pg,
                           pages=max(1, -(-total // PER_PAGE)), outcome=outcome,
                           names=services.agent_names(s, rows), outcomes=services.OUTCOMES)


@bp.get("/history/<int:comm_id>")
@login_required
def detail(comm_id: int):
    s = dbs()
    c = s.get(Communication, comm_id) or abort(404)
    has_recording = services.recording_path(settings().data_dir, c) is not None
    return render_template("history/detail.html", active_tab="history", c=c, names=services.agent_names(s, [c]),
                           has_recording=has_recording, may_edit=services.may_edit(current_user, c),
                           note_max=services.NOTE_MAX)


@bp.post("/history/<int:comm_id>/note")
@login_required
def note(comm_id: int):
    """Save the note: from the history page (form) or the call card (JSON)."""
    s = dbs()
    wants_json = request.is_json
    text = (request.get_json(silent=True) or {}).get("note", "") if wants_json else request.form.get("note", "")
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
