"""Files storage (FIL-1, FIL-2), shared by the panel and the REST API.

Bytes are written under ``Settings.files_dir/<first two hex>/<random key>``: the key comes from
``secrets``, so no name a user sends ever reaches the file system.  Size limit and quota are
checked while the bytes stream in, before anything is committed.
"""
from __future__ import annotations

import hashlib
import mimetypes
import os
import secrets
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select, text

from .models_files import Folder, StoredFile
from .upload_names import MAX_NAME, is_unsafe_char

# audit log actions (BEY-2) of this feature
AUDIT_FILE_DELETED = "file.deleted"
AUDIT_FOLDER_DELETED = "folder.deleted"
MOVE_LOCK = 0x46494C45   # PostgreSQL advisory lock taken by moves ("FILE")
CHUNK = 1024 * 1024
MB = 1024 * 1024
# Opened in the browser tab (double click); everything else is always a download.  No HTML,
# SVG or XML: a file a user uploaded must never run script in the panel's origin.
INLINE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", "text/plain",
                "text/csv", "audio/wav", "audio/x-wav", "audio/mpeg", "audio/ogg", "video/mp4", "video/webm"}


class FileError(ValueError):
    """A refused upload or change; ``code`` says which (for HTTP status and messages)."""

    def __init__(self, code: str, **info):
        super().__init__(code)
        # bad_name | duplicate | duplicate_file | too_large | quota | not_found | not_empty | empty
        # | into_itself | clash (moving: the target folder has that name)
        self.code = code
        self.info = info


@dataclass(frozen=True)
class Limits:
    max_upload: int   # bytes
    quota: int        # bytes

    @classmethod
    def from_settings(cls, settings) -> "Limits":
        return cls(settings.files_max_upload_mb * MB, settings.files_quota_mb * MB)


def clean_name(raw: str | None) -> str:
    """A file or folder name as given, or FileError('bad_name'): no path separators, no
    '.'/'..', no control or format characters (bidi overrides included), at most 255 characters."""
    name = unicodedata.normalize("NFC", (raw or "").strip())
    if (not name or name in {".", ".."} or "/" in name or "\\" in name or len(name) > MAX_NAME
            or any(is_unsafe_char(ch) for ch in name)):
        raise FileError("bad_name", name=raw or "")
    return name


def content_type_for(name: str) -> str:
    guessed, _ = mimetypes.guess_type(name, strict=False)
    return guessed or "application/octet-stream"


def used_bytes(session) -> int:
    return int(session.scalar(select(func.coalesce(func.sum(StoredFile.size_bytes), 0))) or 0)


def path_of(files_dir: Path, f: StoredFile) -> Path:
    return Path(files_dir) / f.storage_key[:2] / f.storage_key


def folder_chain(session, folder_id: int | None) -> list[Folder]:
    """The folders from the top level down to ``folder_id`` (for breadcrumbs)."""
    chain: list[Folder] = []
    seen = set()
    while folder_id is not None and folder_id not in seen:
        seen.add(folder_id)
        folder = session.get(Folder, folder_id)
        if folder is None:
            break
        chain.append(folder)
        folder_id = folder.parent_id
    return list(reversed(chain))


def _same_name(session, folder_id: int | None, name: str, model) -> int:
    parent = model.parent_id if model is Folder else model.folder_id
    where = parent.is_(None) if folder_id is None else parent == folder_id
    return session.scalar(select(func.count()).select_from(model)
                          .where(where, func.lower(model.name) == name.lower()))


def _name_taken(session, folder_id: int | None, name: str, model) -> bool:
    return _same_name(session, folder_id, name, model) > 0


def _check_folder(session, folder_id: int | None) -> None:
    if folder_id is not None and session.get(Folder, folder_id) is None:
        raise FileError("not_found")


def create_folder(session, name: str, parent_id: int | None, user_id: int | None) -> Folder:
    name = clean_name(name)
    _check_folder(session, parent_id)
    if _name_taken(session, parent_id, name, Folder):
        raise FileError("duplicate", name=name)
    folder = Folder(name=name, parent_id=parent_id, created_by=user_id)
    session.add(folder)
    session.flush()
    return folder


