"""REST API for Files (FIL-1, FIL-2): list, search, upload, download, folders, delete, usage."""
from __future__ import annotations

from flask import Blueprint, g, jsonify, request
from pydantic import Field

from agents import ownership
from agents import events
from centrala import audit
from centrala import files as store
from centrala.models import iso
from centrala.models_files import Folder, StoredFile

from ..api.http import api_error, token_required
from ..api.openapi import ERROR, RANGE, extend, ranged
from ..api.schemas import Body, DbId, Query, accepts, body, query
from ..extensions import bus, client_ip, dbs, settings
from . import services

bp = Blueprint("files_api", __name__, url_prefix="/api/v1")
# stable English for API clients
MESSAGES = {
    "bad_name": "Invalid name: no '/' or '\\', not '.' or '..', no control characters, at most 255 characters.",
    "duplicate": "A folder with this name already exists here.",
    "duplicate_file": "A file with this name already exists in this folder.",
    "not_found": "No such folder.",
    "not_empty": "The folder is not empty.",
    "empty": "Send the file as multipart/form-data in the field 'file'.",
    "forbidden": "Only the uploader (or creator) or an administrator may delete it.",
    "into_itself": "A folder cannot be moved into itself or into a folder inside it.",
}


class FileListing(Query):
    folder_id: DbId = Field(None, description="omit for the top level")
    q: str = Field(None, max_length=100, description="part of a file or folder name, case-insensitive "
                                                      "(first 200 hits)")
    offset: int = Field(0, ge=0, le=10_000_000)
    limit: int = Field(500, ge=1, le=1000, description="files per page (a folder's subfolders always come whole)")


class FileChange(Body):
    """`name` renames, `folder_id` moves (null: the top level); sent together they are one change."""
    model_config = {"json_schema_extra": {"minProperties": 1}}
    name: str = None
    folder_id: DbId | None = Field(None, description="the folder to move it to; null: the top level")


class FolderChange(Body):
    """`name` renames, `parent_id` moves (null: the top level) with everything inside."""
    model_config = {"json_schema_extra": {"minProperties": 1}}
    name: str = None
    parent_id: DbId | None = Field(None, description="the folder to move it into; null: the top level")


class NewFolder(Body):
    name: str
    parent_id: DbId | None = Field(None, description="the folder to create it in; null or omitted: the top level")


def _error(e: store.FileError):
    if e.code == "too_large":
        msg = f"The file is too large: at most {e.info['limit']} bytes per file."
    elif e.code == "clash":
        where = f"the folder '{e.info['folder']}'" if e.info.get("folder") else "the top level"
        what = "folder" if e.info.get("is_folder") else "file"
        msg = f"{where[0].upper()}{where[1:]} already has a {what} named '{e.info['name']}'; nothing was changed."
    elif e.code == "quota":
        msg = (f"Storage quota exceeded: {e.info['used']} of {e.info['quota']} bytes used; "
               f"the file needs {e.info['size']} bytes.")
    else:
        msg = MESSAGES.get(e.code, e.code)
    return api_error(services.STATUS.get(e.code, 400), msg)


def file_json(f: StoredFile) -> dict:
    return {"id": f.id, "name": f.name, "folder_id": f.folder_id, "content_type": f.content_type,
            "size": f.size_bytes, "sha256": f.sha256, "uploaded_by": f.uploaded_by,
            "uploaded_at": iso(f.uploaded_at), "download_url": f"/api/v1/files/{f.id}/content"}


def folder_json(f: Folder) -> dict:
    return {"id": f.id, "name": f.name, "parent_id": f.parent_id, "created_by": f.created_by,
            "created_at": iso(f.created_at)}


def _usage(s) -> dict:
    lim = services.limits()
    return {"used": store.used_bytes(s), "quota": lim.quota, "max_upload": lim.max_upload}


def _folder_param(value):
    if value in (None, "", "0", "root"):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise store.FileError("not_found") from None


def _may_delete(owner_id) -> bool:
    return ownership.owner_or_admin(g.api_user, owner_id)


@bp.get("/files")
@token_required
@accepts(query=FileListing, status=400)
def list_files():
    s = dbs()
    args = FileListing(**query())   # with the defaults
    q = (args.q or "").strip()
    try:
        folder_id = args.folder_id or None
        if q:
            folders, files = store.search(s, q)
        else:
            if folder_id is not None and s.get(Folder, folder_id) is None:
                raise store.FileError("not_found")
            folders, files = store.listing(s, folder_id, args.offset, args.limit)
            total = store.file_count(s, folder_id)
    except store.FileError as e:
        return _error(e)
    return jsonify({"folder_id": None if q else folder_id, "total_files": len(files) if q else total,
                    "path": [folder_json(f) for f in store.folder_chain(s, None if q else folder_id)],
                    "folders": [folder_json(f) for f in folders], "files": [file_json(f) for f in files],
                    "usage": _usage(s)})


