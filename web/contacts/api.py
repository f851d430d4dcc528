"""REST API for contacts, their import and custom fields (CON-1…5, SET-3), under /api/v1."""
from __future__ import annotations

from typing import Literal

from flask import Blueprint, g, jsonify, request
from pydantic import Field
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from centrala import account, audit
from centrala import contact_import as I
from centrala import contacts as C
from centrala import custom_fields as CF
from centrala.models_contacts import Contact, ContactImport, CustomField

from ..api.http import admin_only, api_error, token_required
from ..api.openapi import extend
from ..api.schemas import Body, Query, accepts, body, choice, query
from ..extensions import client_ip, db, dbs, settings
from .http import export_response

bp = Blueprint("contacts_api", __name__, url_prefix="/api/v1")


class EmailItem(Body):
    email: str | None = None
    type: str | None = Field(None, examples=["work"], description="work, home or other (default: work)")


class PhoneItem(Body):
    number: str | None = Field(None, description="any format; stored as E.164")
    type: str | None = Field(None, examples=["mobile"],
                             description="mobile, work, home, fax or other (default: mobile)")


class ContactInput(Body):
    """A contact's data; emails and phones are plain strings or objects with their type."""
    first_name: str | None = None
    last_name: str | None = None
    organisation: str | None = None
    address: str | None = None
    note: str | None = None
    emails: list[str | EmailItem] | None = None
    phones: list[str | PhoneItem] | None = None
    custom: dict[str, str | None] | None = Field(None, description="custom fields by key")


class MappingColumn(Body):
    index: int = Field(ge=0, le=1_000_000)
    field: str = Field(description="first_name, last_name, organisation, address, note, email, email_type, "
                                   "phone, phone_type or custom.<key>")
    slot: int = Field(None, ge=1, le=20, description="for email, email_type, phone, phone_type: 1, 2, …")


class ImportMapping(Body):
    has_header: bool = True
    columns: list[MappingColumn] = []


class CustomFieldInput(Body):
    name: str
    key: str = Field(description="lower-case letters, digits and _; starts with a letter",
                     json_schema_extra={"pattern": "^[a-z][a-z0-9_]*$"})
    kind: choice(CF.KINDS) = "short"
    applies_to: choice(CF.APPLIES_TO) = "contact"


class CustomFieldPatch(Body):
    name: str = None
    kind: choice(CF.KINDS) = None


class ContactSearch(Query):
    q: str = Field("", max_length=200, description="Words (all must match) or a phone number with or without "
                                                     "spaces or country code")
    sort: Literal[tuple(C.SORTS)] = "last_name"  # type: ignore[valid-type]
    page: int = Field(1, ge=1, le=10_000_000)
    per_page: int = Field(25, ge=1, le=200)


class ImportQuery(Query):
    preview: Literal["1", "true"] = Field(None, description="add the first rows and the guessed mapping")


class FieldQuery(Query):
    applies_to: Literal[tuple(CF.APPLIES_TO)] = None  # type: ignore[valid-type]


def _region() -> str:
    """Settings / General's default phone region (else CENTRALA_DEFAULT_REGION), read per request."""
    return account.default_region(dbs(), settings())


def _contact(contact_id: int):
    return dbs().scalar(select(Contact).where(Contact.id == contact_id)
                        .options(selectinload(Contact.emails), selectinload(Contact.phones)))


def _invalid(errors: dict):
    resp = jsonify({"error": {"code": 422, "message": "Invalid contact: " +
                              "; ".join(f"{k}: {v}" for k, v in errors.items()), "fields": errors}})
    return resp, 422


# -- contacts --------------------------------------------------------------------------------
@bp.get("/contacts")
@token_required
@accepts(query=ContactSearch, status=400)
def list_contacts():
    args = ContactSearch(**query())   # with the defaults
    rows, total = C.search(dbs(), args.q, args.sort, args.page, args.per_page)
    return jsonify({"items": [C.as_dict(c) for c in rows], "total": total, "page": args.page,
                    "per_page": args.per_page})


