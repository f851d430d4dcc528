"""Click-to-call from the panel's dial pad (COM-2) and the call card's buttons (VOI-9); the REST
API has the same at /api/v1/calls and /api/v1/communications/{id}/…"""
from __future__ import annotations

from flask import Blueprint, jsonify, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from sqlalchemy import select

from centrala.models import User

from ..extensions import bus, dbs, settings
from ..api.schemas import sent_object
from . import actions
from .services import CallError, request_call

bp = Blueprint("calls", __name__)


@bp.post("/calls")
@login_required
def place_call():
    data = sent_object() or request.form
    s = dbs()
    try:
        row = request_call(s, bus(), settings(), s.get(User, current_user.id), str(data.get("number", "")),
                           data.get("from") or None)
    except CallError as exc:
        messages = {"not a valid phone number": _("This is not a valid phone number."),
                    "no company number to call from": _("There is no company number to call from yet."),
                    "no such company number": _("There is no such company number."),
                    "this user has no SIP account": _("You have no softphone account."),
                    "this user does not take part in outbound calls":
                        _("You do not take part in outbound calls. An administrator can add you in "
                          "Settings / Voice / Users."),
                    "outbound calls are switched off (Settings / Voice / General)":
                        _("Outbound calls are switched off in Settings / Voice.")}
        return jsonify({"ok": False, "error": messages.get(str(exc), str(exc))}), 422
    from centrala.account import default_region
    from centrala.contacts import find_by_phone

    contact = find_by_phone(s, row.remote, default_region(s, settings()))
    return jsonify({"ok": True, "communication_id": row.id, "number": row.remote,
                    "contact": {"id": contact.id, "name": contact.display_name} if contact else None}), 202


ACTION_MESSAGES = {
    "not_found": _l("There is no such call."),
    "not_yours": _l("This is another agent's call."),
    "not_in_progress": _l("This call has already ended."),
    "not_answered": _l("Only an answered incoming call can be put on hold or transferred."),
    "bad_agent": _l("Choose an active agent with a softphone."),
    "bad_target": _l("Choose an agent or type a valid phone number."),
}


@bp.errorhandler(actions.CallActionError)
def refused(exc: actions.CallActionError):
    return jsonify({"ok": False, "error": str(ACTION_MESSAGES.get(exc.code, exc))}), exc.status


@bp.post("/calls/<int:comm_id>/<any(hangup, hold, unhold, transfer, complete, cancel):action>")
@login_required
def call_action(comm_id: int, action: str):
    """The call card's buttons (VOI-9): same rules as the REST API (web/calls/actions.py)."""
    s, user = dbs(), dbs().get(User, current_user.id)
    data = sent_object() or {}
    if action == "hangup":
        actions.hangup(s, bus(), user, comm_id)
    elif action in ("hold", "unhold"):
        actions.hold(s, bus(), user, comm_id, action == "hold")
    elif action == "transfer":
        return jsonify({"ok": True, "to": actions.transfer(s, bus(), settings(), user, comm_id, data),
                        "attended": bool(data.get("attended"))}), 202
    else:
        actions.consult_step(s, bus(), user, comm_id, action)
    return jsonify({"ok": True}), 202


@bp.get("/calls/transfer-targets")
@login_required
def transfer_targets():
    """Agents a call can go to: active, with a softphone, not me; Online first."""
    people = dbs().scalars(select(User).where(User.active.is_(True), User.sip_username.is_not(None),
                                              User.id != current_user.id).order_by(User.name))
    items = [{"id": u.id, "name": u.name, "status": u.status} for u in people]
    items.sort(key=lambda p: p["status"] != "online")
    return jsonify({"items": items})
