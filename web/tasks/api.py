"""REST API for tasks (TSK-1…4): list (mine / all / overdue), create, read, change, delete."""
from __future__ import annotations

from flask import Blueprint, g, jsonify, request
from flask_babel import force_locale

from agents import reminders
from centrala import audit
from centrala import tasks as related
from centrala.models_tasks import PRIORITIES, STATUSES, Task

from ..api.http import _json_body, api_error, token_required
from ..api.openapi import ERROR, extend
from ..extensions import client_ip, dbs
from . import services

bp = Blueprint("tasks_api", __name__, url_prefix="/api/v1")
FIELDS = ("title", "due", "assignee_id", "priority", "status", "communication_id", "contact",
          "description", "custom", "remind", "time_zone")


def _body() -> dict:
    data = _json_body()
    out = {k: data[k] for k in FIELDS if k in data}
    if "due_at" in data:
        out["due"] = data["due_at"] or ""
    if "contact_id" in data:
        out["contact"] = data["contact_id"] if data["contact_id"] is not None else ""
    if "file_ids" in data:
        out["file_ids"] = data["file_ids"]
    return out


def _validate(s, data: dict, current: Task | None):
    with force_locale("en"):  # stable English for API clients
        values, errors = services.validate(s, data, services.custom_fields(s), current)
        files = None
        if "file_ids" in data:
            raw = data["file_ids"]
            found, ok = services.file_ids(s, raw if isinstance(raw, list) else [None])
            if not ok:
                errors["file_ids"] = "Unknown file id."
            files = found
    return values, errors, files


def _invalid(errors: dict):
    resp, code = api_error(422, "Invalid task: " + "; ".join(f"{k}: {v}" for k, v in errors.items()))
    payload = resp.get_json()
    payload["error"]["fields"] = {k: str(v) for k, v in errors.items()}
    return jsonify(payload), code


@bp.get("/tasks")
@token_required
def list_tasks():
    s = dbs()
    kind = request.args.get("list", "all")
    if kind not in services.LISTS:
        return api_error(400, "list must be one of: mine, all, overdue.")
    pg = max(1, request.args.get("page", 1, type=int))
    per = min(100, max(1, request.args.get("per_page", 50, type=int)))
    at = services.now()
    rows, total = services.page(s, services.query(kind, g.api_user.id, at), pg, per)
    return jsonify({"items": [services.task_json(t, at) for t in rows], "total": total, "page": pg,
                    "per_page": per})


@bp.post("/tasks")
@token_required
def create_task():
    s = dbs()
    data = _body()
    data.setdefault("assignee_id", g.api_user.id)
    values, errors, files = _validate(s, {"title": "", **data}, None)
    if errors:
        return _invalid(errors)
    t = Task(created_by=g.api_user.id)
    services.apply(t, values)
    if files:
        t.files = files
    s.add(t)
    s.commit()
    services.after_change(s, t, g.api_user, "created", {"id": t.id})
    return jsonify(services.task_json(t)), 201


@bp.get("/tasks/<int:task_id>")
@token_required
def get_task(task_id: int):
    t = dbs().get(Task, task_id)
    if t is None:
        return api_error(404, "No such task.")
    return jsonify(services.task_json(t))


@bp.patch("/tasks/<int:task_id>")
@token_required
def update_task(task_id: int):
    s = dbs()
    t = s.get(Task, task_id)
    if t is None:
        return api_error(404, "No such task.")
    if not services.may_edit(g.api_user, t):
        return api_error(403, "Only the task's author, its assignee or an administrator can change it.")
    values, errors, files = _validate(s, _body(), t)
    if errors:
        return _invalid(errors)
    before = services.snapshot(t)
    services.apply(t, values)
    if files is not None:
        t.files = files
    s.commit()
    services.after_change(s, t, g.api_user, "updated", before)
    return jsonify(services.task_json(t))


@bp.delete("/tasks/<int:task_id>")
@token_required
def delete_task(task_id: int):
    s = dbs()
    t = s.get(Task, task_id)
    if t is None:
        return api_error(404, "No such task.")
    if not services.may_delete(g.api_user, t):
        return api_error(403, "Only the task's author or an administrator can delete it.")
    before = services.snapshot(t)
    s.delete(t)
    audit.record(s, related.AUDIT_TASK_DELETED, actor=g.api_user, target=t.title, ip=client_ip(), task_id=task_id)
    s.commit()
    services.after_change(s, None, g.api_user, "deleted", before)
    return "", 204


