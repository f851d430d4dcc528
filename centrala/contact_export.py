"""Exporting all contacts to CSV (CON-2): UTF-8 with BOM, one column per email / phone slot,
custom fields at the end; streamed in chunks so 100,000 contacts need no more memory than 2,000.

Spreadsheet formula injection: a cell starting with ``= + - @``, tab, CR or an apostrophe gets
a leading apostrophe (the import strips it again, so a round trip keeps every value).  Phone
numbers are E.164 (``+48601234567``): a '+' followed only by digits is a number, not a
formula, and is written as it is so it stays valid.
"""
from __future__ import annotations

import csv
import io
import re

from sqlalchemy import func, select

from .contact_import import FORMULA_START
from .models_contacts import Contact, ContactEmail, ContactPhone, CustomField

CHUNK = 2000
E164 = re.compile(r"^\+\d{6,15}$")
BOM = "\ufeff"


def neutralise(value: str) -> str:
    if value and (value[0] in FORMULA_START or value[0] == "'") and not E164.match(value):
        return "'" + value
    return value


def _slots(session, model) -> int:
    n = session.scalar(select(func.max(model.position)))
    return 0 if n is None else n + 1


def header(session) -> tuple[list[str], int, int, list[CustomField]]:
    n_e, n_p = max(1, _slots(session, ContactEmail)), max(1, _slots(session, ContactPhone))
    custom = list(session.scalars(select(CustomField).where(CustomField.applies_to == "contact")
                                  .order_by(CustomField.position, CustomField.id)))
    cols = ["First name", "Last name", "Organisation"]
    for i in range(1, n_e + 1):
        cols += [f"Email {i}", f"Email {i} type"]
    for i in range(1, n_p + 1):
        cols += [f"Phone {i}", f"Phone {i} type"]
    cols += ["Address", "Note"] + [f.name for f in custom]
    return cols, n_e, n_p, custom


def rows(session):
    """Yield the header, then one list of cells per contact (ordered by id)."""
    cols, n_e, n_p, custom = header(session)
    yield cols
    keys = [f.key for f in custom]
    ct = Contact.__table__
    last = 0
    while True:
        chunk = session.execute(select(ct.c.id, ct.c.first_name, ct.c.last_name, ct.c.organisation,
                                       ct.c.address, ct.c.note, ct.c.custom)
                                .where(ct.c.id > last).order_by(ct.c.id).limit(CHUNK)).all()
        if not chunk:
            return
        lo, hi = chunk[0].id, chunk[-1].id
        emails: dict[int, list] = {}
        for cid, email, kind in session.execute(
                select(ContactEmail.contact_id, ContactEmail.email, ContactEmail.kind)
                .where(ContactEmail.contact_id.between(lo, hi))
                .order_by(ContactEmail.contact_id, ContactEmail.position)):
            emails.setdefault(cid, []).append((email, kind))
        phones: dict[int, list] = {}
        for cid, number, kind in session.execute(
                select(ContactPhone.contact_id, ContactPhone.number, ContactPhone.kind)
                .where(ContactPhone.contact_id.between(lo, hi))
                .order_by(ContactPhone.contact_id, ContactPhone.position)):
            phones.setdefault(cid, []).append((number, kind))
        for r in chunk:
            cells = [r.first_name, r.last_name, r.organisation]
            es = emails.get(r.id, [])
            for i in range(n_e):
                cells += list(es[i]) if i < len(es) else ["", ""]
            ps = phones.get(r.id, [])
            for i in range(n_p):
                cells += list(ps[i]) if i < len(ps) else ["", ""]
            custom_values = r.custom or {}
            cells += [r.address, r.note] + [custom_values.get(k, "") for k in keys]
            yield [neutralise(c or "") for c in cells]
        last = hi


def stream_csv(session, chunk_rows: int = 1000):
    """The CSV as text chunks (the first starts with the BOM)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    buf.write(BOM)
    n = 0
    for row in rows(session):
        writer.writerow(row)
        n += 1
        if n % chunk_rows == 0:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()
