"""REST: the messages of a conversation of any text channel, and replies through its channel.

``GET /api/v1/communications/{id}/messages`` and ``POST …/messages {"text": "…"}``: the agent
of the conversation or an administrator (the panel's rule, ``lifecycle.may_take_part``).  The
reply goes out through the conversation's own channel (``centrala.channels``); a real-time
channel also shows it live (``web.conversations.live``).  A call has no messages: 422."""
from __future__ import annotations

from flask import Blueprint, current_app, g, jsonify
from pydantic import Field

from centrala.channels import ChannelError
from centrala.conversations import lifecycle

from ..api.http import api_error, token_required
from ..api.openapi import extend
from ..api.schemas import Body, accepts, body
from ..extensions import bus, dbs
from . import live

bp = Blueprint("conversations_api", __name__, url_prefix="/api/v1")


class Reply(Body):
    """An agent's reply; its length and content are the channel's rule (422 with its message)."""
    model_config = {"extra": "forbid"}
    # optional here so that who may write is checked first; the channel answers 422 without it
    text: str | None = Field(None, description="the reply (chat: 1–2,000 characters); required")


@bp.errorhandler(ChannelError)
@bp.errorhandler(lifecycle.ConversationError)
def _refused(exc):
    lifecycle.discard(dbs())
    return api_error(exc.status, str(exc))


@bp.get("/communications/<int:comm_id>/messages")
@token_required
def messages(comm_id: int):
    s = dbs()
    c = lifecycle.owned(s, g.api_user, comm_id)
    return jsonify({"items": [m.as_dict() for m in lifecycle.messages(s, c)]})


@bp.post("/communications/<int:comm_id>/messages")
@token_required
@accepts(body=Reply)
def reply(comm_id: int):
    data = body()
    s = dbs()
    c = lifecycle.owned(s, g.api_user, comm_id)
    sent = lifecycle.reply(s, c, g.api_user, data.get("text"))
    lifecycle.commit(s, bus())
    live.push(current_app, s, c, sent.message.id)
    return jsonify(sent.message.as_dict()), 201


@extend
def _openapi() -> dict:
    err = {"$ref": "#/components/responses/Error"}
    ident = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}
    message = {"$ref": "#/components/schemas/Message"}
    return {
        "paths": {"/communications/{id}/messages": {
            "parameters": [ident],
            "get": {"summary": "The messages of a text conversation (chat, email), oldest first",
                    "description": "The conversation's agent or an administrator. A call has no messages (422).",
                    "operationId": "listMessages",
                    "responses": {"200": {"description": "The messages", "content": {"application/json": {
                        "schema": {"type": "object", "required": ["items"], "properties": {
                            "items": {"type": "array", "items": message}}}}}},
                        "400": err, "401": err, "403": err, "404": err, "422": err}},
            "post": {"summary": "Reply through the conversation's own channel",
                     "description": "The conversation's agent or an administrator. 409 when the conversation "
                                    "has ended; 422 for a call or an empty or too long text.",
                     "operationId": "sendMessage",
                     "responses": {"201": {"description": "The message as sent", "content": {
                         "application/json": {"schema": message}}},
                         "400": err, "401": err, "403": err, "404": err, "409": err, "422": err}}}},
        "schemas": {"Message": {"type": "object", "required": ["id", "direction", "text", "at", "delivery"],
                                "properties": {
            "id": {"type": "integer"},
            "direction": {"type": "string", "enum": ["inbound", "outbound", "internal"],
                          "description": "inbound: the customer wrote; outbound: an agent; internal: a "
                                         "system entry (joined, transferred)"},
            "author": {"type": "object", "nullable": True, "properties": {
                "kind": {"type": "string", "enum": ["customer", "agent", "system"]},
                "id": {"type": "integer", "nullable": True}, "name": {"type": "string", "nullable": True}}},
            "text": {"type": "string"},
            "attachments": {"type": "array", "items": {"type": "object", "properties": {
                "name": {"type": "string"}, "url": {"type": "string"}, "image": {"type": "boolean"}}}},
            "at": {"type": "string", "format": "date-time"},
            "delivery": {"type": "string", "enum": ["received", "queued", "sending", "sent", "delivered", "failed"],
                         "description": "email goes queued → sending → sent | failed (the outbox)"}}}},
    }
