"""Request schemas of the REST API: one pydantic model validates a JSON body or a query string and
is the same model /api/v1/openapi.json documents (``web/api/openapi.py`` reads them from the routes),
so the document and the validation cannot drift.

    @bp.post("/things")
    @token_required
    @accepts(body=NewThing)          # 400: not a JSON object; 422: field-level errors
    def add_thing():
        data = body()                 # the validated fields the client sent, as a dict

Bodies are validated strictly (JSON types: a list is not a string, ``true`` is not 1); query
strings, which are all text, in pydantic's lax mode ("5" is 5).  Rules that need the database
(does this user exist, is the name taken) stay in the use cases; the schema refuses shapes.
"""
from __future__ import annotations

from functools import wraps
from typing import Annotated, Any

from flask import abort, g, jsonify, request
from pydantic import BaseModel, ConfigDict, Field, ValidationError, WithJsonSchema

from ..routing import MAX_ID

# an id the databases can hold: larger ones are refused here, not by the driver
DbId = Annotated[int, Field(ge=0, le=MAX_ID)]


class Body(BaseModel):
    """A JSON request body; unknown fields are ignored unless a model forbids them."""
    model_config = ConfigDict(strict=True, extra="ignore", populate_by_name=True)


class Query(BaseModel):
    """A query string (lax: every value arrives as text); an argument the route does not know is
    refused rather than silently ignored (a misspelt filter would return everything)."""
    model_config = ConfigDict(strict=False, extra="forbid", populate_by_name=True)


def json_schema(schema: dict):
    """Document a field with this JSON Schema instead of the one pydantic derives (validation unchanged)."""
    return WithJsonSchema(schema)


def checked_by_use_case(schema: dict):
    """A text argument the use case parses itself (with its own messages), documented as ``schema``."""
    return Annotated[str, json_schema(schema)]


def choice(values, description: str = ""):
    """A string the use case checks against ``values`` (so every refused field of a request is
    reported at once, in the use case's words); documented as that enum."""
    return checked_by_use_case({"type": "string", "enum": list(values),
                                **({"description": description} if description else {})})


def schema_of(model: type[BaseModel]) -> dict:
    """The model's JSON Schema as the document shows it (references into components/schemas)."""
    return _tidy(model.model_json_schema(ref_template="#/components/schemas/{model}"))


def _tidy(node):
    """Drop pydantic's titles and the ``default: null`` of fields that may be omitted but not null."""
    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            if k == "title" and isinstance(v, str):
                continue
            if k == "default" and v is None and not _allows_null(node):
                continue
            out[k] = _tidy(v) if k != "properties" else {pk: _tidy(pv) for pk, pv in v.items()}
        return out
    if isinstance(node, list):
        return [_tidy(v) for v in node]
    return node


def _allows_null(node: dict) -> bool:
    t = node.get("type")
    return t == "null" or (isinstance(t, list) and "null" in t) or any(
        isinstance(s, dict) and s.get("type") == "null" for s in node.get("anyOf", []))



def error_response(status: int, message: str, fields: dict | None = None, field: str | None = None):
    payload: dict[str, Any] = {"code": status, "message": message}
    if fields:
        payload["fields"] = fields
    if field:
        payload["field"] = field
    resp = jsonify({"error": payload})
    resp.status_code = status
    return resp


def field_errors(exc: ValidationError) -> dict[str, str]:
    """{"channels.0": "must be one of: chat, email", …}: one readable message per field."""
    out: dict[str, str] = {}
    for err in exc.errors(include_url=False):
        loc = ".".join(str(p) for p in err["loc"]) or "body"
        ctx = err.get("ctx") or {}
        if err["type"] in ("literal_error", "enum"):
            choices = str(ctx.get("expected", "")).replace(" or ", ", ").replace("'", "")
            message = f"must be one of: {choices}"
        elif err["type"] == "extra_forbidden":
            message = "unknown field"
        elif err["type"] == "missing":
            message = "required"
        else:
            message = err["msg"]
        out.setdefault(loc, message)
    return out


def nul_at(value, path: tuple = ()) -> str | None:
    """Where a NUL character hides in a JSON value ("title", "emails.0"), or None.  No text the
    app stores may hold one: PostgreSQL refuses it (a 500), SQLite would keep it."""
    if isinstance(value, str):
        return ".".join(map(str, path)) or "body" if "\x00" in value else None
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        if isinstance(key, str) and "\x00" in key:
            return ".".join(map(str, (*path, key)))
        found = nul_at(item, (*path, key))
        if found is not None:
            return found
    return None


def _refuse_nul(data, status: int, what: str) -> None:
    loc = nul_at(data)
    if loc is not None:
        message = "must not contain NUL characters"
        abort(error_response(status, f"Invalid {what}: {loc}: {message}", {loc: message}, field=loc.split(".")[0]))


def _invalid(exc: ValidationError, status: int, what: str):
    fields = field_errors(exc)
    text = "; ".join(f"{k}: {v}" for k, v in fields.items())
    # "field": the first refused one, named as the use cases' own errors name it
    abort(error_response(status, f"Invalid {what}: {text}", fields, field=next(iter(fields)).split(".")[0]))


def sent_object() -> dict | None:
    """The request's JSON body if it is an object, else None (panel endpoints that also take forms)."""
    data = request.get_json(silent=True)
    return data if isinstance(data, dict) else None


def json_object() -> dict:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        abort(error_response(400, "Send a JSON object with Content-Type: application/json."))
    return data


def accepts(body: type[Body] | None = None, query: type[Query] | None = None, status: int = 422):
    """Validate the request's JSON body and/or query string before the view runs.

    ``status`` is the answer to a schema violation (422; a few older routes keep their 400).
    The models are kept on the view (``view.api_schemas``) for the OpenAPI document."""
    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if query is not None:
                _refuse_nul(request.args.to_dict(), status, "query")
                try:
                    g.api_query = query.model_validate(request.args.to_dict()).model_dump(exclude_unset=True,
                                                                                          by_alias=True)
                except ValidationError as exc:
                    _invalid(exc, status, "query")
            if body is not None:
                data = json_object()
                _refuse_nul(data, status, "request")
                try:
                    g.api_body = body.model_validate(data).model_dump(exclude_unset=True, by_alias=True)
                except ValidationError as exc:
                    _invalid(exc, status, "request")
            return view(*args, **kwargs)

        wrapper.api_schemas = {"body": body, "query": query, "status": status}
        return wrapper

    return decorate


def body() -> dict:
    """The validated body of this request: only the fields the client sent."""
    return g.api_body


def query() -> dict:
    return g.api_query


def validate(model: type[BaseModel], data) -> tuple[dict | None, str | None]:
    """For Socket.IO events: (the validated fields, None) or (None, "field: message; …")."""
    if nul_at(data) is not None:
        return None, f"{nul_at(data)}: must not contain NUL characters"
    try:
        return model.model_validate(data if isinstance(data, dict) else {}).model_dump(), None
    except ValidationError as exc:
        return None, "; ".join(f"{k}: {v}" for k, v in field_errors(exc).items())
