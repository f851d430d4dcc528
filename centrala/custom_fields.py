"""Custom fields (SET-3): extra short or long text fields on contacts or tasks.

Values are stored on the owning row in its JSON column ``custom`` as ``{key: text}``;
:func:`clean_values` validates such a dict against the defined fields.
"""
from __future__ import annotations

import re

from sqlalchemy import func, select

from .models_contacts import CustomField

KINDS = ("short", "long")
APPLIES_TO = ("contact", "task")
KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
LIMITS = {"short": 500, "long": 10000}
# keys that would clash with a contact's own fields in the import mapping and the export
RESERVED = {"id", "first_name", "last_name", "organisation", "address", "note", "email", "phone",
            "email_type", "phone_type", "created_at", "updated_at", "custom"}


class FieldError(ValueError):
    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def fields(session, applies_to: str | None = None) -> list[CustomField]:
    q = select(CustomField).order_by(CustomField.applies_to, CustomField.position, CustomField.id)
    if applies_to:
        q = q.where(CustomField.applies_to == applies_to)
    return list(session.scalars(q))


def _validate(session, name: str, key: str, kind: str, applies_to: str, editing: CustomField | None) -> dict:
    errors = {}
    name, key = (name or "").strip(), (key or "").strip()
    if not name:
        errors["name"] = "Enter a name."
    elif len(name) > 100:
        errors["name"] = "At most 100 characters."
    if not KEY_RE.match(key):
        errors["key"] = "Use lower-case letters, digits and _ and start with a letter."
    elif key in RESERVED:
        errors["key"] = "This key is used by a built-in field."
    if kind not in KINDS:
        errors["kind"] = "Choose short or long text."
    if applies_to not in APPLIES_TO:
        errors["applies_to"] = "Choose contacts or tasks."
    if not errors:
        clash = session.scalar(select(CustomField).where(CustomField.applies_to == applies_to,
                                                         CustomField.key == key))
        if clash is not None and clash is not editing:
            errors["key"] = "A field with this key already exists."
    if errors:
        raise FieldError(errors)
    return {"name": name, "key": key, "kind": kind, "applies_to": applies_to}


def create(session, name: str, key: str, kind: str = "short", applies_to: str = "contact") -> CustomField:
    values = _validate(session, name, key, kind, applies_to, None)
    position = (session.scalar(select(func.max(CustomField.position))
                               .where(CustomField.applies_to == applies_to)) or 0) + 1
    f = CustomField(position=position, **values)
    session.add(f)
    session.flush()
    return f


def update(session, f: CustomField, name: str, kind: str) -> CustomField:
    """Name and kind can change; the key and what it applies to cannot (values are stored by key)."""
    values = _validate(session, name, f.key, kind, f.applies_to, f)
    f.name, f.kind = values["name"], values["kind"]
    session.flush()
    return f


def delete(session, f: CustomField) -> None:
    """Remove the definition; stored values stay on the rows (hidden) until they are edited."""
    session.delete(f)
    session.flush()


def clean_values(session, values: dict, applies_to: str) -> dict:
    """``{key: text}`` checked against the defined fields; raises :class:`FieldError`."""
    defined = {f.key: f for f in fields(session, applies_to)}
    out, errors = {}, {}
    for key, value in (values or {}).items():
        f = defined.get(key)
        if f is None:
            errors[key] = "no such custom field"
            continue
        value = "" if value is None else str(value).strip()
        if len(value) > LIMITS[f.kind]:
            errors[key] = f"at most {LIMITS[f.kind]} characters"
        elif value:
            out[key] = value
    if errors:
        raise FieldError(errors)
    return out


def as_dict(f: CustomField) -> dict:
    return {"id": f.id, "key": f.key, "name": f.name, "kind": f.kind, "applies_to": f.applies_to}
