"""Click-to-call from the panel's dial pad (COM-2); the REST API has the same at /api/v1/calls."""
from __future__ import annotations

from flask import Blueprint, jsonify, request
from flask_babel import gettext as _
from flask_login import current_user, login_required

from centrala.models import User

from ..extensions import bus, dbs, settings
from .services import CallError, request_call

bp = Blueprint("calls", __name__)


@bp.post("/calls")
@login_required
def place_call():
    data = request.get_json(silent=True) or request.form
    s = dbs()
    try:
        row = request_call(s, bus(), settings(), s.get(User, current_user.id), str(data.get("number", "")),
                           data.get("from") or None)
    except CallError as exc:
        messages = {"not a valid phone number": _("This is not a valid phone number."),
                    "no company number to call from": _("There is no company number to call from yet."),
                    "no such company number": _("There is no such company number."),
                    "this user has no SIP account": _("You have no softphone account."),
                    "outbound calls are switched off (Settings / Voice / General)":
                        _("Outbound calls are switched off in Settings / Voice.")}
        return jsonify({"ok": False, "error": messages.get(str(exc), str(exc))}), 422
    return jsonify({"ok": True, "communication_id": row.id, "number": row.remote}), 202
