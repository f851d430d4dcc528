"""REST: a new email conversation (``POST /api/v1/communications`` with ``"channel": "email"``).

Replies go through the channel-neutral ``POST /api/v1/communications/{id}/messages``
(``web/conversations/api.py``), which reaches ``centrala.emails.outbox.reply`` through the email
channel.  Who may send from a mailbox: an agent who serves a shared mailbox, or the owner of a
personal one (``outbox.usable_by``)."""
from __future__ import annotations

from typing import Literal

from flask import Blueprint, g, jsonify
from pydantic import Field

from centrala.channels import ChannelError
from centrala.conversations import lifecycle
from centrala.emails import outbox

from ..api.http import api_error, token_required
from ..api.openapi import extend
from ..api.schemas import Body, DbId, accepts, body, error_response
from ..extensions import bus, dbs
from ..history import services as history

bp = Blueprint("emails_api", __name__, url_prefix="/api/v1")

Address = str


class NewCommunication(Body):
    """A new outbound conversation; only ``email`` starts one over the API today."""
    model_config = {"extra": "forbid"}
    channel: Literal["email"] = Field(description="the channel of the new conversation")
    mailbox_id: DbId = Field(description="a shared mailbox you serve, or your personal one")
    to: list[Address] = Field(min_length=1, max_length=outbox.MAX_RECIPIENTS, description="recipients' addresses")
    cc: list[Address] = Field(default_factory=list, max_length=outbox.MAX_RECIPIENTS)
    subject: str = Field(max_length=outbox.MAX_SUBJECT)
    text: str = Field(max_length=outbox.MAX_BODY,
                      description="the body: plain text, or HTML (sanitized; formatting only)")


@bp.post("/communications")
@token_required
@accepts(body=NewCommunication)
def start():
    data = body()
    s = dbs()
    try:
        c = outbox.start(s, data["mailbox_id"], g.api_user.id, data["to"], data.get("cc", []), data["subject"],
                         data["text"])
    except outbox.ComposeError as exc:
        lifecycle.discard(s)
        return error_response(exc.status, str(exc), field=exc.field or None)
    except ChannelError as exc:
        lifecycle.discard(s)
        return api_error(exc.status, str(exc))
    messages = [m.as_dict() for m in lifecycle.messages(s, c)]
    lifecycle.commit(s, bus())
    item = history.as_dict(c, {g.api_user.id: g.api_user.name}, None)
    return jsonify({**item, "messages": messages}), 201


@extend
def _openapi() -> dict:
    err = {"$ref": "#/components/responses/Error"}
    return {"paths": {"/communications": {"post": {
        "summary": "Start a new outbound conversation (email)",
        "description": "Queues the first message of a new email conversation from a mailbox you may send "
                       "from (a shared one you serve, or your personal one). The message goes out through "
                       "the outbox: its `delivery` is `queued`, then `sent` or `failed` (with the server's "
                       "reason). Reply later with `POST /communications/{id}/messages`.",
        "operationId": "startCommunication",
        "responses": {"201": {"description": "The new conversation as History shows it, with its messages",
                              "content": {"application/json": {"schema": {"type": "object"}}}},
                      "400": err, "401": err, "422": err}}}}}
