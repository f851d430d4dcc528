"""What the Files pages and API share: limits, refusals in words, serving bytes safely."""
from __future__ import annotations

from flask import request, send_file
from flask_babel import get_locale, gettext as _
from sqlalchemy import select

from centrala import files as store
from centrala.models import User
from centrala.upload_names import shown_name

from ..extensions import settings

# HTTP status for each refusal (centrala.files.FileError.code)
STATUS = {"bad_name": 400, "duplicate": 409, "duplicate_file": 409, "too_large": 413, "quota": 507, "not_found": 404,
          "not_empty": 409, "empty": 400, "forbidden": 403, "into_itself": 422, "clash": 409}


def limits() -> store.Limits:
    return store.Limits.from_settings(settings())


def size(n) -> str:
    return store.human_size(n, str(get_locale() or "en"))


def message(e: store.FileError) -> str:
    """The refusal in the user's language, saying what to do."""
    info = e.info
    if e.code == "bad_name":
        return _("“%(name)s” is not a valid name: it may not contain / or \\, be . or .., have control characters "
                 "or be longer than 255 characters.", name=shown_name(info.get("name", "")))
    if e.code == "duplicate":
        return _("A folder named “%(name)s” is already here.", name=info.get("name", ""))
    if e.code == "duplicate_file":
        return _("A file named “%(name)s” is already here.", name=info.get("name", ""))
    if e.code == "too_large":
        return _("The file is too large: at most %(limit)s per file.", limit=size(info["limit"]))
    if e.code == "quota":
        return _("Not enough storage: %(used)s of %(quota)s used, the file needs %(size)s. Delete files you no longer need.",
                 used=size(info["used"]), quota=size(info["quota"]), size=size(info["size"]))
    if e.code == "not_empty":
        return _("The folder “%(name)s” is not empty. Delete what is inside first.", name=info.get("name", ""))
    if e.code == "empty":
        return _("Choose a file to upload.")
    if e.code == "forbidden":
        return _("Only the person who added it or an administrator can delete it.")
    if e.code == "into_itself":
        return _("The folder “%(name)s” cannot be moved into itself or into a folder inside it.",
                 name=info.get("name", ""))
    if e.code == "clash":
        where = info.get("folder") or _("Files")
        if info.get("is_folder"):
            return _("“%(folder)s” already has a folder named “%(name)s”. Nothing was moved: rename one of them first.",
                     folder=where, name=info.get("name", ""))
        return _("“%(folder)s” already has a file named “%(name)s”. Nothing was moved: rename one of them first.",
                 folder=where, name=info.get("name", ""))
    return _("The folder does not exist.")


def allow_large_upload() -> None:
    """Let this request's body be as large as the Files limit allows (several files at once)."""
    limit = limits().max_upload
    request.max_content_length = max(64 * 1024 * 1024, limit * 10 + 1024 * 1024)


def commit_or_unlink(session, *stored) -> None:
    """Commit; if that fails, the bytes just written for ``stored`` files go too."""
    try:
        session.commit()
    except BaseException:
        paths = [store.path_of(settings().files_dir, f) for f in stored]
        session.rollback()
        for p in paths:
            p.unlink(missing_ok=True)
        raise


def user_names(session, ids) -> dict[int, str]:
    ids = {i for i in ids if i}
    if not ids:
        return {}
    return dict(session.execute(select(User.id, User.name).where(User.id.in_(ids))).all())


def send(f, as_attachment: bool):
    """The bytes with the stored type; inline only for types a browser shows without running
    them (no HTML, SVG, XML), always with nosniff."""
    path = store.path_of(settings().files_dir, f)
    inline = not as_attachment and f.content_type in store.INLINE_TYPES
    resp = send_file(path, mimetype=f.content_type, as_attachment=not inline, download_name=f.name,
                     conditional=True, max_age=0)
    resp.headers["X-Content-Type-Options"] = "nosniff"
    if f.content_type != "application/pdf":
        resp.headers["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; media-src 'self'; sandbox"
    resp.headers["Cache-Control"] = "private, no-store"
    return resp
