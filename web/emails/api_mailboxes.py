"""REST API of mailboxes (SET-2): ``/api/v1/mailboxes`` — administrators only (an agent sets their
own personal mailbox on My profile).  The password is write-only (``has_password`` tells whether
one is stored); a PATCH without it keeps the stored one.  The checks are
``centrala.emails.mailboxes``'s, the same the Settings / Email page uses."""
from __future__ import annotations

from typing import Annotated

from flask import Blueprint, g, jsonify
from pydantic import Field

from centrala.emails import mailboxes as mb
from centrala.emails import probe
from centrala.models_email import SECURITY, Mailbox

from ..api.http import admin_only, api_error
from ..api.openapi import extend
from ..api.schemas import Body, DbId, accepts, body, choice, error_response, json_schema
from ..extensions import bus, csrf, dbs, settings
from .settings import commit_changed, commit_removal, record
from .settings_texts import problems_text, results_json

bp = Blueprint("mailboxes_api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)  # bearer tokens, no cookies: nothing to forge

Port = Annotated[int, json_schema({"type": "integer", "minimum": 1, "maximum": 65535})]


class MailboxInput(Body):
    """A mailbox; on PATCH (or PUT) only the fields sent change."""
    kind: choice(mb.KINDS, "shared (agents in agent_ids) or personal (the user in user_id); default shared") = None
    label: str = None
    address: str = None
    username: str = Field(None, description="the login; default: the address")
    password: str | None = Field(None, json_schema_extra={"writeOnly": True},
                                 description="write-only; on a change omitted, null or empty keeps the stored one")
    imap_host: str = None
    imap_port: Port = None
    imap_security: choice(SECURITY) = None
    smtp_host: str = None
    smtp_port: Port = None
    smtp_security: choice(SECURITY) = None
    enabled: bool = None
    user_id: DbId | None = None
    agent_ids: list[DbId] | None = None
    signature: str = None
    auth: choice(mb.AUTHS, "password (default), or oauth2: sign in with the provider (XOAUTH2) from the "
                           "mailbox's page in Settings / Email") = None
    oauth_authorize_url: str = Field(None, description="the provider's authorization endpoint (https)")
    oauth_token_url: str = Field(None, description="the provider's token endpoint (https)")
    oauth_client_id: str = None
    oauth_client_secret: str | None = Field(None, json_schema_extra={"writeOnly": True},
                                            description="write-only; omitted or empty keeps the stored one")
    oauth_scope: str = Field(None, description="e.g. https://outlook.office.com/IMAP.AccessAsUser.All "
                                               "https://outlook.office.com/SMTP.Send offline_access")


def _invalid(exc: mb.MailboxInvalid):
    fields = problems_text(exc)
    return error_response(422, "; ".join(f"{k}: {v}" for k, v in fields.items()), fields, field=exc.field)


def _get(mailbox_id: int) -> Mailbox | None:
    return dbs().get(Mailbox, mailbox_id)


def _record(s, m: Mailbox, change: str, **details) -> None:
    record(s, m, change, actor=g.api_user, via="api", **details)


@bp.get("/mailboxes")
@admin_only
def list_mailboxes():
    s = dbs()
    return jsonify({"items": [mb.to_json(s, m) for m in mb.listing(s)]})


@bp.post("/mailboxes")
@admin_only
@accepts(body=MailboxInput)
def add_mailbox():
    s = dbs()
    try:
        m = mb.create(s, body())
    except mb.MailboxInvalid as exc:
        s.rollback()
        return _invalid(exc)
    _record(s, m, "mailbox.added", kind=m.kind)
    s.commit()
    mb.announce(bus(), m.id, "created")
    return jsonify(mb.to_json(s, m)), 201


@bp.get("/mailboxes/<int:mailbox_id>")
@admin_only
def get_mailbox(mailbox_id: int):
    m = _get(mailbox_id)
    if m is None:
        return api_error(404, "No such mailbox.")
    return jsonify(mb.to_json(dbs(), m))


@bp.route("/mailboxes/<int:mailbox_id>", methods=["PATCH", "PUT"])
@admin_only
@accepts(body=MailboxInput)
def update_mailbox(mailbox_id: int):
    s = dbs()
    m = _get(mailbox_id)
    if m is None:
        return api_error(404, "No such mailbox.")
    try:
        changed = mb.update(s, m, body())
    except mb.MailboxInvalid as exc:
        s.rollback()
        return _invalid(exc)
    commit_changed(s, m, changed, actor=g.api_user, via="api")
    return jsonify(mb.to_json(s, m))


@bp.delete("/mailboxes/<int:mailbox_id>")
@admin_only
def delete_mailbox(mailbox_id: int):
    s = dbs()
    m = _get(mailbox_id)
    if m is None:
        return api_error(404, "No such mailbox.")
    commit_removal(s, m, actor=g.api_user, via="api")
    return "", 204


@bp.post("/mailboxes/<int:mailbox_id>/test")
@admin_only
def test_mailbox(mailbox_id: int):
    s = dbs()
    m = _get(mailbox_id)
    if m is None:
        return api_error(404, "No such mailbox.")
    results = probe.test_mailbox(s, m, settings())
    s.commit()   # an OAuth2 mailbox: refreshed tokens, or the reconnect state
    return jsonify(results_json(results))


@extend
def _openapi() -> dict:
    err = {"$ref": "#/components/responses/Error"}
    errors = {"400": err, "401": err, "403": err}
    ref = {"$ref": "#/components/schemas/Mailbox"}
    param = [{"name": "mailbox_id", "in": "path", "required": True, "schema": {"type": "integer"}}]

    def ok(desc, schema=None):
        return {"description": desc, **({"content": {"application/json": {"schema": schema}}} if schema else {})}

    side = {"type": "object", "properties": {
        "side": {"type": "string", "enum": ["imap", "smtp"]}, "ok": {"type": "boolean"},
        "code": {"type": "string", "enum": ["ok", "dns", "refused", "timeout", "tls", "auth", "protocol"]},
        "message": {"type": "string"}, "detail": {"type": "string", "description": "the server's own words"},
        "side_label": {"type": "string"}}}
    security = {"type": "string", "enum": list(SECURITY)}
    return {
        "paths": {
            "/mailboxes": {
                "get": {"summary": "List mailboxes (administrators)", "operationId": "listMailboxes",
                        "responses": {"200": ok("Mailboxes", {"type": "object", "properties": {
                            "items": {"type": "array", "items": ref}}}), **errors}},
                "post": {"summary": "Add a mailbox (administrators); password required", "operationId": "addMailbox",
                         "responses": {"201": ok("The mailbox", ref), "422": err, **errors}}},
            "/mailboxes/{mailbox_id}": {
                "parameters": param,
                "get": {"summary": "One mailbox", "operationId": "getMailbox",
                        "responses": {"200": ok("The mailbox", ref), "404": err, **errors}},
                "patch": {"summary": "Change a mailbox; an omitted or empty password keeps the stored one",
                          "operationId": "updateMailbox",
                          "responses": {"200": ok("The mailbox", ref), "404": err, "422": err, **errors}},
                "delete": {"summary": "Delete a mailbox (its conversations stay in History)",
                           "operationId": "deleteMailbox", "responses": {"204": ok("Deleted"), "404": err, **errors}}},
            "/mailboxes/{mailbox_id}/test": {
                "parameters": param,
                "post": {"summary": "Test connection: log in to IMAP and SMTP with the stored settings",
                         "operationId": "testMailbox",
                         "responses": {"200": ok("Per side: ok, or what failed", {"type": "object", "properties": {
                             "imap": side, "smtp": side}}), "404": err, **errors}}},
        },
        "schemas": {
            "Mailbox": {"type": "object", "properties": {
                "id": {"type": "integer"}, "kind": {"type": "string", "enum": list(mb.KINDS)},
                "label": {"type": "string"}, "address": {"type": "string"}, "username": {"type": "string"},
                "has_password": {"type": "boolean", "description": "the password itself is never returned"},
                "auth": {"type": "string", "enum": ["password", "oauth2"]},
                "oauth_authorize_url": {"type": "string"}, "oauth_token_url": {"type": "string"},
                "oauth_client_id": {"type": "string"}, "oauth_scope": {"type": "string"},
                "oauth_has_client_secret": {"type": "boolean"},
                "oauth_signed_in": {"type": "boolean", "description": "tokens from the provider are stored; "
                                                                      "state reconnect: sign in again"},
                "imap_host": {"type": "string"}, "imap_port": {"type": "integer"}, "imap_security": security,
                "smtp_host": {"type": "string"}, "smtp_port": {"type": "integer"}, "smtp_security": security,
                "enabled": {"type": "boolean"},
                "user_id": {"type": "integer", "nullable": True, "description": "the owner of a personal mailbox"},
                "agent_ids": {"type": "array", "items": {"type": "integer"},
                              "description": "the agents serving a shared mailbox"},
                "signature": {"type": "string", "description": "HTML (sanitized)"},
                "state": {"type": "string", "enum": ["connected", "connecting", "error", "reconnect", "disabled"],
                          "description": "live: the mail worker's connection"},
                "last_error": {"type": "string", "description": "why the mailbox is down"},
                "state_at": {"type": "string", "format": "date-time", "nullable": True}}},
        },
    }