@bp.post("/contacts")
@token_required
@accepts(body=ContactInput)
def create_contact():
    s = dbs()
    try:
        contact = C.create(s, C.from_dict(body()), _region(), g.api_user.id)
    except C.ContactError as exc:
        return _invalid(exc.errors)
    s.commit()
    return jsonify(C.as_dict(contact)), 201


@bp.get("/contacts/<int:contact_id>")
@token_required
def get_contact(contact_id: int):
    c = _contact(contact_id)
    return jsonify(C.as_dict(c)) if c else api_error(404, "No such contact.")


@bp.put("/contacts/<int:contact_id>")
@token_required
@accepts(body=ContactInput)
def put_contact(contact_id: int):
    s = dbs()
    c = _contact(contact_id)
    if c is None:
        return api_error(404, "No such contact.")
    try:
        C.update(s, c, C.from_dict(body()), _region())
    except C.ContactError as exc:
        s.rollback()
        return _invalid(exc.errors)
    s.commit()
    return jsonify(C.as_dict(c))


@bp.delete("/contacts/<int:contact_id>")
@token_required
def delete_contact(contact_id: int):
    s = dbs()
    c = _contact(contact_id)
    if c is None:
        return api_error(404, "No such contact.")
    C.delete_contact(s, c)
    s.commit()
    return "", 204


@bp.get("/contacts/<int:contact_id>/communications")
@token_required
def contact_communications(contact_id: int):
    from centrala.models import iso

    c = _contact(contact_id)
    if c is None:
        return api_error(404, "No such contact.")
    return jsonify({"items": [{"id": m.id, "channel": m.channel, "direction": m.direction, "outcome": m.outcome,
                               "remote": m.remote, "started_at": iso(m.started_at)}
                              for m in C.communications(dbs(), c)]})


@bp.get("/contacts/export")
@token_required
def export_contacts():
    return export_response(db())


# -- import ----------------------------------------------------------------------------------------
def _import(import_id: int):
    return dbs().get(ContactImport, import_id)


def _own_import(import_id: int):
    """(the import, None) for its uploader or an administrator, else (None, the 404/403 answer)."""
    imp = _import(import_id)
    if imp is None:
        return None, api_error(404, "No such import.")
    try:
        I.check_may_manage(imp, g.api_user)
    except I.ImportError_ as exc:
        return None, api_error(403, str(exc))
    return imp, None


@bp.get("/contacts/imports")
@token_required
def list_imports():
    rows = dbs().scalars(select(ContactImport).order_by(ContactImport.id.desc()).limit(100))
    return jsonify({"items": [I.as_dict(i, full=I.may_manage(i, g.api_user)) for i in rows]})


@bp.post("/contacts/imports")
@token_required
def create_import():
    s = dbs()
    if request.content_length and request.content_length > I.MAX_BYTES + 64 * 1024:
        return api_error(413, f"The file is larger than {I.MAX_BYTES // (1024 * 1024)} MB.")
    f = request.files.get("file")
    if f is None or not f.filename:
        return api_error(400, "Send the CSV as multipart/form-data in the field 'file'.")
    try:
        imp = I.create_import(s, settings().data_dir, f.stream, f.filename, g.api_user.id)
    except I.ImportError_ as exc:
        s.rollback()
        return api_error(413 if exc.code == "too_large" else 400, str(exc))
    s.commit()
    body = I.as_dict(imp)
    body["preview"] = I.preview(settings().data_dir, imp)
    return jsonify(body), 201


@bp.get("/contacts/imports/<int:import_id>")
@token_required
@accepts(query=ImportQuery, status=400)
def get_import(import_id: int):
    imp = _import(import_id)
    if imp is None:
        return api_error(404, "No such import.")
    full = I.may_manage(imp, g.api_user)
    answer = I.as_dict(imp, full=full)
    if query().get("preview"):
        if not full:
            return _own_import(import_id)[1]
        answer["preview"] = I.preview(settings().data_dir, imp)
    return jsonify(answer)