def unique_name(session, folder_id: int | None, name: str) -> str:
    """``name``, or ``name (2).ext``, ``name (3).ext`` … when the folder already has it."""
    if not _name_taken(session, folder_id, name, StoredFile):
        return name
    stem, dot, ext = name.rpartition(".") if "." in name.lstrip(".") else (name, "", "")
    for n in range(2, 10000):
        candidate = f"{stem} ({n}){dot}{ext}"
        if not _name_taken(session, folder_id, candidate, StoredFile):
            return candidate
    raise FileError("duplicate", name=name)


def store(session, files_dir: Path, stream, name: str, folder_id: int | None, user_id: int | None,
          limits: Limits, declared_size: int | None = None) -> StoredFile:
    """Copy ``stream`` into storage and add its row (flushed, not committed).  Refuses with
    FileError before writing when the declared size is already too big, and while copying when
    the real bytes pass the size limit or the quota; nothing is left behind on refusal."""
    name = clean_name(name)
    _check_folder(session, folder_id)
    used = used_bytes(session)
    room = max(0, limits.quota - used)
    if declared_size is not None:
        if declared_size > limits.max_upload:
            raise FileError("too_large", size=declared_size, limit=limits.max_upload)
        if declared_size > room:
            raise FileError("quota", size=declared_size, used=used, quota=limits.quota)
    key = secrets.token_hex(16)
    target = Path(files_dir) / key[:2] / key
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(key + ".part")
    digest = hashlib.sha256()
    size = 0
    try:
        with open(tmp, "xb") as out:
            while True:
                chunk = stream.read(CHUNK)
                if not chunk:
                    break
                size += len(chunk)
                if size > limits.max_upload:
                    raise FileError("too_large", size=size, limit=limits.max_upload)
                if size > room:
                    raise FileError("quota", size=size, used=used, quota=limits.quota)
                digest.update(chunk)
                out.write(chunk)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    f = StoredFile(name=unique_name(session, folder_id, name), folder_id=folder_id,
                   content_type=content_type_for(name), size_bytes=size, storage_key=key,
                   sha256=digest.hexdigest(), uploaded_by=user_id)
    session.add(f)
    try:
        session.flush()
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return f


def rename(session, item: Folder | StoredFile, new_name: str) -> None:
    """Rename a file or folder in place (flushed); a name already used next to it is refused.
    A file's type follows its new extension."""
    name = clean_name(new_name)
    if isinstance(item, Folder):
        parent, model, taken_code = item.parent_id, Folder, "duplicate"
    else:
        parent, model, taken_code = item.folder_id, StoredFile, "duplicate_file"
    if name.lower() != item.name.lower() and _name_taken(session, parent, name, model):
        raise FileError(taken_code, name=name)
    item.name = name
    if isinstance(item, StoredFile):
        item.content_type = content_type_for(name)
    session.flush()


