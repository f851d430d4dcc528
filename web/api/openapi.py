"""The written part of the OpenAPI document of /api/v1 (kept next to the routes it describes):
summaries and responses.  Request bodies and query parameters are not written here: they come
from the routes' schemas (``schemas.accepts``), merged in by ``document.build``."""
from __future__ import annotations

from agents import conversation
from agents.channels import CHANNELS
from centrala.channels import registry

ERROR = {"$ref": "#/components/responses/Error"}
ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}


def _resp(description: str, schema: dict | None = None) -> dict:
    r = {"description": description}
    if schema:
        r["content"] = {"application/json": {"schema": schema}}
    return r


RANGE = {"name": "Range", "in": "header", "required": False, "schema": {"type": "string"},
         "description": "a byte range (`bytes=0-1023`): the answer is 206 with that part"}


def ranged(description: str, media_type: str) -> dict:
    """The answers of a download that honours Range and conditional requests."""
    body = {media_type: {"schema": {"type": "string", "format": "binary"}}}
    return {"200": {"description": description, "content": body},
            "206": {"description": description + ": the requested range", "content": body},
            "304": {"description": "Not modified (If-None-Match / If-Modified-Since)"},
            "416": {"description": "The range lies outside the file"}}


# Feature modules add their part of the document here at import time:
# a function returning {"paths": {...}, "schemas": {...}} (see `extend`).
PARTS: list = []


def extend(part):
    """Register a function that returns a feature's {"paths": …, "schemas": …}; usable as a decorator."""
    PARTS.append(part)
    return part


def spec(base_url: str) -> dict:
    doc = _core(base_url)
    for part in PARTS:
        piece = part()
        for path, item in piece.get("paths", {}).items():   # a feature may add a method to a core path
            doc["paths"].setdefault(path, {}).update(item)
        doc["components"]["schemas"].update(piece.get("schemas", {}))
    return doc


