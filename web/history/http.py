"""History tab (HIS-1, partial: calls and voicemail) and recordings for the browser player."""
from __future__ import annotations

from flask import Blueprint, abort, render_template, request, send_file, url_for
from flask_login import login_required

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
                           has_recording=has_recording)


@bp.get("/recordings/<int:comm_id>")
@login_required
def recording(comm_id: int):
    c = dbs().get(Communication, comm_id) or abort(404)
    path = services.recording_path(settings().data_dir, c) or abort(404)
    # conditional=True: HTTP range requests, so the browser player can seek
    return send_file(path, mimetype="audio/wav", conditional=True, download_name=f"call-{c.id}.wav",
                     as_attachment=request.args.get("download") == "1")
