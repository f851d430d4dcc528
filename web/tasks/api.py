"""REST API for tasks (TSK-1…4): list (mine / all / overdue), create, read, change, delete."""
from __future__ import annotations

from typing import Literal

from flask import Blueprint, g, jsonify
from flask_babel import force_locale
from pydantic import Field

from agents import reminders
from centrala import audit
from centrala import tasks as related
from centrala.models_tasks import PRIORITIES, STATUSES, Task

from ..api.http import api_error, token_required
from ..api.openapi import ERROR, extend
from ..api.schemas import Body, DbId, Query, accepts, body, choice, query, schema_of
from ..extensions import client_ip, dbs
from . import services

bp = Blueprint("tasks_api", __name__, url_prefix="/api/v1")


class TaskFields(Body):
    """The writable fields of a task; a PATCH sends only those it changes."""
    title: str = Field(None, json_schema_extra={"maxLength": services.MAX_TITLE})   # checked by the use case
    due_at: str | None = Field(None, description="ISO 8601; without an offset it is read in time_zone (this "
                               "request's, else the task's), else as UTC", json_schema_extra={"format": "date-time"})
    remind: choice(reminders.CHOICES, "remind the assignee (drawer item and desktop notification): none, at "
                   "the due time, 15 minutes, 1 hour or 1 day before; changing it or due_at arms the reminder "
                   "again") = None
    time_zone: str | None = Field(None, examples=["Europe/Warsaw"], description="IANA zone the due date is "
                                  "meant in: \"1 day before\" is the same clock time the day before there "
                                  "(24 hours without a zone)")
    assignee_id: DbId | None = None
    priority: choice(PRIORITIES) = None
    status: choice(STATUSES) = None
    communication_id: DbId | None = None
    contact_id: DbId | None = None
    description: str = None
    custom: dict[str, str | None] = Field(None, description="task custom fields by key (Settings / Custom fields)")
    file_ids: list[DbId] = Field(None, description="attachments from Files")


class NewTask(TaskFields):
    title: str = Field(json_schema_extra={"maxLength": services.MAX_TITLE})


class TaskList(Query):
    list: Literal[tuple(services.LISTS)] = "all"  # type: ignore[valid-type]
    page: int = Field(1, ge=1, le=10_000_000)
    per_page: int = Field(50, ge=1, le=100)


def _body() -> dict:
    data = dict(body())
    if "due_at" in data:
        data["due"] = data.pop("due_at") or ""
    if "contact_id" in data:
        data["contact"] = data.pop("contact_id")
        if data["contact"] is None:
            data["contact"] = ""
    return data


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
@accepts(query=TaskList, status=400)
def list_tasks():
    s = dbs()
    args = TaskList(**query())
    at = services.now()
    rows, total = services.page(s, services.query(args.list, g.api_user.id, at), args.page, args.per_page)
    return jsonify({"items": [services.task_json(t, at) for t in rows], "total": total, "page": args.page,
                    "per_page": args.per_page})


@bp.post("/tasks")
@token_required
@accepts(body=NewTask)
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
@accepts(body=TaskFields)
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
    # the response repeats the writable fields: described once, by the request schema
    writable = schema_of(TaskFields)["properties"]

    def ok(description, schema):
        return {"description": description, "content": {"application/json": {"schema": schema}}}

    return {
        "paths": {
            "/tasks": {
                "get": {"summary": "List tasks: mine, all or overdue (due date passed and not done)",
                        "operationId": "listTasks",
                        "responses": {"200": ok("A page of tasks", {"type": "object", "properties": {
                            "items": {"type": "array", "items": task_ref}, "total": {"type": "integer"},
                            "page": {"type": "integer"}, "per_page": {"type": "integer"}}}), **errors}},
                "post": {"summary": "Create a task (assigned to the token's user unless assignee_id is given)",
                         "operationId": "createTask",
                         "responses": {"201": ok("The task", task_ref), "422": ERROR, **errors}}},
            "/tasks/{id}": {
                "parameters": id_param,
                "get": {"summary": "One task", "operationId": "getTask",
                        "responses": {"200": ok("The task", task_ref), "404": ERROR, **errors}},
                "patch": {"summary": "Change a task (its author, assignee or an administrator)",
                          "operationId": "updateTask",
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
