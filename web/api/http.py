"""REST API v1 (BEY-1): bearer tokens, JSON errors, OpenAPI 3 at /api/v1/openapi.json."""
from __future__ import annotations

from functools import wraps
from typing import Literal

from pydantic import Field

from flask import Blueprint, abort, g, jsonify, request
from sqlalchemy import select

from agents.channels import CHANNELS, DEFAULT_CHANNELS
from centrala import audit
from centrala.mail import MailError
from centrala.models import User, iso
from centrala.tokens import user_for_api_token
from centrala.users import UserError, create_user, deactivate

from ..auth.services import send_password_link
from ..calls import actions as call_actions
from ..calls.actions import CallActionError
from ..history import services as history
from agents import events

from ..extensions import bus, client_ip, dbs, settings
from ..presence.services import StatusChange, StatusName, change_status
from ..routing import MAX_ID
from .schemas import Body, DbId, Query, accepts, body, checked_by_use_case, choice, json_object, query

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def api_error(code: int, message: str):
    return jsonify({"error": {"code": code, "message": message}}), code


def token_required(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            resp = api_error(401, "Missing bearer token: send 'Authorization: Bearer <token>'.")
            resp[0].headers["WWW-Authenticate"] = 'Bearer realm="centrala"'
            return resp
        s = dbs()
        user = user_for_api_token(s, token.strip())
        if user is None:
            resp = api_error(401, "Invalid or revoked token, or the user is deactivated.")
            resp[0].headers["WWW-Authenticate"] = 'Bearer realm="centrala", error="invalid_token"'
            return resp
        s.commit()  # last_used_at
        g.api_user = user
        return view(*args, **kwargs)

    return wrapper


def admin_only(view):
    @wraps(view)
    @token_required
    def wrapper(*args, **kwargs):
        if not g.api_user.is_admin:
            return api_error(403, "Administrators only.")
        return view(*args, **kwargs)

    return wrapper


Channel = Literal[tuple(CHANNELS)]
Role = Literal["admin", "agent"]


class UserFilter(Query):
    status: StatusName | None = None  # type: ignore[valid-type]
    active: Literal["true", "false"] | None = None


ID_ARG = {"type": "integer", "minimum": 0, "maximum": MAX_ID}


class CommunicationFilter(Query):
    """History's filters (the use case parses them and words its own errors)."""
    q: checked_by_use_case({"type": "string", "maxLength": 100}) = Field(
        None, description="search: number or address (any form), contact name/organisation/email/phone, note, "
                          "chat text")
    channel: choice(history.CHANNELS) = None
    agent_id: checked_by_use_case(ID_ARG) = None
    contact_id: checked_by_use_case(ID_ARG) = Field(None, description="only this contact's communications")
    from_: checked_by_use_case({"type": "string", "format": "date"}) = Field(
        None, alias="from", description="first day (account time zone)")
    to: checked_by_use_case({"type": "string", "format": "date"}) = Field(
        None, description="last day, inclusive (account time zone)")
    direction: choice(history.DIRECTIONS) = None
    outcome: choice(history.OUTCOMES) = None
    page: int = Field(1, ge=1, le=10_000_000)
    per_page: int = Field(50, ge=1, le=100)


class NewUser(Body):
    email: str = Field(json_schema_extra={"format": "email"})
    name: str
    role: Role = "agent"
    position: str = ""
    channels: list[Channel] = Field(default=list(DEFAULT_CHANNELS), description="default: every channel")  # type: ignore[valid-type]


class UserPatch(Body):
    """Only the fields to change; ``active: false`` deactivates."""
    model_config = {"extra": "forbid"}
    name: str = None
    role: Role = None
    position: str = None
    active: bool = None
    channels: list[Channel] = None  # type: ignore[valid-type]


class NewCall(Body):
    number: str = Field(examples=["+48221234567"])
    from_: str | None = Field(None, alias="from", description="company number to call from (default: the first)")


class CommunicationPatch(Body):
    model_config = {"extra": "forbid"}
    note: str = Field(None, max_length=4000)


class TransferRequest(Body):
    """An agent (``user_id``) or a number; ``attended``: a consultation first."""
    user_id: DbId | None = None
    number: str | None = None
    attended: bool = False


def user_json(u: User) -> dict:
    return {"id": u.id, "email": u.email, "name": u.name, "role": u.role, "position": u.position,
            "channels": list(u.channels or []), "status": u.status, "active": u.active,
            "language": u.language, "ringtone": u.ringtone,
            "status_changed_at": iso(u.status_changed_at), "created_at": iso(u.created_at)}


def _json_body() -> dict:
    """The request's JSON object, unvalidated (routes without a schema yet); 400 otherwise."""
    return json_object()


@bp.get("/openapi.json")
def openapi():
    from flask import current_app

    from .document import build

    return jsonify(build(current_app, settings().base_url))


@bp.get("/users/me")
@token_required
def me():
    return jsonify(user_json(g.api_user))


@bp.put("/users/me/status")
@token_required
@accepts(body=StatusChange, status=400)
def my_status():
    status = body()["status"]
    change_status(dbs(), g.api_user, status, actor=g.api_user)
    return jsonify(user_json(g.api_user))


@bp.get("/users")
@admin_only
@accepts(query=UserFilter, status=400)
def list_users():
    args = query()
    q = select(User).order_by(User.name)
    if args.get("status"):
        q = q.where(User.status == args["status"])
    if args.get("active"):
        q = q.where(User.active.is_(args["active"] == "true"))
    return jsonify({"items": [user_json(u) for u in dbs().scalars(q)]})


@bp.post("/users")
@admin_only
@accepts(body=NewUser)
def add_user():
    data = NewUser(**body()).model_dump()   # with the defaults
    s = dbs()
    try:
        user = create_user(s, data["email"], data["name"], data["role"], None, data["position"], data["channels"],
                           limit=settings().user_limit)
    except UserError as exc:
        s.rollback()
        return api_error(422 if "limit" not in str(exc) else 409, str(exc))
    audit.record(s, audit.USER_CREATED, actor=g.api_user, target=user.email, ip=client_ip(), via="api")
    invited = True
    try:
        send_password_link(settings(), s, user, "invite")
    except MailError:
        invited = False
    s.commit()
    bus().publish(events.USERS_CHANGED, user_id=user.id)
    answer = user_json(user) | {"invitation_sent": invited}
    return jsonify(answer), 201, {"Location": f"/api/v1/users/{user.id}"}


@bp.get("/users/<int:user_id>")
@admin_only
def get_user(user_id: int):
    user = dbs().get(User, user_id)
    return jsonify(user_json(user)) if user else api_error(404, "No such user.")


@bp.patch("/users/<int:user_id>")
@admin_only
@accepts(body=UserPatch)
def update_user(user_id: int):
    s = dbs()
    user = s.get(User, user_id)
    if user is None:
        return api_error(404, "No such user.")
    data = body()
    if "name" in data and not str(data["name"]).strip():
        return api_error(422, "name must not be empty.")
    if user.id == g.api_user.id and (data.get("active") is False or data.get("role") == "agent"):
        return api_error(409, "You cannot deactivate yourself or take away your own administrator role.")
    for key in ("name", "role", "position"):
        if key in data:
            setattr(user, key, str(data[key]).strip())
    if "channels" in data:
        user.channels = [c for c in CHANNELS if c in data["channels"]]
    if data.get("active") is False and user.active:
        change_status(s, user, "offline", reason="deactivated")
        deactivate(user)
        audit.record(s, audit.USER_DEACTIVATED, actor=g.api_user, target=user.email, ip=client_ip(), via="api")
    elif data.get("active") is True:
        user.active = True
    audit.record(s, audit.USER_UPDATED, actor=g.api_user, target=user.email, ip=client_ip(), via="api",
                 fields=sorted(data))
    s.commit()
    bus().publish(events.USERS_CHANGED, user_id=user.id)
    return jsonify(user_json(user))


@bp.post("/calls")
@token_required
@accepts(body=NewCall)
def place_call():
    """Click-to-call: ring my softphone, then the customer (202: the call is being placed)."""
    from ..calls.services import CallError, request_call

    data = body()
    try:
        row = request_call(dbs(), bus(), settings(), g.api_user, data["number"], data.get("from"))
    except CallError as exc:
        return api_error(422, str(exc))
    return jsonify(history.as_dict(row, {g.api_user.id: g.api_user.name}, None)), 202


@bp.get("/communications")
@token_required
@accepts(query=CommunicationFilter, status=400)
def communications():
    """History, newest first; search ``q`` and filters channel, direction, outcome, agent_id,
    contact_id, from, to (dates, account time zone); pages of up to 100."""
    from ..history.http import _timezone

    args = request.args
    filters, errors = history.parse_filters(args, id_args=("agent_id", "contact_id"))
    if errors:
        arg, code = next(iter(errors.items()))
        allowed = {"channel": history.CHANNELS, "direction": history.DIRECTIONS, "outcome": history.OUTCOMES}
        text = {"bad_date": f"{arg} must be a date (YYYY-MM-DD).", "range": "to must not be before from.",
                "bad_id": f"{arg} must be an integer.", "too_long": f"q may be at most {history.Q_MAX} characters.",
                "bad_choice": f"{arg} must be one of: " + ", ".join(allowed.get(arg, ()))}[code]
        return api_error(400, text)
    page = args.get("page", 1, type=int)
    per_page = args.get("per_page", 50, type=int)
    if page < 1 or not 1 <= per_page <= 100:
        return api_error(400, "page must be >= 1 and per_page between 1 and 100.")
    s = dbs()
    rows, total = history.page(s, history.query(filters=filters, session=s, timezone=_timezone(s)), page, per_page)
    names = history.agent_names(s, rows)
    items = [history.as_dict(c, names, f"/api/v1/communications/{c.id}/recording" if c.recording else None)
             for c in rows]
    return jsonify({"items": items, "page": page, "per_page": per_page, "total": total})


@bp.patch("/communications/<int:comm_id>")
@token_required
@accepts(body=CommunicationPatch)
def update_communication(comm_id: int):
    """Edit a communication's note (the only field a person writes)."""
    data = body()
    s = dbs()
    try:
        c = history.set_note(s, g.api_user, comm_id, data.get("note", ""))
    except history.NoteError as exc:
        return api_error(exc.status, str(exc))
    names = history.agent_names(s, [c])
    return jsonify(history.as_dict(c, names, f"/api/v1/communications/{c.id}/recording" if c.recording else None))


@bp.errorhandler(CallActionError)
def call_action_refused(exc: CallActionError):
    return api_error(exc.status, str(exc))


@bp.post("/communications/<int:comm_id>/hangup")
@token_required
def hangup(comm_id: int):
    """End a call in progress (202: asked of the PBX)."""
    call_actions.hangup(dbs(), bus(), g.api_user, comm_id)
    return jsonify({"ok": True}), 202


@bp.post("/communications/<int:comm_id>/hold")
@bp.post("/communications/<int:comm_id>/unhold")
@token_required
def hold(comm_id: int):
    """Put an answered call on hold (the caller hears music) or take it off hold."""
    on = request.path.endswith("/hold")
    call_actions.hold(dbs(), bus(), g.api_user, comm_id, on)
    return jsonify({"ok": True, "held": on}), 202


@bp.post("/communications/<int:comm_id>/transfer")
@token_required
@accepts(body=TransferRequest)
def transfer(comm_id: int):
    """Transfer an answered inbound call to another agent (``user_id``) or a number: blind, or
    with ``"attended": true`` a consultation first, finished by ``…/transfer/complete`` or
    ``…/transfer/cancel``."""
    data = body()
    label = call_actions.transfer(dbs(), bus(), settings(), g.api_user, comm_id, data)
    return jsonify({"ok": True, "to": label, "attended": bool(data.get("attended"))}), 202


@bp.post("/communications/<int:comm_id>/transfer/<any(complete, cancel):step>")
@token_required
def transfer_step(comm_id: int, step: str):
    call_actions.consult_step(dbs(), bus(), g.api_user, comm_id, step)
    return jsonify({"ok": True, "step": step}), 202


@bp.get("/communications/<int:comm_id>/recording")
@token_required
def communication_recording(comm_id: int):
    from flask import send_file

    from centrala.models import Communication

    c = dbs().get(Communication, comm_id)
    path = history.recording_path(settings().data_dir, c) if c else None
    if path is None:
        return api_error(404, "No recording for this communication.")
    return send_file(path, mimetype="audio/wav", conditional=True, download_name=f"call-{comm_id}.wav")


@bp.errorhandler(405)
def method_not_allowed(_e):
    return api_error(405, "Method not allowed on this path.")
