"""Importing contacts from CSV (CON-3), in the manual's steps: upload → configure (header
row, column → field mapping) → verify (a dry run with a per-record error report) → import.

The file is streamed, never loaded whole: verify writes the valid records, normalised, to a
staging file next to the upload (JSON lines), and the import reads that back in batches.
Accepted: UTF-8 with or without BOM and Windows-1250; ``,`` ``;`` or tab separators; quoted
fields with newlines.

Bounded whatever the file (issue 12): at most ``MAX_COLUMNS`` columns, ``MAX_FIELD_CHARS`` per
field and ``MAX_ROW_CHARS`` per record, checked while reading (a record is refused before the csv
reader has built it), and previews cut to ``PREVIEW_ROWS`` rows of ``PREVIEW_CHARS`` characters.

Duplicates: a record whose email address or phone number already belongs to a contact (or to
an earlier record of the same file) updates that contact instead of creating a new one; the
values the file has replace the stored ones and new emails and phones are added.  So running
an import again does not duplicate anyone.
"""
from __future__ import annotations

import codecs
import csv
import json
import logging
import re
import secrets
import threading
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import String, delete, func, literal, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY

from agents import ownership

from . import contacts as C
from .upload_names import safe_name
from .models_contacts import EMAIL_KINDS, PHONE_KINDS, Contact, ContactEmail, ContactImport, ContactPhone, CustomField

log = logging.getLogger(__name__)

MAX_BYTES = 10 * 1024 * 1024
MAX_SLOTS = 20
BATCH = 5000
PREVIEW_ROWS = 10
REPORT_KEEP = 1000            # errors kept in the database; the report file has all of them
SEPARATORS = (",", ";", "\t")
SINGLE = ("first_name", "last_name", "organisation", "address", "note")
MULTI = ("email", "email_type", "phone", "phone_type")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
MAX_COLUMNS = 200             # a contact needs far fewer; our own export has 5 + 2 per slot + custom
MAX_FIELD_CHARS = 64 * 1024   # the longest contact text is a 10,000-character note
MAX_ROW_CHARS = 1024 * 1024   # one record with its quoted newlines: bounds the reader's row list
PREVIEW_CHARS = 200           # per preview cell (the configure page, the API's preview)
# process-wide, as the csv module has it; the reader below checks fields itself as well
csv.field_size_limit(MAX_FIELD_CHARS)


class ImportError_(ValueError):
    """A problem with the file or the request, said for people (English; the web layer translates
    by ``code``)."""

    def __init__(self, code: str, message: str, **params):
        super().__init__(message)
        self.code = code
        self.params = params


def _now() -> datetime:
    return datetime.now(timezone.utc)


def imports_dir(data_dir: Path) -> Path:
    d = Path(data_dir) / "uploads" / "imports"
    d.mkdir(parents=True, exist_ok=True)
    return d


def original_path(data_dir: Path, imp: ContactImport) -> Path:
    return imports_dir(data_dir) / f"{imp.stored_name}.csv"


def staged_path(data_dir: Path, imp: ContactImport) -> Path:
    return imports_dir(data_dir) / f"{imp.stored_name}.staged.jsonl"


def report_path(data_dir: Path, imp: ContactImport) -> Path:
    return imports_dir(data_dir) / f"{imp.stored_name}.errors.txt"


