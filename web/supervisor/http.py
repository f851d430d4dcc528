"""Live queue view for supervisors (BEY-3): callers waiting, longest wait, agents by state."""
from __future__ import annotations

from flask import Blueprint, jsonify, render_template

from centrala.pbx_status import read_status

from ..auth.permissions import admin_required
from ..extensions import db

bp = Blueprint("supervisor", __name__, url_prefix="/supervisor")
EMPTY = {"waiting": 0, "longest_wait": 0, "callers": [], "members": [],
         "agents": {"available": 0, "on_call": 0, "ringing": 0, "paused": 0, "unavailable": 0}, "at": None}


def _stats() -> dict:
    row = read_status(db())
    return {**EMPTY, **((row.queue if row else None) or {})}


@bp.get("/queue")
@admin_required
def queue():
    return render_template("supervisor/queue.html", active_tab="dashboard", stats=_stats())


@bp.get("/queue.json")
@admin_required
def queue_json():
    return jsonify(_stats())
