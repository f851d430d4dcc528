"""REST API for trunks and numbers (VOI-1, VOI-5, BEY-5): ``/api/v1/trunks``, ``/api/v1/numbers``,
administrators only.  Passwords of trunks are write-only (``has_password`` tells whether one is set).
"""
from __future__ import annotations

from typing import Annotated

from flask import Blueprint, g, jsonify
from pydantic import Field
from sqlalchemy import func, select

from agents import events
from agents.inbound import DAYS
from centrala import account, audit
from centrala import telephony as tel
from centrala.models import Number, Trunk

from ..api.http import admin_only, api_error
from ..api.openapi import extend
from ..api.schemas import Body, DbId, accepts, body, choice, json_schema
from ..extensions import bus, client_ip, csrf, dbs, settings

bp = Blueprint("voice_api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)  # bearer tokens, no cookies: nothing to forge


def _error(exc: tel.TelephonyError):
    resp, code = api_error(409 if exc.code in ("name_taken", "address_taken", "number_taken", "trunk_in_use") else 422,
                           str(exc))
    body = resp.get_json()
    body["error"]["field"] = exc.field
    body["error"]["reason"] = exc.code
    return jsonify(body), code


def _changed(area: str, **data) -> None:
    bus().publish(events.SETTINGS_CHANGED, area=area, keys=[], **data)


def _counts(s) -> dict:
    return dict(s.execute(select(Number.trunk_id, func.count()).group_by(Number.trunk_id)).all())


Port = Annotated[int, Field(ge=1, le=65535)]
PERIOD = {"type": ["array", "null"], "minItems": 2, "maxItems": 2,
          "items": {"type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$"}}
HOURS = {"type": ["object", "null"], "additionalProperties": False, "properties": {d: PERIOD for d in DAYS},
         "description": "Weekly business hours in the account's time zone: for each day null (closed) or "
                        "[open, close]. A missing day is closed; null for the whole: always open. Outside "
                        "them callers reach the answering machine."}


class TrunkInput(Body):
    """A trunk; on PATCH (or PUT) only the fields sent change."""
    name: str = Field(None, json_schema_extra={"pattern": "^[A-Za-z0-9_-]{1,64}$"})
    host: str = None
    port: Port | str = Field(None, description="1-65535 (default 5060)")
    username: str | None = None
    password: str | None = Field(None, json_schema_extra={"writeOnly": True},
                                 description="on a change: omitted or empty keeps the saved one, null removes it")
    enabled: bool = Field(None, description="default: true")
    register_: bool = Field(None, alias="register",   # (``register`` is a method of every model)
                            description="register at the carrier; needs username and password (default: false)")


class NumberInput(Body):
    """A number of the pool; on PATCH (or PUT) only the fields sent change."""
    number: str = Field(None, description="+48…, 48… or the national form")
    trunk_id: DbId = None
    trunk: str = Field(None, description="the trunk's name (instead of trunk_id)")
    kind: choice(tel.KINDS) = None
    label: str | None = None
    enabled: bool = None
    record_calls: bool | None = Field(None, description="null: the account-wide recording setting")
    hours: Annotated[dict | None, json_schema(HOURS)] = None


# -- trunks ------------------------------------------------------------------------------
@bp.get("/trunks")
@admin_only
def list_trunks():
    s = dbs()
    counts = _counts(s)
    return jsonify({"items": [tel.trunk_json(t, counts.get(t.id, 0))
                              for t in s.scalars(select(Trunk).order_by(Trunk.name))]})


@bp.post("/trunks")
@admin_only
@accepts(body=TrunkInput)
def add_trunk():
    data = body()
    s = dbs()
    try:
        t = tel.create_trunk(s, data.get("name", ""), data.get("host", ""), data.get("port", 5060),
                             data.get("username"), data.get("password"), data.get("enabled", True),
                             data.get("register", False))
    except tel.TelephonyError as exc:
        s.rollback()
        return _error(exc)
    audit.record(s, audit.SETTINGS_CHANGED, actor=g.api_user, target=f"trunk.{t.name}", ip=client_ip(),
                 change="trunk.added", via="api", host=t.host, port=t.port, register=t.register)
    s.commit()
    _changed("trunks", trunk=t.name)
    return jsonify(tel.trunk_json(t, 0)), 201


def _trunk(trunk_id: int):
    return dbs().get(Trunk, trunk_id)


@bp.get("/trunks/<int:trunk_id>")
@admin_only
def get_trunk(trunk_id: int):
    t = _trunk(trunk_id)
    if t is None:
        return api_error(404, "No such trunk.")
    return jsonify(tel.trunk_json(t, tel.numbers_on(dbs(), t)))


@bp.route("/trunks/<int:trunk_id>", methods=["PATCH", "PUT"])
@admin_only
@accepts(body=TrunkInput)
def update_trunk(trunk_id: int):
    data = body()
    s = dbs()
    t = _trunk(trunk_id)
    if t is None:
        return api_error(404, "No such trunk.")
    try:
        tel.update_trunk(s, t, name=data.get("name"), host=data.get("host"), port=data.get("port"),
                         username=data.get("username", ...), password=data.get("password", ...),
                         enabled=data.get("enabled"), register=data.get("register"))
    except tel.TelephonyError as exc:
        s.rollback()
        return _error(exc)
    audit.record(s, audit.SETTINGS_CHANGED, actor=g.api_user, target=f"trunk.{t.name}", ip=client_ip(),
                 change="trunk.changed", via="api", host=t.host, port=t.port, register=t.register)
    s.commit()
    _changed("trunks", trunk=t.name)
    return jsonify(tel.trunk_json(t, tel.numbers_on(s, t)))


@bp.delete("/trunks/<int:trunk_id>")
@admin_only
def delete_trunk(trunk_id: int):
    s = dbs()
    t = _trunk(trunk_id)
    if t is None:
        return api_error(404, "No such trunk.")
    name = t.name
    try:
        tel.delete_trunk(s, t)
    except tel.TelephonyError as exc:
        s.rollback()
        return _error(exc)
    audit.record(s, audit.SETTINGS_CHANGED, actor=g.api_user, target=f"trunk.{name}", ip=client_ip(),
                 change="trunk.deleted", via="api")
    s.commit()
    _changed("trunks", trunk=name)
    return "", 204


# -- numbers -----------------------------------------------------------------------------
def _number_json(s, n: Number) -> dict:
    t = s.get(Trunk, n.trunk_id)
    return tel.number_json(n, t.name if t else None)


@bp.get("/numbers")
@admin_only
def list_numbers():
    s = dbs()
    names = dict(s.execute(select(Trunk.id, Trunk.name)).all())
    return jsonify({"items": [tel.number_json(n, names.get(n.trunk_id))
                              for n in s.scalars(select(Number).order_by(Number.number))]})


@bp.post("/numbers")
@admin_only
@accepts(body=NumberInput)
def add_number():
    data = body()
    s = dbs()
    try:
        trunk = data.get("trunk_id", data.get("trunk"))
        if trunk in (None, ""):
            raise tel.TelephonyError("trunk", "no_trunk", "give trunk_id or trunk (its name)")
        n = tel.create_number(s, data.get("number", ""), trunk, region=account.default_region(s, settings()),
                              kind=data.get("kind", "gsm"), label=data.get("label") or "",
                              enabled=data.get("enabled", True), record_calls=data.get("record_calls"),
                              hours=data.get("hours"))
    except tel.TelephonyError as exc:
        s.rollback()
        return _error(exc)
    audit.record(s, audit.SETTINGS_CHANGED, actor=g.api_user, target=f"number.{n.number}", ip=client_ip(),
                 change="number.added", via="api", record_calls=n.record_calls, hours=n.hours)
    s.commit()
    _changed("numbers", number=n.number)
    return jsonify(_number_json(s, n)), 201


@bp.get("/numbers/<int:number_id>")
@admin_only
def get_number(number_id: int):
    s = dbs()
    n = s.get(Number, number_id)
    if n is None:
        return api_error(404, "No such number.")
    return jsonify(_number_json(s, n))


@bp.route("/numbers/<int:number_id>", methods=["PATCH", "PUT"])
@admin_only
@accepts(body=NumberInput)
def update_number(number_id: int):
    data = body()
    s = dbs()
    n = s.get(Number, number_id)
    if n is None:
        return api_error(404, "No such number.")
    try:
        trunk = data.get("trunk_id", data.get("trunk"))
        tel.update_number(s, n, region=account.default_region(s, settings()), number=data.get("number"),
                          trunk=trunk if trunk not in ("",) else None, kind=data.get("kind"),
                          label=data.get("label"), enabled=data.get("enabled"),
                          record_calls=data.get("record_calls", ...), hours=data.get("hours", ...))
    except tel.TelephonyError as exc:
        s.rollback()
        return _error(exc)
    audit.record(s, audit.SETTINGS_CHANGED, actor=g.api_user, target=f"number.{n.number}", ip=client_ip(),
                 change="number.changed", via="api", record_calls=n.record_calls, hours=n.hours)
    s.commit()
    _changed("numbers", number=n.number)
    return jsonify(_number_json(s, n))


@bp.delete("/numbers/<int:number_id>")
@admin_only
def delete_number(number_id: int):
    s = dbs()
    n = s.get(Number, number_id)
    if n is None:
        return api_error(404, "No such number.")
    value = n.number
    s.delete(n)
    audit.record(s, audit.SETTINGS_CHANGED, actor=g.api_user, target=f"number.{value}", ip=client_ip(),
                 change="number.deleted", via="api")
    s.commit()
    _changed("numbers", number=value)
    return "", 204


# -- OpenAPI -----------------------------------------------------------------------------
@extend
def _openapi() -> dict:
    err = {"$ref": "#/components/responses/Error"}
    errors = {"400": err, "401": err, "403": err}
    trunk_ref, number_ref = {"$ref": "#/components/schemas/Trunk"}, {"$ref": "#/components/schemas/Number"}
    id_param = lambda name: {"name": name, "in": "path", "required": True, "schema": {"type": "integer"}}  # noqa: E731

    def ok(desc, schema=None):
        r = {"description": desc}
        if schema:
            r["content"] = {"application/json": {"schema": schema}}
        return r

    def listing(ref):
        return {"type": "object", "properties": {"items": {"type": "array", "items": ref}}}

    return {
        "paths": {
            "/trunks": {
                "get": {"summary": "List trunks (administrators)", "operationId": "listTrunks",
                        "responses": {"200": ok("Trunks", listing(trunk_ref)), **errors}},
                "post": {"summary": "Add a trunk (administrators)", "operationId": "addTrunk",
                         "responses": {"201": ok("The trunk", trunk_ref), "409": err, "422": err, **errors}}},
            "/trunks/{trunk_id}": {
                "parameters": [id_param("trunk_id")],
                "get": {"summary": "One trunk", "operationId": "getTrunk",
                        "responses": {"200": ok("The trunk", trunk_ref), "404": err, **errors}},
                "patch": {"summary": "Change a trunk; an omitted or empty password keeps the saved one, "
                                     "null removes it", "operationId": "updateTrunk",
                          "responses": {"200": ok("The trunk", trunk_ref), "404": err, "409": err, "422": err,
                                        **errors}},
                "delete": {"summary": "Delete a trunk without numbers", "operationId": "deleteTrunk",
                           "responses": {"204": ok("Deleted"), "404": err, "409": err, **errors}}},
            "/numbers": {
                "get": {"summary": "List the company's numbers (administrators)", "operationId": "listNumbers",
                        "responses": {"200": ok("Numbers", listing(number_ref)), **errors}},
                "post": {"summary": "Add a number to the pool (administrators)", "operationId": "addNumber",
                         "responses": {"201": ok("The number", number_ref), "409": err, "422": err, **errors}}},
            "/numbers/{number_id}": {
                "parameters": [id_param("number_id")],
                "get": {"summary": "One number", "operationId": "getNumber",
                        "responses": {"200": ok("The number", number_ref), "404": err, **errors}},
                "patch": {"summary": "Change a number", "operationId": "updateNumber",
                          "responses": {"200": ok("The number", number_ref), "404": err, "409": err, "422": err,
                                        **errors}},
                "delete": {"summary": "Delete a number", "operationId": "deleteNumber",
                           "responses": {"204": ok("Deleted"), "404": err, **errors}}},
        },
        "schemas": {
            "Trunk": {"type": "object", "properties": {
                "id": {"type": "integer"}, "name": {"type": "string"}, "host": {"type": "string"},
                "port": {"type": "integer"}, "username": {"type": "string", "nullable": True},
                "has_password": {"type": "boolean"}, "enabled": {"type": "boolean"},
                "register": {"type": "boolean", "description": "Centrala registers at the carrier (host:port) "
                                                               "with the user name and password"},
                "registration": {"type": "string", "nullable": True, "enum": [*tel.REGISTRATION_STATES, None],
                                 "description": "live state of the registration as Asterisk reports it; null "
                                                "when the trunk does not register or is disabled"},
                "numbers": {"type": "integer"}}},
            "Number": {"type": "object", "properties": {
                "id": {"type": "integer"}, "number": {"type": "string", "description": "E.164"},
                "trunk_id": {"type": "integer"}, "trunk": {"type": "string"},
                "kind": {"type": "string", "enum": list(tel.KINDS)}, "label": {"type": "string"},
                "enabled": {"type": "boolean"},
                "record_calls": {"type": "boolean", "nullable": True,
                                 "description": "null: the account-wide recording setting"},
                "hours": HOURS}},
        },
    }