@bp.put("/contacts/imports/<int:import_id>/mapping")
@token_required
@accepts(body=ImportMapping)
def put_mapping(import_id: int):
    s = dbs()
    imp, refused = _own_import(import_id)
    if refused:
        return refused
    data = body()
    try:
        I.set_mapping(s, settings().data_dir, imp, data.get("has_header", True), data.get("columns", []))
    except I.ImportError_ as exc:
        s.rollback()
        return api_error(409 if exc.code in ("busy", "done") else 422, str(exc))
    s.commit()
    return jsonify(I.as_dict(imp))


def _start(import_id: int, step: str):
    imp, refused = _own_import(import_id)
    if refused:
        return refused
    if step == "verify" and not {"first_name", "last_name"} <= {c["field"] for c in imp.mapping or []}:
        return api_error(409, "Map first_name and last_name before verifying.")
    dbs().close()
    if not I.claim(db(), settings().data_dir, import_id, step):
        state = dbs().get(ContactImport, import_id).status
        need = "uploaded, verified or failed" if step == "verify" else "verified"
        return api_error(409, f"The import is {state}; {step} needs it {need}.")
    I.run_in_background(db(), settings().data_dir, import_id, step, _region(), g.api_user.id)
    dbs().expire_all()
    return jsonify(I.as_dict(dbs().get(ContactImport, import_id))), 202


@bp.post("/contacts/imports/<int:import_id>/verify")
@token_required
def verify_import(import_id: int):
    return _start(import_id, "verify")


@bp.post("/contacts/imports/<int:import_id>/commit")
@token_required
def commit_import(import_id: int):
    return _start(import_id, "commit")


@bp.delete("/contacts/imports/<int:import_id>")
@token_required
def delete_import(import_id: int):
    """The import record with its original file and error report; contacts it created stay."""
    s = dbs()
    imp, refused = _own_import(import_id)
    if refused:
        return refused
    name = imp.filename
    try:
        paths = I.delete_import(s, settings().data_dir, imp)
        audit.record(s, I.AUDIT_DELETED, actor=g.api_user, target=name, ip=client_ip(), import_id=import_id)
        s.commit()
    except I.ImportError_ as exc:
        s.rollback()
        if exc.code == "not_found":
            return api_error(404, "No such import.")
        return api_error(409, "The import is running; delete it once it has finished (or was interrupted).")
    for p in paths:
        p.unlink(missing_ok=True)
    return "", 204


# -- custom fields ------------------------------------------------------------------------------------
@bp.get("/custom-fields")
@token_required
@accepts(query=FieldQuery, status=400)
def list_fields():
    applies_to = query().get("applies_to")
    return jsonify({"items": [CF.as_dict(f) for f in CF.fields(dbs(), applies_to)]})


@bp.post("/custom-fields")
@admin_only
@accepts(body=CustomFieldInput)
def create_field():
    s = dbs()
    data = CustomFieldInput(**body()).model_dump()   # with the defaults
    try:
        f = CF.create(s, data["name"], data["key"], data["kind"], data["applies_to"])
    except CF.FieldError as exc:
        s.rollback()
        code = 409 if "already exists" in exc.errors.get("key", "") else 422
        return api_error(code, str(exc))
    s.commit()
    return jsonify(CF.as_dict(f)), 201


@bp.patch("/custom-fields/<int:field_id>")
@admin_only
@accepts(body=CustomFieldPatch)
def patch_field(field_id: int):
    s = dbs()
    f = s.get(CustomField, field_id)
    if f is None:
        return api_error(404, "No such custom field.")
    data = body()
    try:
        CF.update(s, f, data.get("name", f.name), data.get("kind", f.kind))
    except CF.FieldError as exc:
        s.rollback()
        return api_error(422, str(exc))
    s.commit()
    return jsonify(CF.as_dict(f))


@bp.delete("/custom-fields/<int:field_id>")
@admin_only
def delete_field(field_id: int):
    s = dbs()
    f = s.get(CustomField, field_id)
    if f is None:
        return api_error(404, "No such custom field.")
    CF.delete(s, f)
    s.commit()
    return "", 204