def _serialise_moves(session) -> None:
    """PostgreSQL: one move at a time (until commit), so two moves that each look fine on their
    own — A into B while B goes into A — cannot make a cycle.  SQLite has one writer anyway and
    the checks after the flush (see :func:`move`) read under its write lock."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MOVE_LOCK})


def within(session, folder_id: int | None, ancestor_id: int) -> bool:
    """Whether ``folder_id`` is ``ancestor_id`` or lies somewhere inside it.  Read from the
    database, not from objects this session already holds (they may predate another move)."""
    seen = set()
    while folder_id is not None and folder_id not in seen:
        if folder_id == ancestor_id:
            return True
        seen.add(folder_id)
        folder_id = session.scalar(select(Folder.parent_id).where(Folder.id == folder_id))
    return folder_id is not None   # a loop that does not pass through ancestor_id: refuse too


def move(session, item: Folder | StoredFile, target_id: int | None, new_name: str | None = None) -> bool:
    """Put a file or folder into the folder ``target_id`` (None: the top level), optionally
    under a new name (flushed; the caller commits, or rolls back on FileError).  Refused:
    ``not_found`` (no such target), ``into_itself`` (a folder into itself or into a folder
    inside it), ``clash`` (the target already has something of that kind with that name — moves
    never rename on their own), ``bad_name``.  False when it already is there with that name."""
    is_folder = isinstance(item, Folder)
    model = Folder if is_folder else StoredFile
    name = clean_name(new_name) if new_name is not None else item.name
    _serialise_moves(session)
    session.refresh(item)
    current = item.parent_id if is_folder else item.folder_id
    if target_id == current:
        if name == item.name:
            return False
        rename(session, item, name)
        return True
    if target_id is not None and session.scalar(select(func.count()).select_from(Folder)
                                                .where(Folder.id == target_id)) == 0:
        raise FileError("not_found")

    def check(same_names_allowed: int) -> None:
        if is_folder and within(session, target_id, item.id):
            raise FileError("into_itself", name=item.name)
        if _same_name(session, target_id, name, model) > same_names_allowed:
            raise FileError("clash", name=name, folder=_folder_name(session, target_id), is_folder=is_folder)

    check(0)
    if is_folder:
        item.parent_id = target_id
    else:
        item.folder_id = target_id
    if name != item.name:
        item.name = name
        if not is_folder:
            item.content_type = content_type_for(name)
    session.flush()
    check(1)   # again, now under the write lock: someone else's move may have been committed meanwhile
    return True


def _folder_name(session, folder_id: int | None) -> str | None:
    """A folder's name; None for the top level (the caller names it in the user's language)."""
    if folder_id is None:
        return None
    return session.scalar(select(Folder.name).where(Folder.id == folder_id))


def delete_file(session, files_dir: Path, f: StoredFile) -> Path:
    """Remove the row (flushed); returns the bytes' path for the caller to unlink once the
    transaction is committed (a failed commit must not lose the bytes of a kept row)."""
    path = path_of(files_dir, f)
    session.delete(f)
    session.flush()
    return path


def delete_folder(session, folder: Folder) -> None:
    """Only an empty folder goes (files are never deleted by surprise)."""
    has_files = session.scalar(select(func.count()).select_from(StoredFile).where(StoredFile.folder_id == folder.id))
    has_folders = session.scalar(select(func.count()).select_from(Folder).where(Folder.parent_id == folder.id))
    if has_files or has_folders:
        raise FileError("not_empty", name=folder.name)
    session.delete(folder)
    session.flush()


def listing(session, folder_id: int | None, offset: int = 0,
            limit: int | None = None) -> tuple[list[Folder], list[StoredFile]]:
    """A folder's subfolders (all) and files (``offset``/``limit`` for paging), by name."""
    folders = subfolders(session, folder_id)
    q = select(StoredFile).where(_in_folder(folder_id)).order_by(func.lower(StoredFile.name), StoredFile.id)
    files = session.scalars(q.offset(offset).limit(limit)).all()
    return list(folders), list(files)


def subfolders(session, folder_id: int | None) -> list[Folder]:
    """A folder's subfolders (None: the top level's), by name."""
    fw = Folder.parent_id.is_(None) if folder_id is None else Folder.parent_id == folder_id
    return list(session.scalars(select(Folder).where(fw).order_by(func.lower(Folder.name))))


def _in_folder(folder_id: int | None):
    return StoredFile.folder_id.is_(None) if folder_id is None else StoredFile.folder_id == folder_id


def file_count(session, folder_id: int | None) -> int:
    return session.scalar(select(func.count()).select_from(StoredFile).where(_in_folder(folder_id)))


def _like(q: str) -> str:
    return "%" + q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def search(session, q: str, limit: int = 200) -> tuple[list[Folder], list[StoredFile]]:
    """Folders and files anywhere whose name contains ``q`` (case-insensitive)."""
    pattern = _like(q)
    folders = session.scalars(select(Folder).where(func.lower(Folder.name).like(pattern, escape="\\"))
                              .order_by(func.lower(Folder.name)).limit(limit)).all()
    files = session.scalars(select(StoredFile).where(func.lower(StoredFile.name).like(pattern, escape="\\"))
                            .order_by(func.lower(StoredFile.name)).limit(limit)).all()
    return list(folders), list(files)


def human_size(n: int | float, locale: str = "en") -> str:
    """8.44 KB, 892.62 KB, 17 GB (1024-based, as the manual shows them)."""
    units = ["B", "KB", "MB", "GB", "TB"]
    value = float(n)
    i = 0
    while value >= 1024 and i < len(units) - 1:
        value /= 1024
        i += 1
    text = f"{int(value)}" if i == 0 else f"{value:.2f}".rstrip("0").rstrip(".")
    if locale.startswith("pl"):
        text = text.replace(".", ",")
    return f"{text} {units[i]}"