@bp.get("/files/usage")
@token_required
def usage():
    return jsonify(_usage(dbs()))


@bp.post("/files")
@token_required
def upload():
    services.allow_large_upload()
    s = dbs()
    u = request.files.get("file")
    try:
        if u is None or not u.filename:
            raise store.FileError("empty")
        folder_id = _folder_param(request.form.get("folder_id"))
        name = request.form.get("name") or u.filename
        f = store.store(s, settings().files_dir, u.stream, name, folder_id, g.api_user.id, services.limits())
        services.commit_or_unlink(s, f)
    except store.FileError as e:
        s.rollback()
        return _error(e)
    bus().publish(events.FILE_CHANGED, file_id=f.id, action="uploaded", user_id=g.api_user.id)
    return jsonify(file_json(f)), 201


@bp.get("/files/<int:file_id>")
@token_required
def get_file(file_id: int):
    f = dbs().get(StoredFile, file_id)
    if f is None:
        return api_error(404, "No such file.")
    return jsonify(file_json(f))


def _change(s, item, parent_key: str, owner_id, forbidden: str):
    """PATCH of a file or folder: ``name`` renames, ``folder_id`` / ``parent_id`` moves (null:
    the top level); both at once are one change — either all of it happens or nothing."""
    if not _may_delete(owner_id):
        return api_error(403, forbidden)
    data = body()
    if "name" not in data and parent_key not in data:
        return api_error(400, f"Send 'name' to rename and/or '{parent_key}' (a folder id, or null for the "
                              "top level) to move.")
    name = data.get("name")
    target = data.get(parent_key)
    was_in = item.parent_id if isinstance(item, Folder) else item.folder_id
    try:
        if parent_key in data:
            store.move(s, item, target, name)
        else:
            store.rename(s, item, name)
        s.commit()
    except store.FileError as e:
        s.rollback()
        return _error(e)
    if (item.parent_id if isinstance(item, Folder) else item.folder_id) != was_in:
        kind = "folder_id" if isinstance(item, Folder) else "file_id"
        bus().publish(events.FILE_CHANGED, **{kind: item.id}, action="moved", user_id=g.api_user.id)
    return None


@bp.patch("/files/<int:file_id>")
@token_required
@accepts(body=FileChange, status=400)
def change_file(file_id: int):
    s = dbs()
    f = s.get(StoredFile, file_id)
    if f is None:
        return api_error(404, "No such file.")
    refused = _change(s, f, "folder_id", f.uploaded_by, "Only the uploader or an administrator may rename or move it.")
    return refused or jsonify(file_json(f))


@bp.patch("/folders/<int:folder_id>")
@token_required
@accepts(body=FolderChange, status=400)
def change_folder(folder_id: int):
    s = dbs()
    folder = s.get(Folder, folder_id)
    if folder is None:
        return api_error(404, "No such folder.")
    refused = _change(s, folder, "parent_id", folder.created_by,
                      "Only the creator or an administrator may rename or move it.")
    return refused or jsonify(folder_json(folder))


@bp.get("/files/<int:file_id>/content")
@token_required
def content(file_id: int):
    f = dbs().get(StoredFile, file_id)
    if f is None:
        return api_error(404, "No such file.")
    return services.send(f, as_attachment=True)


@bp.delete("/files/<int:file_id>")
@token_required
def delete_file(file_id: int):
    s = dbs()
    f = s.get(StoredFile, file_id)
    if f is None:
        return api_error(404, "No such file.")
    if not _may_delete(f.uploaded_by):
        return _error(store.FileError("forbidden"))
    path = store.delete_file(s, settings().files_dir, f)
    audit.record(s, store.AUDIT_FILE_DELETED, actor=g.api_user, target=f.name, ip=client_ip(), file_id=file_id,
                 size=f.size_bytes)
    s.commit()
    path.unlink(missing_ok=True)
    bus().publish(events.FILE_CHANGED, file_id=file_id, action="deleted", user_id=g.api_user.id)
    return "", 204


@bp.post("/folders")
@token_required
@accepts(body=NewFolder, status=400)
def create_folder():
    data = body()
    s = dbs()
    try:
        folder = store.create_folder(s, data["name"], _folder_param(data.get("parent_id")), g.api_user.id)
        s.commit()
    except store.FileError as e:
        s.rollback()
        return _error(e)
    return jsonify(folder_json(folder)), 201


@bp.delete("/folders/<int:folder_id>")
@token_required
def delete_folder(folder_id: int):
    s = dbs()
    folder = s.get(Folder, folder_id)
    if folder is None:
        return api_error(404, "No such folder.")
    if not _may_delete(folder.created_by):
        return _error(store.FileError("forbidden"))
    try:
        store.delete_folder(s, folder)
        audit.record(s, store.AUDIT_FOLDER_DELETED, actor=g.api_user, target=folder.name, ip=client_ip(),
                     folder_id=folder_id)
        s.commit()
    except store.FileError as e:
        s.rollback()
        return _error(e)
    return "", 204


