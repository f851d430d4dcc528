"""The OpenAPI 3.1 document served at /api/v1/openapi.json.

The prose (summaries, responses) is written next to each feature's routes (``openapi.extend``);
what a request may carry is not written twice: request bodies and query parameters come from the
pydantic models the routes validate with (``schemas.accepts``), matched to the document through
the app's URL map.  ``PUT`` aliases of ``PATCH`` routes are documented from the URL map too.
"""
from __future__ import annotations

import copy
import re

from flask import Flask

from ..routing import MAX_ID
from .openapi import ERROR, spec
from .schemas import schema_of

PREFIX = "/api/v1"
METHODS = ("get", "put", "post", "patch", "delete")


def rule_paths(rule: str) -> list[str]:
    """The document paths a URL rule serves, as shapes: ``/users/{}``; an ``any(a, b)`` part
    gives one path per choice (the document lists them separately)."""
    paths = [rule[len(PREFIX):]]
    while any("<any(" in p for p in paths):
        out = []
        for p in paths:
            m = re.search(r"<any\(([^)]*)\):[^>]+>", p)
            if m is None:
                out.append(p)
                continue
            for choice in m.group(1).split(","):
                out.append(p[:m.start()] + choice.strip().strip("'\"") + p[m.end():])
        paths = out
    return [re.sub(r"<[^>]+>", "{}", p) for p in paths]


def shape(doc_path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", doc_path)


def operations(doc: dict, app: Flask):
    """(rule, method, document path or None, view function) for every API route of the app."""
    by_shape = {shape(p): p for p in doc["paths"]}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(PREFIX + "/"):
            continue
        view = app.view_functions[rule.endpoint]
        for method in sorted(m.lower() for m in rule.methods if m.lower() in METHODS):
            for p in rule_paths(rule.rule):
                yield rule, method, by_shape.get(p), view


def build(app: Flask, base_url: str) -> dict:
    doc = spec(base_url)
    components = doc["components"]["schemas"]
    components["Error"]["properties"]["error"]["properties"]["fields"] = {
        "type": "object", "additionalProperties": {"type": "string"},
        "description": "one message per refused field, keyed by its path (`channels.0`)"}
    components["Error"]["properties"]["error"]["properties"]["field"] = {
        "type": "string", "description": "the (first) refused field"}
    for rule, method, path, view in list(operations(doc, app)):
        if path is None:
            continue
        item = doc["paths"][path]
        if method == "put" and "put" not in item and "patch" in item and "PATCH" in rule.methods:
            item["put"] = _alias(item["patch"])
        op = item.get(method)
        schemas = getattr(view, "api_schemas", None)
        if op is None or not schemas:
            continue
        status = str(schemas["status"])
        if schemas["body"] is not None:
            name = _component(components, schemas["body"])
            op["requestBody"] = {"required": True, "content": {
                "application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}}}
            op.setdefault("responses", {}).setdefault("400", ERROR)
            op["responses"].setdefault(status, ERROR)
        if schemas["query"] is not None:
            params = [p for p in op.get("parameters", []) if p.get("in") != "query"]
            op["parameters"] = params + _query_parameters(components, schemas["query"])
            op.setdefault("responses", {}).setdefault(status, ERROR)
    return to_openapi_31(doc)


def _alias(patch: dict) -> dict:
    put = copy.deepcopy(patch)
    put["summary"] = patch.get("summary", "") + " (PUT: the same as PATCH)"
    put["operationId"] = patch.get("operationId", "op") + "Put"
    put["description"] = ("`PUT` is an alias of `PATCH` on this path: only the fields sent change. "
                          + patch.get("description", "")).strip()
    return put


def _model_schema(components: dict, model) -> dict:
    schema = schema_of(model)
    for name, sub in schema.pop("$defs", {}).items():
        components[name] = sub
    return schema


def _component(components: dict, model) -> str:
    components[model.__name__] = _model_schema(components, model)
    return model.__name__


def _query_parameters(components: dict, model) -> list[dict]:
    schema = _model_schema(components, model)
    required = set(schema.get("required", []))
    out = []
    for name, prop in schema.get("properties", {}).items():
        param = {"name": name, "in": "query", "required": name in required, "schema": prop}
        if "description" in prop:
            param["description"] = prop.pop("description")
        out.append(param)
    return out


def to_openapi_31(doc: dict) -> dict:
    """OpenAPI 3.1 (JSON Schema 2020-12, what pydantic writes): the hand-written ``nullable: true``
    becomes a ``null`` type, and every integer path parameter states the ids a route accepts."""
    doc["openapi"] = "3.1.0"
    doc = _nullable(doc)
    for item in doc["paths"].values():
        for op in [item, *(item.get(m, {}) for m in METHODS)]:
            for param in op.get("parameters", []):
                schema = param.get("schema", {})
                if param.get("in") == "path" and schema.get("type") == "integer":
                    schema.setdefault("minimum", 0)
                    schema.setdefault("maximum", MAX_ID)
    return doc


def _nullable(node):
    if isinstance(node, list):
        return [_nullable(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: _nullable(v) for k, v in node.items() if k != "nullable"}
    if node.get("nullable") is True:
        if "$ref" in out:
            return {"anyOf": [{"$ref": out.pop("$ref")}, {"type": "null"}], **out}
        t = out.get("type")
        if isinstance(t, str):
            out["type"] = [t, "null"]
        if "enum" in out and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
    return out