@extend
def openapi_part() -> dict:
    task_ref = {"$ref": "#/components/schemas/Task"}
    errors = {"400": ERROR, "401": ERROR}
    id_param = [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}]
    writable = {
        "title": {"type": "string", "maxLength": 200},
        "due_at": {"type": "string", "format": "date-time", "nullable": True,
                   "description": "ISO 8601; without an offset it is read in time_zone (this request's, "
                                  "else the task's), else as UTC"},
        "remind": {"type": "string", "enum": list(reminders.CHOICES), "default": reminders.DEFAULT,
                   "description": "remind the assignee (drawer item and desktop notification): none, at the "
                                  "due time, 15 minutes, 1 hour or 1 day before; changing it or due_at arms "
                                  "the reminder again"},
        "time_zone": {"type": "string", "nullable": True, "example": "Europe/Warsaw",
                      "description": "IANA zone the due date is meant in: \"1 day before\" is the same clock "
                                     "time the day before there (24 hours without a zone)"},
        "assignee_id": {"type": "integer", "nullable": True},
        "priority": {"type": "string", "enum": list(PRIORITIES)},
        "status": {"type": "string", "enum": list(STATUSES)},
        "communication_id": {"type": "integer", "nullable": True},
        "contact_id": {"type": "integer", "nullable": True},
        "description": {"type": "string"},
        "custom": {"type": "object", "additionalProperties": {"type": "string"},
                   "description": "task custom fields by key (Settings / Custom fields)"},
        "file_ids": {"type": "array", "items": {"type": "integer"}, "description": "attachments from Files"},
    }

    def ok(description, schema):
        return {"description": description, "content": {"application/json": {"schema": schema}}}

    return {
        "paths": {
            "/tasks": {
                "get": {"summary": "List tasks: mine, all or overdue (due date passed and not done)",
                        "operationId": "listTasks",
                        "parameters": [
                            {"name": "list", "in": "query", "schema": {"type": "string", "enum": list(services.LISTS)}},
                            {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1}},
                            {"name": "per_page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100}}],
                        "responses": {"200": ok("A page of tasks", {"type": "object", "properties": {
                            "items": {"type": "array", "items": task_ref}, "total": {"type": "integer"},
                            "page": {"type": "integer"}, "per_page": {"type": "integer"}}}), **errors}},
                "post": {"summary": "Create a task (assigned to the token's user unless assignee_id is given)",
                         "operationId": "createTask",
                         "requestBody": {"required": True, "content": {"application/json": {"schema": {
                             "type": "object", "required": ["title"], "properties": writable}}}},
                         "responses": {"201": ok("The task", task_ref), "422": ERROR, **errors}}},
            "/tasks/{id}": {
                "parameters": id_param,
                "get": {"summary": "One task", "operationId": "getTask",
                        "responses": {"200": ok("The task", task_ref), "404": ERROR, **errors}},
                "patch": {"summary": "Change a task (its author, assignee or an administrator)",
                          "operationId": "updateTask",
                          "requestBody": {"required": True, "content": {"application/json": {"schema": {
                              "type": "object", "properties": writable}}}},
                          "responses": {"200": ok("The task", task_ref), "403": ERROR, "404": ERROR,
                                        "422": ERROR, **errors}},
                "delete": {"summary": "Delete a task (its author or an administrator)", "operationId": "deleteTask",
                           "responses": {"204": {"description": "Deleted"}, "403": ERROR, "404": ERROR, **errors}}},
        },
        "schemas": {
            "Task": {"type": "object", "properties": {
                "id": {"type": "integer"}, **{k: v for k, v in writable.items() if k != "file_ids"},
                "files": {"type": "array", "items": {"type": "object", "properties": {
                    "id": {"type": "integer"}, "name": {"type": "string"}, "size": {"type": "integer"},
                    "content_type": {"type": "string"}}}},
                "created_by": {"type": "integer", "nullable": True},
                "created_at": {"type": "string", "format": "date-time"},
                "updated_at": {"type": "string", "format": "date-time"},
                "done_at": {"type": "string", "format": "date-time", "nullable": True},
                "overdue": {"type": "boolean"},
                "remind_at": {"type": "string", "format": "date-time", "nullable": True, "readOnly": True,
                              "description": "when the reminder goes; null: no due date, no reminder, or the "
                                             "due time had already passed when it was set"},
                "reminded_at": {"type": "string", "format": "date-time", "nullable": True, "readOnly": True,
                                "description": "when the reminder was sent (once)"}}},
        },
    }