# -- upload and sniffing ------------------------------------------------------------------
def save_upload(data_dir: Path, stream, limit: int = MAX_BYTES) -> tuple[str, int]:
    """Copy ``stream`` to a new file under the imports dir; refuse more than ``limit`` bytes."""
    stored = secrets.token_hex(12)
    path = imports_dir(data_dir) / f"{stored}.csv"
    size = 0
    try:
        with open(path, "wb") as out:
            while True:
                chunk = stream.read(64 * 1024)
                if not chunk:
                    break
                size += len(chunk)
                if size > limit:
                    raise ImportError_("too_large", f"The file is larger than {limit // (1024 * 1024)} MB.",
                                       limit_mb=limit // (1024 * 1024))
                out.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    if size == 0:
        path.unlink(missing_ok=True)
        raise ImportError_("empty", "The file is empty.")
    return stored, size


def detect_encoding(path: Path) -> str:
    """``utf-8-sig`` (BOM), ``utf-8`` when every byte decodes, else ``cp1250`` (Windows-1250).
    Archives (a zipped file, an .xlsx workbook), UTF-16 and other binary files are refused."""
    with open(path, "rb") as fh:
        head = fh.read(4096)
        if head.startswith(codecs.BOM_UTF8):
            return "utf-8-sig"
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or _looks_utf16(head):
            raise ImportError_("encoding", "UTF-16 files are not supported: save the file as UTF-8 CSV.")
        if head.startswith((b"PK\x03\x04", b"PK\x05\x06", b"\x1f\x8b", b"BZh", b"\xfd7zXZ", b"7z\xbc\xaf")):
            raise ImportError_("archive", "This is a compressed archive or an Excel workbook, not a CSV file: "
                                          "save it as CSV (UTF-8) and upload that.")
        fh.seek(0)
        dec = codecs.getincrementaldecoder("utf-8")()
        try:
            while chunk := fh.read(256 * 1024):
                if b"\x00" in chunk:
                    raise ImportError_("binary", "This is not a text (CSV) file.")
                dec.decode(chunk)
            dec.decode(b"", final=True)
            return "utf-8"
        except UnicodeDecodeError:
            return "cp1250"


def _looks_utf16(head: bytes) -> bool:
    """UTF-16 without a BOM: most of the text is Latin, so every other byte is NUL."""
    if len(head) < 4:
        return False
    even, odd = head[0::2], head[1::2]
    return max(even.count(0), odd.count(0)) >= 0.4 * len(odd) and min(even.count(0), odd.count(0)) <= 0.05 * len(odd)


def detect_delimiter(path: Path, encoding: str) -> str:
    """The separator that splits the first records into the same number (> 1) of columns."""
    with open(path, encoding=encoding, errors="replace", newline="") as fh:
        sample = fh.read(64 * 1024)
    best, best_score = ",", (-1.0, 0)
    lines = sample
    for sep in SEPARATORS:
        try:
            rows = []
            for row in csv.reader(lines.splitlines(keepends=True), delimiter=sep):
                rows.append(len(row))
                if len(rows) >= 30:
                    break
        except csv.Error:
            continue
        if not rows:
            continue
        if len(sample) >= 64 * 1024 and len(rows) > 1:
            rows = rows[:-1]           # the last one may be cut by the sample
        width, n = Counter(rows).most_common(1)[0]
        if width <= 1:
            continue
        score = (n / len(rows), width)
        if score > best_score:
            best, best_score = sep, score
    return best


def create_import(session, data_dir: Path, stream, filename: str, user_id: int | None,
                  limit: int = MAX_BYTES) -> ContactImport:
    stored, size = save_upload(data_dir, stream, limit)
    path = imports_dir(data_dir) / f"{stored}.csv"
    try:
        encoding = detect_encoding(path)
        delimiter = detect_delimiter(path, encoding)
        head = read_rows(path, encoding, delimiter, limit=2)
        if not head:
            raise ImportError_("empty", "The file has no rows.")
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    imp = ContactImport(filename=safe_name(filename, "contacts.csv"), stored_name=stored,
                        size_bytes=size, encoding=encoding, delimiter=delimiter, has_header=True,
                        mapping=[], status="uploaded", created_by=user_id, errors=[], warnings=[],
                        message="")
    session.add(imp)
    session.flush()
    columns = preview(data_dir, imp)["columns"]
    imp.mapping = auto_mapping(session, columns)
    session.flush()
    return imp


# -- reading -------------------------------------------------------------------------------
class _RecordLines:
    """The file's lines for ``csv.reader``, refusing a record (one row with its quoted
    newlines) longer than ``MAX_ROW_CHARS`` before the reader has built it: memory stays
    bounded whatever the file.  ``record_done`` is called after each row."""

    def __init__(self, fh, delimiter: str):
        self.fh, self.delimiter = fh, delimiter
        self.used = self.separators = self.longest = 0
        self.record = 1

    def __iter__(self):
        return self

    def __next__(self) -> str:
        line = self.fh.readline(MAX_ROW_CHARS + 1 - self.used)
        if not line:
            raise StopIteration
        self.used += len(line)
        self.separators += line.count(self.delimiter)
        self.longest = max(self.longest, max(len(part) for part in line.split(self.delimiter)))
        if self.used > MAX_ROW_CHARS:     # say what makes it so long
            if self.separators >= MAX_COLUMNS:
                raise too_many_columns(self.record)
            if self.longest > MAX_FIELD_CHARS:
                raise field_too_large(self.record)
            raise ImportError_("row_too_long", f"Row {self.record} is longer than {MAX_ROW_CHARS:,} characters.",
                               row=self.record, limit=MAX_ROW_CHARS)
        return line

    def record_done(self) -> None:
        self.used = self.separators = self.longest = 0
        self.record += 1


def too_many_columns(row: int) -> ImportError_:
    return ImportError_("columns", f"Row {row} has more than {MAX_COLUMNS} columns. Keep only the columns "
                                   "you want to import.", row=row, limit=MAX_COLUMNS)


def field_too_large(row: int) -> ImportError_:
    return ImportError_("field_too_large", f"Row {row} has a field longer than {MAX_FIELD_CHARS:,} characters.",
                        row=row, limit=MAX_FIELD_CHARS)


def iter_rows(path: Path, encoding: str, delimiter: str):
    """The file's records, each checked against the limits (ImportError_ otherwise)."""
    errors = "strict" if encoding.startswith("utf-8") else "replace"
    with open(path, encoding=encoding, errors=errors, newline="") as fh:
        lines = _RecordLines(fh, delimiter)
        reader = csv.reader(lines, delimiter=delimiter, quotechar='"', doublequote=True, strict=False)
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                if "field limit" in str(exc):
                    raise field_too_large(lines.record) from None
                raise ImportError_("unreadable", f"Row {lines.record} could not be read: {exc}",
                                   row=lines.record) from None
            if len(row) > MAX_COLUMNS:
                raise too_many_columns(lines.record)
            if any(len(cell) > MAX_FIELD_CHARS for cell in row):
                raise field_too_large(lines.record)
            lines.record_done()
            if not row or all(not c.strip() for c in row):
                continue           # blank lines are not records
            yield row


def read_rows(path: Path, encoding: str, delimiter: str, limit: int) -> list[list[str]]:
    out = []
    for row in iter_rows(path, encoding, delimiter):
        out.append(row)
        if len(out) >= limit:
            break
    return out


def _cut(text: str, limit: int = PREVIEW_CHARS) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def preview(data_dir: Path, imp: ContactImport, rows: int = PREVIEW_ROWS) -> dict:
    """The first rows and, per column, its header (when the first row is headers); at most
    ``PREVIEW_ROWS`` rows, each cell cut to ``PREVIEW_CHARS`` characters."""
    rows = min(rows, PREVIEW_ROWS)
    data = read_rows(original_path(data_dir, imp), imp.encoding, imp.delimiter, rows + 1)
    width = max((len(r) for r in data), default=0)
    header = data[0] if data else []
    columns = [{"index": i, "header": _cut(header[i].strip()) if i < len(header) else ""} for i in range(width)]
    body = data[1:] if imp.has_header else data
    return {"columns": columns,
            "rows": [[_cut(c) for c in r] + [""] * (width - len(r)) for r in body[:rows]]}


# -- mapping -------------------------------------------------------------------------------
_ALIASES = {
    "first_name": {"first name", "firstname", "first", "given name", "name", "imię", "imie"},
    "last_name": {"last name", "lastname", "surname", "family name", "nazwisko"},
    "organisation": {"organisation", "organization", "organization name", "organisation name",
                     "company", "firma", "organizacja"},
    "address": {"address", "adres"},
    "note": {"note", "notes", "notatka", "uwagi"},
}


def auto_mapping(session, columns: list[dict]) -> list[dict]:
    """A first guess from the header names (our own export's names map back exactly)."""
    custom = {f.name.lower(): f.key for f in C.custom_fields(session)}
    custom.update({f.key.lower(): f.key for f in C.custom_fields(session)})
    out, used = [], set()
    for col in columns:
        h = re.sub(r"\s+", " ", col["header"].strip().lower())
        field, slot = None, None
        m = re.fullmatch(r"(e-?mail|phone|telefon|tel\.?)\s*(\d+)?(\s+(type|typ))?", h)
        if m:
            base = "email" if m.group(1).startswith("e") else "phone"
            field = base + ("_type" if m.group(3) else "")
            slot = int(m.group(2) or 1)
        else:
            for name, aliases in _ALIASES.items():
                if h in aliases:
                    field = name
                    break
            if field is None and h in custom:
                field = "custom." + custom[h]
        if field and (field, slot) not in used:
            used.add((field, slot))
            out.append({"index": col["index"], "field": field, **({"slot": slot} if slot else {})})
    return out


def field_names(session) -> list[str]:
    return list(SINGLE) + list(MULTI) + ["custom." + f.key for f in C.custom_fields(session)]


def set_mapping(session, data_dir: Path, imp: ContactImport, has_header: bool, columns: list) -> None:
    if imp.status in ("verifying", "importing") and not is_stale(imp):
        raise ImportError_("busy", "The import is running; wait until it finishes.")
    if imp.status == "done":
        raise ImportError_("done", "This file has already been imported.")
    width = len(preview(data_dir, imp, rows=1)["columns"])
    known = set(field_names(session))
    clean, seen = [], set()
    if not isinstance(columns, list):
        raise ImportError_("mapping", "columns must be a list.")
    for col in columns:
        if not isinstance(col, dict):
            raise ImportError_("mapping", "Each column must be an object with index and field.")
        index, field, slot = col.get("index"), col.get("field"), col.get("slot")
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < width:
            raise ImportError_("mapping", f"Column index {index!r} is not in the file (0…{width - 1}).")
        if not field:
            continue
        if field not in known:
            raise ImportError_("mapping", f"Unknown field {field!r}.")
        if field in MULTI:
            if slot is None:
                slot = 1
            if not isinstance(slot, int) or isinstance(slot, bool) or not 1 <= slot <= MAX_SLOTS:
                raise ImportError_("mapping", f"Number {slot!r} of {field} must be 1…{MAX_SLOTS}.")
        else:
            slot = None
        if index in {c["index"] for c in clean}:
            raise ImportError_("mapping", f"Column {index} is mapped twice.")
        if (field, slot) in seen:
            raise ImportError_("mapping", f"Two columns are mapped to {field}" + (f" {slot}" if slot else "") +
                               "; number them 1, 2, …")
        seen.add((field, slot))
        clean.append({"index": index, "field": field, **({"slot": slot} if slot else {})})
    imp.has_header = bool(has_header)
    imp.mapping = clean
    _reset_results(data_dir, imp)
    imp.status = "uploaded"
    session.flush()


def can_verify(imp: ContactImport) -> bool:
    fields = {c["field"] for c in imp.mapping or []}
    return {"first_name", "last_name"} <= fields and imp.status in ("uploaded", "verified", "failed")


def _reset_results(data_dir: Path, imp: ContactImport) -> None:
    imp.total = imp.ok = imp.processed = imp.created = imp.updated = imp.error_count = 0
    imp.errors, imp.warnings, imp.message = [], [], ""
    imp.verified_at = imp.started_at = imp.finished_at = None
    staged_path(data_dir, imp).unlink(missing_ok=True)
    report_path(data_dir, imp).unlink(missing_ok=True)


# -- records ----------------------------------------------------------------------------------
def unneutralise(value: str) -> str:
    """Undo the export's formula guard: ``'=x`` → ``=x`` (only before = + - @ ' tab CR)."""
    if len(value) > 1 and value[0] == "'" and value[1] in FORMULA_START + ("'",):
        return value[1:]
    return value


def error_message(err: dict) -> str:
    """English text of one report line, in the manual's words."""
    where = err.get("field", "")
    if err.get("slot"):
        where += f" {err['slot']}"
    code, value = err["code"], err.get("value", "")
    if code == "name_required":
        text = "a first name, last name or organisation is required"
    elif code == "format_email":
        text = f'{where} should match format "email" ({value!r})'
    elif code == "lost_plus":
        text = (f'{where} should match format "phone": {value!r} lost its leading "+" '
                "(a spreadsheet formatted the column as a number; format phone columns as Text)")
    elif code == "format_phone":
        text = f'{where} should match format "phone" ({value!r})'
    elif code == "too_long":
        text = f"{where} is too long (at most {err.get('limit')} characters)"
    elif code == "encoding":
        text = "the row is not valid text in the file's encoding"
    else:
        text = code
    return f"Record {err['record']}: {text}"


def _record(row: list[str], mapping: list[dict], limits: dict, region: str, number: int, errors: list):
    """A clean record (dict) from one row, or None when it has errors (appended to ``errors``)."""
    def cell(i):
        return unneutralise(row[i].strip()) if i < len(row) else ""

    rec = {"first_name": "", "last_name": "", "organisation": "", "address": "", "note": "",
           "emails": {}, "phones": {}, "email_types": {}, "phone_types": {}, "custom": {}}
    bad = False
    for col in mapping:
        field, value = col["field"], cell(col["index"])
        if not value:
            continue
        if field in SINGLE:
            if len(value) > C.TEXT_LIMITS[field]:
                errors.append({"record": number, "field": field, "code": "too_long",
                               "limit": C.TEXT_LIMITS[field]})
                bad = True
            rec[field] = value
        elif field == "email":
            email = value.lower()
            if len(email) > 254 or not C.EMAIL_RE.match(email):
                errors.append({"record": number, "field": "email", "slot": col["slot"],
                               "code": "format_email", "value": value[:100]})
                bad = True
            rec["emails"][col["slot"]] = email
        elif field == "phone":
            try:
                rec["phones"][col["slot"]] = C.normalize_phone(value, region)
            except C.PhoneProblem as exc:
                errors.append({"record": number, "field": "phone", "slot": col["slot"],
                               "code": "lost_plus" if exc.lost_plus else "format_phone", "value": value[:100]})
                bad = True
        elif field == "email_type":
            rec["email_types"][col["slot"]] = value.lower() if value.lower() in EMAIL_KINDS else "other"
        elif field == "phone_type":
            rec["phone_types"][col["slot"]] = value.lower() if value.lower() in PHONE_KINDS else "other"
        elif field.startswith("custom."):
            key = field[7:]
            if len(value) > limits.get(key, 500):
                errors.append({"record": number, "field": key, "code": "too_long", "limit": limits.get(key, 500)})
                bad = True
            rec["custom"][key] = value
    if not (rec["first_name"] or rec["last_name"] or rec["organisation"]):
        errors.append({"record": number, "field": "first_name", "code": "name_required"})
        bad = True
    if bad:
        return None
    emails = [(rec["emails"][s], rec["email_types"].get(s, "work")) for s in sorted(rec["emails"])]
    phones = [(rec["phones"][s], rec["phone_types"].get(s, "mobile")) for s in sorted(rec["phones"])]
    return {"f": rec["first_name"], "l": rec["last_name"], "o": rec["organisation"], "a": rec["address"],
            "n": rec["note"], "e": _dedupe(emails), "p": _dedupe(phones), "c": rec["custom"]}


def _dedupe(pairs):
    seen, out = set(), []
    for v, k in pairs:
        if v not in seen:
            seen.add(v)
            out.append([v, k])
    return out


# -- verify (dry run) ---------------------------------------------------------------------------
def verify(db, data_dir: Path, import_id: int, region: str = "PL", progress_every: int = 2000) -> None:
    """Read every record, write the valid ones to the staging file, report the others."""
    with db.session() as s:
        imp = s.get(ContactImport, import_id)
        mapping, has_header = list(imp.mapping), imp.has_header
        path, staged, report = original_path(data_dir, imp), staged_path(data_dir, imp), report_path(data_dir, imp)
        encoding, delimiter = imp.encoding, imp.delimiter
        limits = {f.key: C.CUSTOM_LIMITS.get(f.kind, 500) for f in C.custom_fields(s)}
    total = ok = lost_plus = 0
    kept: list[dict] = []
    error_count = 0
    try:
        with open(staged, "w", encoding="utf-8") as out, open(report, "w", encoding="utf-8") as rep:
            rows = iter_rows(path, encoding, delimiter)
            if has_header:
                next(rows, None)
            for row in rows:
                total += 1
                errs: list = []
                rec = _record(row, mapping, limits, region, total, errs)
                if rec is None:
                    for e in errs:
                        error_count += 1
                        lost_plus += e["code"] == "lost_plus"
                        rep.write(error_message(e) + "\n")
                        if len(kept) < REPORT_KEEP:
                            kept.append(e)
                else:
                    ok += 1
                    out.write(json.dumps(rec, ensure_ascii=False, separators=(",", ":")) + "\n")
                if total % progress_every == 0:
                    _progress(db, import_id, processed=total)
    except ImportError_ as exc:     # a limit: kept as a warning too, for the panel to say it in its language
        _fail(db, import_id, f"The file could not be read: {exc}", problem={"code": exc.code, **exc.params})
        return
    except (UnicodeDecodeError, csv.Error) as exc:
        _fail(db, import_id, f"The file could not be read: {exc}")
        return
    warnings = []
    if lost_plus:
        warnings.append({"code": "lost_plus", "count": lost_plus})
    if total == 0:
        warnings.append({"code": "no_records"})
    with db.session() as s:
        imp = s.get(ContactImport, import_id)
        imp.total, imp.ok, imp.processed, imp.error_count = total, ok, total, error_count
        imp.errors, imp.warnings = kept, warnings
        imp.verified_at = _now()
        imp.status = "verified"


def _progress(db, import_id: int, **values) -> None:
    with db.session() as s:
        s.execute(update(ContactImport).where(ContactImport.id == import_id)
                  .values(heartbeat_at=_now(), **values))


def _fail(db, import_id: int, message: str, problem: dict | None = None) -> None:
    with db.session() as s:
        s.execute(update(ContactImport).where(ContactImport.id == import_id)
                  .values(status="failed", message=message[:2000], finished_at=_now(),
                          **({"warnings": [problem]} if problem else {})))


# -- commit -------------------------------------------------------------------------------------
def commit(db, data_dir: Path, import_id: int, user_id: int | None = None) -> None:
    """Create or update contacts from the staging file, a batch per transaction."""
    with db.session() as s:
        imp = s.get(ContactImport, import_id)
        staged = staged_path(data_dir, imp)
    created = updated = done = batches = 0
    batch: list[dict] = []
    try:
        with open(staged, encoding="utf-8") as fh:
            for line in fh:
                batch.append(json.loads(line))
                if len(batch) >= BATCH:
                    batches += 1
                    if batches in (2, 4, 8, 16, 32, 64):
                        _analyze(db)
                    c, u = _commit_batch(db, batch, import_id, user_id,
                                         {"processed": done, "created": created, "updated": updated})
                    created, updated, done = created + c, updated + u, done + len(batch)
                    batch = []
            if batch:
                c, u = _commit_batch(db, batch, import_id, user_id,
                                     {"processed": done, "created": created, "updated": updated})
                created, updated, done = created + c, updated + u, done + len(batch)
    except Exception as exc:  # noqa: BLE001 - reported on the status list
        log.exception("contact import %s failed", import_id)
        _progress(db, import_id, processed=done, created=created, updated=updated, ok=done)
        _fail(db, import_id, f"The import stopped after {done} records: {exc}")
        return
    with db.session() as s:
        imp = s.get(ContactImport, import_id)
        imp.processed, imp.ok, imp.created, imp.updated = done, done, created, updated
        imp.status, imp.finished_at = "done", _now()
    staged.unlink(missing_ok=True)


def _commit_batch(db, batch: list[dict], import_id: int, user_id: int | None,
                  progress: dict) -> tuple[int, int]:
    """One transaction: the progress so far, then this batch's new and updated contacts."""
    from sqlalchemy.orm import selectinload

    emails = {e for r in batch for e, _ in r["e"]}
    phones = {p for r in batch for p, _ in r["p"]}
    owner: dict[str, int] = {}
    now = _now()
    with db.session() as s:
        # first a write: on SQLite this takes the database's write lock for the transaction,
        # so the ids below cannot be taken by anyone else
        if s.get_bind().dialect.name == "postgresql":
            # no flush to disk per batch: a crash loses at most the last batches, and running the
            # import again completes it without duplicates
            s.execute(text("SET LOCAL synchronous_commit = off"))
        s.execute(update(ContactImport).where(ContactImport.id == import_id)
                  .values(heartbeat_at=now, **progress))
        emails, phones = sorted(emails), sorted(phones)
        # PostgreSQL takes the whole batch as one array; SQLite has a bound-parameter limit
        step = 100_000 if s.get_bind().dialect.name == "postgresql" else 400
        for prefix, model, col, values in (("e:", ContactEmail, ContactEmail.email, emails),
                                           ("p:", ContactPhone, ContactPhone.number, phones)):
            for i in range(0, len(values), step):
                chunk = values[i:i + step]
                cond = col == func.any(literal(chunk, type_=ARRAY(String))) if step > 400 else col.in_(chunk)
                for key, cid in s.execute(select(col, model.contact_id).where(cond)
                                          .order_by(model.contact_id.desc())):
                    owner[prefix + key] = cid
        # group the batch: records for existing contacts, and new contacts (merging records of
        # the same file that share an email or phone)
        to_existing: dict[int, list[dict]] = {}
        new: list[list[dict]] = []
        new_owner: dict[str, int] = {}
        for rec in batch:
            keys = ["e:" + e for e, _ in rec["e"]] + ["p:" + p for p, _ in rec["p"]]
            cid = next((owner[k] for k in keys if k in owner), None)
            if cid is not None:
                to_existing.setdefault(cid, []).append(rec)
                continue
            idx = next((new_owner[k] for k in keys if k in new_owner), None)
            if idx is None:
                idx = len(new)
                new.append([])
            new[idx].append(rec)
            for k in keys:
                new_owner.setdefault(k, idx)
        # new contacts: bulk insert with RETURNING
        merged = [_merge_records(group) for group in new]
        if merged:
            table = Contact.__table__
            rows = [{"first_name": m["f"], "last_name": m["l"], "organisation": m["o"], "address": m["a"],
                     "note": m["n"], "custom": m["c"], "created_at": now, "updated_at": now,
                     "created_by": user_id, "import_id": import_id,
                     "search": C.haystack(m["f"], m["l"], m["o"], [e for e, _ in m["e"]], [p for p, _ in m["p"]])}
                    for m in merged]
            dialect = s.get_bind().dialect.name
            if dialect == "sqlite":
                # SQLite returns RETURNING rows one INSERT at a time; with the write lock held,
                # the next ids are ours to give
                start = (s.scalar(select(func.max(Contact.id))) or 0) + 1
                ids = list(range(start, start + len(rows)))
                for row, cid in zip(rows, ids):
                    row["id"] = cid
                s.execute(table.insert(), rows)
                if C._uses_fts(s):   # the insert trigger leaves imported rows to us
                    s.execute(text("INSERT INTO contacts_fts(rowid, search) SELECT id, search FROM contacts "
                                   "WHERE id BETWEEN :a AND :b"), {"a": ids[0], "b": ids[-1]})
            elif dialect == "postgresql":
                ids = [r[0] for r in s.execute(text(
                    "SELECT nextval(pg_get_serial_sequence('contacts', 'id')) FROM generate_series(1, :n)"),
                    {"n": len(rows)})]
                for row, cid in zip(rows, ids):
                    row["id"] = cid
                _pg_copy(s, "contacts", rows)
            else:
                ids = s.execute(table.insert().returning(table.c.id, sort_by_parameter_order=True),
                                rows).scalars().all()
            erows = [{"contact_id": cid, "position": i, "email": e, "kind": k}
                     for cid, m in zip(ids, merged) for i, (e, k) in enumerate(m["e"])]
            prows = [{"contact_id": cid, "position": i, "number": p, "kind": k}
                     for cid, m in zip(ids, merged) for i, (p, k) in enumerate(m["p"])]
            for name, model, new_rows in (("contact_emails", ContactEmail, erows), ("contact_phones", ContactPhone, prows)):
                if new_rows and dialect == "postgresql":
                    _pg_copy(s, name, new_rows)
                elif new_rows:
                    s.execute(model.__table__.insert(), new_rows)
        # existing contacts: the file's values win, new emails/phones are added
        if to_existing:
            existing = s.scalars(select(Contact).where(Contact.id.in_(list(to_existing)))
                                 .options(selectinload(Contact.emails), selectinload(Contact.phones))).all()
            for contact in existing:
                m = _merge_records(to_existing[contact.id])
                for attr, key in (("first_name", "f"), ("last_name", "l"), ("organisation", "o"),
                                  ("address", "a"), ("note", "n")):
                    if m[key]:
                        setattr(contact, attr, m[key])
                if m["c"]:
                    contact.custom = {**(contact.custom or {}), **m["c"]}
                have_e = {e.email for e in contact.emails}
                for e, k in m["e"]:
                    if e not in have_e:
                        contact.emails.append(ContactEmail(email=e, kind=k, position=len(contact.emails)))
                have_p = {p.number for p in contact.phones}
                for p, k in m["p"]:
                    if p not in have_p:
                        contact.phones.append(ContactPhone(number=p, kind=k, position=len(contact.phones)))
                C.refresh_search(contact)
    return len(merged), len(to_existing)


def _analyze(db) -> None:
    """PostgreSQL plans with table statistics; refreshed while a large import grows the tables,
    the email / phone look-ups keep using their indexes instead of scanning."""
    if db.engine.dialect.name != "postgresql":
        return
    with db.session() as s:
        # not contacts: analysing it would also flush the trigram index's pending list
        s.execute(text("ANALYZE contact_emails, contact_phones"))


def _pg_copy(s, table_name: str, rows: list[dict]) -> None:
    """COPY the rows into ``table_name`` on the session's connection (PostgreSQL, psycopg 3)."""
    cols = list(rows[0])
    raw = s.connection().connection.driver_connection
    with raw.cursor() as cur:
        with cur.copy(f"COPY {table_name} ({', '.join(cols)}) FROM STDIN") as cp:
            for row in rows:
                cp.write_row([json.dumps(v, ensure_ascii=False) if isinstance(v, dict) else v
                              for v in (row[c] for c in cols)])


def _merge_records(group: list[dict]) -> dict:
    if len(group) == 1:
        return group[0]
    out = {"f": "", "l": "", "o": "", "a": "", "n": "", "e": [], "p": [], "c": {}}
    for r in group:
        for k in ("f", "l", "o", "a", "n"):
            if r[k]:
                out[k] = r[k]
        out["c"].update(r["c"])
        out["e"] += [x for x in r["e"] if x[0] not in {e for e, _ in out["e"]}]
        out["p"] += [x for x in r["p"] if x[0] not in {p for p, _ in out["p"]}]
    return out


# -- running in the background ----------------------------------------------------------------
_STARTABLE = {"verify": ("uploaded", "verified", "failed"), "commit": ("verified",)}
_RUNNING = {"verify": "verifying", "commit": "importing"}
STALE_SECONDS = 120   # a running step that has not reported for this long died with its process


def is_stale(imp: ContactImport, now: datetime | None = None) -> bool:
    """A verify or import whose process stopped (restart, crash): it may be started again."""
    if imp.status not in _RUNNING.values() or imp.heartbeat_at is None:
        return False
    beat = imp.heartbeat_at if imp.heartbeat_at.tzinfo else imp.heartbeat_at.replace(tzinfo=timezone.utc)
    return ((now or _now()) - beat).total_seconds() > STALE_SECONDS


def claim(db, data_dir: Path, import_id: int, step: str) -> bool:
    """Move the import into its running state, unless it can't start now (atomic).  A step
    interrupted by a restart (see :func:`is_stale`) can run again: verify from the start,
    import from the staging file (what was already imported is matched, not duplicated)."""
    with db.session() as s:
        imp = s.get(ContactImport, import_id)
        if imp is None:
            return False
        allowed = list(_STARTABLE[step])
        if is_stale(imp) and (step == "verify" or imp.status == "importing"):
            allowed.append(imp.status)
        if imp.status not in allowed:
            return False
        if step == "verify":
            if not {"first_name", "last_name"} <= {c["field"] for c in imp.mapping or []}:
                return False
            _reset_results(data_dir, imp)
        elif not staged_path(data_dir, imp).is_file():
            return False
        res = s.execute(update(ContactImport).where(ContactImport.id == import_id,
                                                    ContactImport.status.in_(allowed))
                        .values(status=_RUNNING[step], processed=0, heartbeat_at=_now(), message="",
                                **({"started_at": _now()} if step == "commit" else {})))
        return res.rowcount == 1


def run_in_background(db, data_dir: Path, import_id: int, step: str, region: str = "PL",
                      user_id: int | None = None) -> threading.Thread:
    def target():
        try:
            if step == "verify":
                verify(db, data_dir, import_id, region)
            else:
                commit(db, data_dir, import_id, user_id)
        except Exception as exc:  # noqa: BLE001
            log.exception("contact import %s: %s failed", import_id, step)
            _fail(db, import_id, str(exc))

    t = threading.Thread(target=target, name=f"contact-import-{import_id}-{step}", daemon=True)
    t.start()
    return t


AUDIT_DELETED = "contact_import.deleted"


# -- who may act on an import ------------------------------------------------------------------
def may_manage(imp: ContactImport, user) -> bool:
    """Every action on one import — its preview and error report, the mapping, verify, import,
    the original file's download and delete — is for the person who uploaded it or an
    administrator (issue 12).  The status list (name, state, counts) is for everyone."""
    return ownership.owner_or_admin(user, imp.created_by)


def check_may_manage(imp: ContactImport, user) -> None:
    if not may_manage(imp, user):
        raise ImportError_("forbidden", "Only the user who uploaded it or an administrator may open, change, run, "
                                        "download or delete an import.")


def is_running(imp: ContactImport) -> bool:
    """Verify or import is working on it right now (an interrupted one is not running)."""
    return imp.status in _RUNNING.values() and not is_stale(imp)


def delete_import(session, data_dir: Path, imp: ContactImport) -> list[Path]:
    """Remove the import record (not committed) and return its files — the original upload, the
    staging file and the error report — for the caller to unlink once the delete is committed.
    Contacts it created stay: their ``import_id`` becomes NULL (ON DELETE SET NULL).  A running
    step refuses with ``ImportError_('running')``, also when one was started after ``imp`` was
    read: the row goes only if its status and heartbeat are still the ones seen here."""
    if is_running(imp):
        raise ImportError_("running", "The import is running; it can be deleted once it has finished.")
    paths = [original_path(data_dir, imp), staged_path(data_dir, imp), report_path(data_dir, imp)]
    beat = ContactImport.heartbeat_at
    res = session.execute(delete(ContactImport).where(
        ContactImport.id == imp.id, ContactImport.status == imp.status,
        beat.is_(None) if imp.heartbeat_at is None else beat == imp.heartbeat_at)
        .execution_options(synchronize_session=False))
    if res.rowcount != 1:
        if session.scalar(select(ContactImport.id).where(ContactImport.id == imp.id)) is None:
            raise ImportError_("not_found", "No such import.")
        raise ImportError_("running", "The import is running; it can be deleted once it has finished.")
    session.expunge(imp)
    return paths


def as_dict(imp: ContactImport, full: bool = True) -> dict:
    """The import as the API and the status list show it; ``full=False`` (someone who may not
    manage it) leaves out the error report, whose lines quote the file."""
    from .models import iso

    return {"id": imp.id, "filename": imp.filename, "size_bytes": imp.size_bytes, "status": imp.status,
            "created_by": imp.created_by,
            "encoding": imp.encoding, "delimiter": imp.delimiter, "has_header": imp.has_header,
            "mapping": list(imp.mapping or []), "total": imp.total, "ok": imp.ok, "processed": imp.processed,
            "created": imp.created, "updated": imp.updated, "error_count": imp.error_count,
            "errors": [{**e, "message": error_message(e)} for e in (imp.errors or [])] if full else [],
            "warnings": list(imp.warnings or []), "message": imp.message, "stale": is_stale(imp),
            "created_at": iso(imp.created_at), "verified_at": iso(imp.verified_at),
            "started_at": iso(imp.started_at), "finished_at": iso(imp.finished_at)}