@extend
def openapi_part() -> dict:
    file_ref = {"$ref": "#/components/schemas/File"}
    folder_ref = {"$ref": "#/components/schemas/Folder"}
    usage_ref = {"$ref": "#/components/schemas/FilesUsage"}
    errors = {"400": ERROR, "401": ERROR}
    id_param = [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}]

    def ok(description, schema):
        return {"description": description, "content": {"application/json": {"schema": schema}}}

    return {
        "paths": {
            "/files": {
                "get": {"summary": "List a folder (or search every folder by name with q)", "operationId": "listFiles",
                        "responses": {"200": ok("Folders, files, the path and the storage usage", {
                            "type": "object", "properties": {
                                "folder_id": {"type": "integer", "nullable": True},
                                "total_files": {"type": "integer"},
                                "path": {"type": "array", "items": folder_ref},
                                "folders": {"type": "array", "items": folder_ref},
                                "files": {"type": "array", "items": file_ref},
                                "usage": usage_ref}}), "404": ERROR, **errors}},
                "post": {"summary": "Upload a file (size limit and storage quota enforced)", "operationId": "uploadFile",
                         "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                             "type": "object", "required": ["file"], "properties": {
                                 "file": {"type": "string", "format": "binary"},
                                 "folder_id": {"type": "integer"},
                                 "name": {"type": "string", "description": "default: the uploaded file's name"}}}}}},
                         "responses": {"201": ok("The stored file", file_ref), "404": ERROR,
                                       "413": ERROR, "507": ERROR, **errors}}},
            "/files/usage": {"get": {"summary": "Storage used, quota and per-file limit (bytes)",
                                     "operationId": "filesUsage",
                                     "responses": {"200": ok("Usage", usage_ref), **errors}}},
            "/files/{id}": {
                "parameters": id_param,
                "get": {"summary": "One file's details", "operationId": "getFile",
                        "responses": {"200": ok("The file", file_ref), "404": ERROR, **errors}},
                "patch": {"summary": "Rename and/or move a file (its uploader or an administrator)",
                          "description": "`name` renames, `folder_id` moves (null: the top level); sent together "
                                         "they are one change. A file of that name in the target folder: 409, "
                                         "nothing changes.",
                          "operationId": "renameFile",
                          "responses": {"200": ok("The file", file_ref), "403": ERROR, "404": ERROR, "409": ERROR,
                                        **errors}},
                "delete": {"summary": "Delete a file (its uploader or an administrator)", "operationId": "deleteFile",
                           "responses": {"204": {"description": "Deleted"}, "403": ERROR, "404": ERROR, **errors}}},
            "/files/{id}/content": {
                "parameters": id_param,
                "get": {"summary": "Download the file's bytes (with its stored content type; range requests "
                                   "supported)", "operationId": "downloadFile", "parameters": [RANGE],
                        "responses": {**ranged("The bytes, as an attachment", "*/*"), "404": ERROR, **errors}}},
            "/folders": {"post": {
                "summary": "Create a folder", "operationId": "createFolder",
                "responses": {"201": ok("The folder", folder_ref), "404": ERROR, "409": ERROR, **errors}}},
            "/folders/{id}": {
                "parameters": id_param,
                "patch": {"summary": "Rename and/or move a folder with everything in it (its creator or an "
                                     "administrator)",
                          "description": "`name` renames, `parent_id` moves (null: the top level); sent together "
                                         "they are one change. Into itself or a folder inside it: 422; a folder "
                                         "of that name in the target: 409; either way nothing changes.",
                          "operationId": "renameFolder",
                          "responses": {"200": ok("The folder", folder_ref), "403": ERROR, "404": ERROR,
                                        "409": ERROR, "422": ERROR, **errors}},
                "delete": {"summary": "Delete an empty folder (its creator or an administrator)",
                           "operationId": "deleteFolder",
                           "responses": {"204": {"description": "Deleted"}, "403": ERROR, "404": ERROR,
                                         "409": ERROR, **errors}}},
        },
        "schemas": {
            "File": {"type": "object", "properties": {
                "id": {"type": "integer"}, "name": {"type": "string"},
                "folder_id": {"type": "integer", "nullable": True}, "content_type": {"type": "string"},
                "size": {"type": "integer"}, "sha256": {"type": "string"},
                "uploaded_by": {"type": "integer", "nullable": True},
                "uploaded_at": {"type": "string", "format": "date-time"}, "download_url": {"type": "string"}}},
            "Folder": {"type": "object", "properties": {
                "id": {"type": "integer"}, "name": {"type": "string"},
                "parent_id": {"type": "integer", "nullable": True},
                "created_by": {"type": "integer", "nullable": True},
                "created_at": {"type": "string", "format": "date-time"}}},
            "FilesUsage": {"type": "object", "properties": {
                "used": {"type": "integer"}, "quota": {"type": "integer"}, "max_upload": {"type": "integer"}}},
        },
    }