def _core(base_url: str) -> dict:
    user_ref = {"$ref": "#/components/schemas/User"}
    errors = {"400": ERROR, "401": ERROR}
    admin_errors = {**errors, "403": ERROR}
    call_errors = {**errors, "403": ERROR, "404": ERROR, "409": ERROR}
    return {
        "openapi": "3.0.3",
        "info": {"title": "Centrala API", "version": "1.0.0",
                 "description": "REST API of the Centrala contact center. Authenticate with "
                                "`Authorization: Bearer <token>`; create a token with "
                                "`centrala token create --email E`."},
        "servers": [{"url": base_url + "/api/v1"}],
        "security": [{"bearer": []}],
        "paths": {
            "/openapi.json": {"get": {
                "summary": "This document (no token needed)", "operationId": "getOpenApi", "security": [],
                "responses": {"200": {"description": "OpenAPI 3.1", "content": {"application/json": {
                    "schema": {"type": "object"}}}}}}},
            "/users/me": {"get": {"summary": "The token's user", "operationId": "getMe",
                                  "responses": {"200": _resp("The user", user_ref), **errors}}},
            "/users/me/status": {"put": {
                "summary": "Change my status (Online / Break / Offline)", "operationId": "setMyStatus",
                "responses": {"200": _resp("The user with the new status", user_ref), **errors}}},
            "/users": {
                "get": {"summary": "List users (administrators)", "operationId": "listUsers",
                        "responses": {"200": _resp("Users", {"type": "object", "properties": {
                            "items": {"type": "array", "items": user_ref}}}), **admin_errors}},
                "post": {"summary": "Add a user and email an invitation (administrators)",
                         "operationId": "addUser",
                         "responses": {"201": _resp("Created", user_ref), "409": ERROR, "422": ERROR,
                                       **admin_errors}}},
            "/users/{id}": {
                "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}],
                "get": {"summary": "One user (administrators)", "operationId": "getUser",
                        "responses": {"200": _resp("The user", user_ref), "404": ERROR, **admin_errors}},
                "patch": {"summary": "Change a user; `active: false` deactivates (administrators)",
                          "operationId": "updateUser",
                          "responses": {"200": _resp("The user", user_ref), "404": ERROR, "409": ERROR,
                                        "422": ERROR, **admin_errors}}},
            "/calls": {"post": {
                "summary": "Click-to-call: my softphone rings first, then the customer", "operationId": "placeCall",
                "responses": {"202": _resp("The call is being placed", {"$ref": "#/components/schemas/Communication"}),
                              "422": ERROR, **errors}}},
            "/communications": {"get": {
                "summary": "History, newest first", "operationId": "listCommunications",
                "responses": {"200": _resp("A page of communications", {"type": "object", "properties": {
                    "items": {"type": "array", "items": {"$ref": "#/components/schemas/Communication"}},
                    "page": {"type": "integer"}, "per_page": {"type": "integer"}, "total": {"type": "integer"}}}),
                    **errors}}},
            "/communications/{id}/hangup": {"post": {
                "summary": "End a call in progress", "operationId": "hangupCall",
                "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}],
                "responses": {"202": _resp("The PBX was asked to end the call"), "403": ERROR, "404": ERROR,
                              "409": ERROR, **errors}}},
            "/communications/{id}/transfer": {"post": {
                "summary": "Transfer an answered inbound call to an agent or a number: blind, or attended "
                           "(consultation first, then complete or cancel)",
                "operationId": "transferCall",
                "parameters": [ID],
                "responses": {"202": _resp("The PBX was asked to transfer the call"), **call_errors,
                              "422": ERROR}}},
            "/communications/{id}": {"patch": {
                "summary": "Edit a communication's note", "operationId": "updateCommunication",
                "parameters": [ID],
                "responses": {"200": _resp("The communication", {"$ref": "#/components/schemas/Communication"}),
                              "403": ERROR, "404": ERROR, "422": ERROR, **errors}}},
            "/communications/{id}/transfer/complete": {"post": {
                "summary": "Complete an attended transfer: the caller and the target talk, the agent leaves",
                "operationId": "completeTransfer", "parameters": [ID],
                "responses": {"202": _resp("Asked of the PBX"), **call_errors}}},
            "/communications/{id}/transfer/cancel": {"post": {
                "summary": "Cancel an attended transfer: the agent returns to the caller",
                "operationId": "cancelTransfer", "parameters": [ID],
                "responses": {"202": _resp("Asked of the PBX"), **call_errors}}},
            "/communications/{id}/hold": {"post": {
                "summary": "Put an answered call on hold (the caller hears hold music)",
                "operationId": "holdCall", "parameters": [ID],
                "responses": {"202": _resp("Asked of the PBX"), **call_errors}}},
            "/communications/{id}/unhold": {"post": {
                "summary": "Take a call off hold", "operationId": "unholdCall", "parameters": [ID],
                "responses": {"202": _resp("Asked of the PBX"), **call_errors}}},
            "/communications/{id}/recording": {"get": {
                "summary": "The recording or voicemail as WAV (supports HTTP range requests)",
                "operationId": "getRecording",
                "parameters": [ID, RANGE],
                "responses": {**ranged("WAV audio", "audio/wav"), "404": ERROR, **errors}}},
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "responses": {"Error": _resp("Error", {"$ref": "#/components/schemas/Error"})},
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {
                    "type": "object", "required": ["code", "message"],
                    "properties": {"code": {"type": "integer"}, "message": {"type": "string"}}}}},
                "Status": {"type": "string", "enum": ["online", "break", "offline"]},
                "Communication": {"type": "object", "properties": {
                    "id": {"type": "integer"}, "channel": {"type": "string", "enum": list(conversation.CHANNELS)},
                    "type": {"type": "string", "enum": list(conversation.TYPES)},
                    "direction": {"type": "string", "enum": ["inbound", "outbound"]},
                    "outcome": {"type": "string", "enum": list(conversation.OUTCOMES)}, "number": {"type": "string"},
                    "our_number": {"type": "string", "nullable": True}, "trunk": {"type": "string", "nullable": True},
                    "agent": {"type": "object", "nullable": True, "properties": {
                        "id": {"type": "integer"}, "name": {"type": "string", "nullable": True}}},
                    "agents_rung": {"type": "array", "items": {"type": "integer"}},
                    "wait_seconds": {"type": "number", "nullable": True},
                    "talk_seconds": {"type": "number", "nullable": True},
                    "started_at": {"type": "string", "format": "date-time"},
                    "answered_at": {"type": "string", "format": "date-time", "nullable": True},
                    "ended_at": {"type": "string", "format": "date-time", "nullable": True},
                    "recording_url": {"type": "string", "nullable": True},
                    "note": {"type": "string"}}},
                "Channel": {"type": "string", "enum": list(CHANNELS)},
                "User": {"type": "object", "properties": {
                    "id": {"type": "integer"}, "email": {"type": "string", "format": "email"},
                    "name": {"type": "string"}, "role": {"type": "string", "enum": ["admin", "agent"]},
                    "position": {"type": "string"},
                    "channels": {"type": "array", "items": {"$ref": "#/components/schemas/Channel"}},
                    "status": {"$ref": "#/components/schemas/Status"}, "active": {"type": "boolean"},
                    "language": {"type": "string", "nullable": True, "enum": ["pl", "en", None]},
                    "ringtone": {"type": "string", "enum": ["long", "short"]},
                    "status_changed_at": {"type": "string", "format": "date-time", "nullable": True},
                    "created_at": {"type": "string", "format": "date-time", "nullable": True}}},
            },
        },
    }