# -- OpenAPI -------------------------------------------------------------------------------------------
@extend
def _openapi() -> dict:
    ERR = {"$ref": "#/components/responses/Error"}
    errors = {"400": ERR, "401": ERR}
    idp = [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}]
    contact = {"$ref": "#/components/schemas/Contact"}
    imp = {"$ref": "#/components/schemas/ContactImport"}
    field = {"$ref": "#/components/schemas/CustomField"}

    def ok(desc, schema):
        return {"description": desc, "content": {"application/json": {"schema": schema}}}

    text = {"type": "string"}
    return {
        "paths": {
            "/contacts": {
                "get": {"summary": "Search contacts (name, organisation, any email, any phone)",
                        "operationId": "listContacts",
                        "responses": {"200": ok("A page of contacts", {"type": "object", "properties": {
                            "items": {"type": "array", "items": contact}, "total": {"type": "integer"},
                            "page": {"type": "integer"}, "per_page": {"type": "integer"}}}), **errors}},
                "post": {"summary": "Create a contact", "operationId": "createContact",
                         "responses": {"201": ok("Created", contact), "422": ERR, **errors}}},
            "/contacts/{id}": {
                "parameters": idp,
                "get": {"summary": "One contact", "operationId": "getContact",
                        "responses": {"200": ok("The contact", contact), "404": ERR, **errors}},
                "put": {"summary": "Replace a contact's data", "operationId": "updateContact",
                        "responses": {"200": ok("The contact", contact), "404": ERR, "422": ERR, **errors}},
                "delete": {"summary": "Delete a contact", "operationId": "deleteContact",
                           "responses": {"204": {"description": "Deleted"}, "404": ERR, **errors}}},
            "/contacts/{id}/communications": {
                "parameters": idp,
                "get": {"summary": "The contact's communications (matched by phone number or email)",
                        "operationId": "contactCommunications",
                        "responses": {"200": ok("Communications, newest first", {"type": "object", "properties": {
                            "items": {"type": "array", "items": {"type": "object"}}}}), "404": ERR, **errors}}},
            "/contacts/export": {"get": {
                "summary": "All contacts as CSV (UTF-8 with BOM; one column per email / phone slot)",
                "operationId": "exportContacts",
                "responses": {"200": {"description": "CSV file",
                                      "content": {"text/csv": {"schema": {"type": "string"}}}}, **errors}}},
            "/contacts/imports": {
                "get": {"summary": "The import status list", "operationId": "listContactImports",
                        "responses": {"200": ok("Imports, newest first", {"type": "object", "properties": {
                            "items": {"type": "array", "items": imp}}}), **errors}},
                "post": {"summary": "Upload a CSV (up to 10 MB) to import; returns the import id",
                         "operationId": "createContactImport",
                         "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                             "type": "object", "required": ["file"],
                             "properties": {"file": {"type": "string", "format": "binary"}}}}}},
                         "responses": {"201": ok("The import, with a preview and a guessed mapping", imp),
                                       "413": ERR, **errors}}},
            "/contacts/imports/{id}": {
                "parameters": idp,
                "get": {"summary": "Status, counts and the error report of an import",
                        "operationId": "getContactImport",
                        "description": "Everyone sees the status and counts; the error report (errors) and "
                                       "the preview only the user who uploaded it or an administrator "
                                       "(403 for preview=1 otherwise).",
                        "responses": {"200": ok("The import", imp), "403": ERR, "404": ERR, **errors}},
                "delete": {"summary": "Delete an import record with its original file and error report "
                                      "(the user who uploaded it or an administrator); contacts it created "
                                      "or updated stay",
                           "operationId": "deleteContactImport",
                           "description": "409 while verify or import is running on it; an interrupted "
                                          "one may be deleted.",
                           "responses": {"204": {"description": "Deleted"}, "403": ERR, "404": ERR, "409": ERR,
                                         **errors}}},
            "/contacts/imports/{id}/mapping": {
                "parameters": idp,
                "put": {"summary": "Set 'first row is headers' and the column → field mapping",
                        "operationId": "setContactImportMapping",
                        "responses": {"200": ok("The import", imp), "403": ERR, "404": ERR, "409": ERR,
                                      "422": ERR, **errors}}},
            "/contacts/imports/{id}/verify": {
                "parameters": idp,
                "post": {"summary": "Dry run in the background: per-record error report "
                                    "(needs first_name and last_name mapped)",
                         "operationId": "verifyContactImport",
                         "responses": {"202": ok("Verification started", imp), "403": ERR, "404": ERR,
                                       "409": ERR, **errors}}},
            "/contacts/imports/{id}/commit": {
                "parameters": idp,
                "post": {"summary": "Import the verified records in the background; a record whose email "
                                    "or phone belongs to a contact updates it (no duplicates)",
                         "operationId": "commitContactImport",
                         "responses": {"202": ok("Import started", imp), "403": ERR, "404": ERR, "409": ERR,
                                       **errors}}},
            "/custom-fields": {
                "get": {"summary": "Custom fields", "operationId": "listCustomFields",
                        "responses": {"200": ok("Fields", {"type": "object", "properties": {
                            "items": {"type": "array", "items": field}}}), **errors}},
                "post": {"summary": "Add a custom field (administrators)", "operationId": "createCustomField",
                         "responses": {"201": ok("Created", field), "403": ERR, "409": ERR, "422": ERR,
                                       **errors}}},
            "/custom-fields/{id}": {
                "parameters": idp,
                "patch": {"summary": "Rename a custom field or change its kind (administrators)",
                          "operationId": "updateCustomField",
                          "responses": {"200": ok("The field", field), "403": ERR, "404": ERR, "422": ERR,
                                        **errors}},
                "delete": {"summary": "Delete a custom field (administrators)", "operationId": "deleteCustomField",
                           "responses": {"204": {"description": "Deleted"}, "403": ERR, "404": ERR, **errors}}},
        },
        "schemas": {
            "Contact": {"type": "object", "properties": {
                "id": {"type": "integer"}, "first_name": text, "last_name": text, "organisation": text,
                "address": text, "note": text,
                "emails": {"type": "array", "items": {"type": "object", "properties": {
                    "email": text, "type": {"type": "string", "enum": ["work", "home", "other"]}}}},
                "phones": {"type": "array", "items": {"type": "object", "properties": {
                    "number": {"type": "string", "description": "E.164"},
                    "type": {"type": "string", "enum": ["mobile", "work", "home", "fax", "other"]}}}},
                "custom": {"type": "object", "additionalProperties": {"type": "string"}},
                "created_at": {"type": "string", "format": "date-time"},
                "updated_at": {"type": "string", "format": "date-time"}}},
            "ContactImport": {"type": "object", "properties": {
                "id": {"type": "integer"}, "filename": text, "size_bytes": {"type": "integer"},
                "created_by": {"type": "integer", "nullable": True, "description": "the user who uploaded it"},
                "status": {"type": "string",
                           "enum": ["uploaded", "verifying", "verified", "importing", "done", "failed"]},
                "encoding": text, "delimiter": text, "has_header": {"type": "boolean"},
                "mapping": {"type": "array", "items": {"type": "object"}},
                "total": {"type": "integer"}, "ok": {"type": "integer"}, "processed": {"type": "integer"},
                "created": {"type": "integer"}, "updated": {"type": "integer"},
                "error_count": {"type": "integer"},
                "errors": {"type": "array", "items": {"type": "object", "properties": {
                    "record": {"type": "integer"}, "field": text, "slot": {"type": "integer"},
                    "code": text, "message": text}}},
                "warnings": {"type": "array", "items": {"type": "object"}},
                "message": text,
                "preview": {"type": "object"},
                "created_at": {"type": "string", "format": "date-time"},
                "verified_at": {"type": "string", "format": "date-time", "nullable": True},
                "started_at": {"type": "string", "format": "date-time", "nullable": True},
                "finished_at": {"type": "string", "format": "date-time", "nullable": True}}},
            "CustomField": {"type": "object", "properties": {
                "id": {"type": "integer"}, "key": text, "name": text,
                "kind": {"type": "string", "enum": ["short", "long"]},
                "applies_to": {"type": "string", "enum": ["contact", "task"]}}},
        },
    }
