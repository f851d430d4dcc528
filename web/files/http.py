"""Files tab (FIL-1, FIL-2): folders, upload, open, search, details, download, delete, quota."""
from __future__ import annotations

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from agents import events
from centrala import audit
from centrala import files as store
from centrala.models_files import Folder, StoredFile

from ..extensions import bus, client_ip, dbs, settings
from . import services

bp = Blueprint("files", __name__)
MAX_FILES_PER_UPLOAD = 10
PER_PAGE = 100   # files per page of a folder (its subfolders are all on every page)


def _folder_arg(value) -> int | None:
    try:
        folder_id = int(value) if value not in (None, "", "0") else None
    except (TypeError, ValueError):
        abort(400)
    if folder_id is not None and dbs().get(Folder, folder_id) is None:
        abort(404)
    return folder_id


def _back(folder_id: int | None):
    return redirect(url_for("files.index", folder=folder_id) if folder_id else url_for("files.index"), 303)


def _may_delete(owner_id: int | None) -> bool:
    return current_user.is_admin or owner_id == current_user.id


@bp.get("/files")
@login_required
def index():
    s = dbs()
    q = (request.args.get("q") or "").strip()[:100]
    folder_id = None if q else _folder_arg(request.args.get("folder"))
    pg = max(1, request.args.get("page", 1, type=int))
    pages = 1
    if q:
        folders, files = store.search(s, q)
    else:
        folders, files = store.listing(s, folder_id, (pg - 1) * PER_PAGE, PER_PAGE)
        pages = max(1, -(-store.file_count(s, folder_id) // PER_PAGE))
    chain = store.folder_chain(s, folder_id)
    paths = {}
    if q:  # where each hit lives
        for item in [*folders, *files]:
            parent = item.parent_id if isinstance(item, Folder) else item.folder_id
            if parent not in paths:
                paths[parent] = " / ".join(f.name for f in store.folder_chain(s, parent))
    names = services.user_names(s, [f.created_by for f in folders] + [f.uploaded_by for f in files])
    lim = services.limits()
    used = store.used_bytes(s)
    return render_template(
        "files/index.html", active_tab="files", folders=folders, files=files, chain=chain, folder_id=folder_id,
        q=q, paths=paths, names=names, page=pg, pages=pages, used=used, quota=lim.quota, max_upload=lim.max_upload,
        size=services.size, may_delete=_may_delete)


@bp.post("/files/upload")
@login_required
def upload():
    services.allow_large_upload()
    s = dbs()
    folder_id = _folder_arg(request.form.get("folder_id"))
    uploads = [u for u in request.files.getlist("file") if u and u.filename][:MAX_FILES_PER_UPLOAD]
    if not uploads:
        flash(services.message(store.FileError("empty")), "error")
        return _back(folder_id)
    saved = []
    for u in uploads:
        try:
            f = store.store(s, settings().files_dir, u.stream, u.filename, folder_id, current_user.id,
                            services.limits())
            services.commit_or_unlink(s, f)
            saved.append(f)
            bus().publish(events.FILE_CHANGED, file_id=f.id, action="uploaded", user_id=current_user.id)
        except store.FileError as e:
            s.rollback()
            flash(services.message(e), "error")
    if saved:
        flash(_("Uploaded: %(names)s", names=", ".join(f.name for f in saved)), "success")
    return _back(folder_id)


@bp.post("/files/folders")
@login_required
def new_folder():
    s = dbs()
    parent_id = _folder_arg(request.form.get("parent_id"))
    try:
        folder = store.create_folder(s, request.form.get("name", ""), parent_id, current_user.id)
        s.commit()
    except store.FileError as e:
        s.rollback()
        flash(services.message(e), "error")
        return _back(parent_id)
    bus().publish(events.FILE_CHANGED, folder_id=folder.id, action="folder_created", user_id=current_user.id)
    flash(_("Folder “%(name)s” created.", name=folder.name), "success")
    return _back(parent_id)


@bp.get("/files/<int:file_id>/download")
@login_required
def download(file_id: int):
    f = dbs().get(StoredFile, file_id) or abort(404)
    return services.send(f, as_attachment=True)


@bp.get("/files/<int:file_id>/open")
@login_required
def open_file(file_id: int):
    f = dbs().get(StoredFile, file_id) or abort(404)
    return services.send(f, as_attachment=False)


@bp.post("/files/<int:file_id>/rename")
@login_required
def rename_file(file_id: int):
    s = dbs()
    f = s.get(StoredFile, file_id) or abort(404)
    return _rename(s, f, f.uploaded_by, f.folder_id)


@bp.post("/files/folders/<int:folder_id>/rename")
@login_required
def rename_folder(folder_id: int):
    s = dbs()
    folder = s.get(Folder, folder_id) or abort(404)
    return _rename(s, folder, folder.created_by, folder.parent_id)


def _rename(s, item, owner_id, back_to):
    if not _may_delete(owner_id):
        abort(403, _("Only the person who added it or an administrator can rename it."))
    old = item.name
    try:
        store.rename(s, item, request.form.get("name", ""))
        s.commit()
    except store.FileError as e:
        s.rollback()
        flash(services.message(e), "error")
        return _back(back_to)
    flash(_("Renamed “%(old)s” to “%(new)s”.", old=old, new=item.name), "success")
    return _back(back_to)


@bp.get("/files/picker")
@login_required
def picker():
    """The Move to… dialog's view of one folder: its path and its subfolders (JSON)."""
    s = dbs()
    folder_id = _folder_arg(request.args.get("folder"))
    folders = store.subfolders(s, folder_id)
    return jsonify({"id": folder_id, "path": [{"id": f.id, "name": f.name} for f in store.folder_chain(s, folder_id)],
                    "folders": [{"id": f.id, "name": f.name} for f in folders]})


@bp.post("/files/<int:file_id>/move")
@login_required
def move_file(file_id: int):
    s = dbs()
    f = s.get(StoredFile, file_id) or abort(404)
    return _move(s, f, f.uploaded_by, f.folder_id)


@bp.post("/files/folders/<int:folder_id>/move")
@login_required
def move_folder(folder_id: int):
    s = dbs()
    folder = s.get(Folder, folder_id) or abort(404)
    return _move(s, folder, folder.created_by, folder.parent_id)


def _move(s, item, owner_id, back_to):
    """Move to the folder in the form's ``folder_id`` (empty: the top level); back to the folder
    it was in (or to the search it was found by)."""
    if not _may_delete(owner_id):
        abort(403, _("Only the person who added it or an administrator can move it."))
    q = (request.form.get("q") or "").strip()[:100]
    back = redirect(url_for("files.index", q=q), 303) if q else _back(back_to)
    target = request.form.get("folder_id")
    try:
        target_id = int(target) if target not in (None, "", "0") else None
    except ValueError:
        abort(400)
    kind = "folder" if isinstance(item, Folder) else "file"
    try:
        moved = store.move(s, item, target_id)
        s.commit()
    except store.FileError as e:
        s.rollback()
        flash(services.message(e), "error")
        return back
    if moved:
        bus().publish(events.FILE_CHANGED, **{f"{kind}_id": item.id}, action="moved", user_id=current_user.id)
        where = store.folder_chain(s, target_id)
        flash(_("Moved “%(name)s” to “%(folder)s”.", name=item.name,
                folder=where[-1].name if where else _("Files")), "success")
    return back


@bp.post("/files/<int:file_id>/delete")
@login_required
def delete(file_id: int):
    s = dbs()
    f = s.get(StoredFile, file_id) or abort(404)
    if not _may_delete(f.uploaded_by):
        abort(403, services.message(store.FileError("forbidden")))
    folder_id, name = f.folder_id, f.name
    path = store.delete_file(s, settings().files_dir, f)
    audit.record(s, store.AUDIT_FILE_DELETED, actor=current_user, target=name, ip=client_ip(), file_id=file_id,
                 size=f.size_bytes)
    s.commit()
    path.unlink(missing_ok=True)
    bus().publish(events.FILE_CHANGED, file_id=file_id, action="deleted", user_id=current_user.id)
    flash(_("Deleted “%(name)s”.", name=name), "success")
    return _back(folder_id)


@bp.post("/files/folders/<int:folder_id>/delete")
@login_required
def delete_folder(folder_id: int):
    s = dbs()
    folder = s.get(Folder, folder_id) or abort(404)
    if not _may_delete(folder.created_by):
        abort(403, services.message(store.FileError("forbidden")))
    parent_id, name = folder.parent_id, folder.name
    try:
        store.delete_folder(s, folder)
        audit.record(s, store.AUDIT_FOLDER_DELETED, actor=current_user, target=name, ip=client_ip(),
                     folder_id=folder_id)
        s.commit()
    except store.FileError as e:
        s.rollback()
        flash(services.message(e), "error")
        return _back(folder_id)
    bus().publish(events.FILE_CHANGED, folder_id=folder_id, action="folder_deleted", user_id=current_user.id)
    flash(_("Deleted the folder “%(name)s”.", name=name), "success")
    return _back(parent_id)
