"""REST API for the website chat: the embed snippet (DSH-1) for administrators."""
from __future__ import annotations

from flask import Blueprint, jsonify

from ..api.http import admin_only
from ..api.openapi import extend
from ..extensions import dbs, settings
from . import services as svc

bp = Blueprint("chat_api", __name__, url_prefix="/api/v1")


@bp.get("/widget/embed")
@admin_only
def embed():
    cfg = svc.get_settings(dbs())
    return jsonify({"snippet": svc.snippet(settings().base_url, cfg["key"]), "key": cfg["key"],
                    "embedded": bool(cfg["embed_seen_at"]), "embedded_at": cfg["embed_seen_at"]})


@extend
def _openapi() -> dict:
    err = {"$ref": "#/components/responses/Error"}
    return {
        "paths": {"/widget/embed": {"get": {
            "summary": "The website chat's embed snippet (administrators)",
            "tags": ["chat"],
            "responses": {"200": {"description": "The snippet and whether it was seen on the website",
                                  "content": {"application/json": {"schema": {"$ref": "#/components/schemas/WidgetEmbed"}}}},
                          "401": err, "403": err}}}},
        "schemas": {"WidgetEmbed": {"type": "object", "required": ["snippet", "key", "embedded"], "properties": {
            "snippet": {"type": "string", "example": '<script async src="https://centrala.example.com/widget/KEY/loader.js" charset="utf-8"></script>'},
            "key": {"type": "string"}, "embedded": {"type": "boolean"},
            "embedded_at": {"type": "string", "format": "date-time", "nullable": True}}}},
    }
