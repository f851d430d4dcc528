"""Contacts (CON-1…5): validation, phone numbers in E.164, search, and the links to
communications.  Used by the panel, the REST API, the import and (``find_by_phone``) the
voice side.  Custom field values are kept in ``Contact.custom`` ({key: text})."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import phonenumbers
from phonenumbers.phonenumberutil import COUNTRY_CODE_TO_REGION_CODE
from sqlalchemy import and_, func, literal_column, select, table, text

from .models import Communication
from .models_contacts import EMAIL_KINDS, PHONE_KINDS, Contact, ContactEmail, ContactPhone, CustomField

EMAIL_RE = re.compile(r"^[^@\s,;<>\"]+@[^@\s,;<>\"]+\.[^@\s,;<>\"]+$")
PHONE_QUERY_RE = re.compile(r"^[\d\s+()./-]+$")
TEXT_LIMITS = {"first_name": 200, "last_name": 200, "organisation": 300, "address": 2000, "note": 10000}
CUSTOM_LIMITS = {"short": 500, "long": 10000}
SORTS = {
    "last_name": (Contact.last_name, Contact.first_name, Contact.id),
    "first_name": (Contact.first_name, Contact.last_name, Contact.id),
    "organisation": (Contact.organisation, Contact.id),
    "created": (Contact.id.desc(),),          # ids grow with creation: newest first, indexed
}


class ContactError(ValueError):
    """Invalid contact data: ``errors`` maps a field ("email.1", "phone.0", …) to a message."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


# -- phone numbers -------------------------------------------------------------------------
class PhoneProblem(ValueError):
    """Why a phone number was refused; ``lost_plus`` when a spreadsheet ate its '+'."""

    def __init__(self, message: str, lost_plus: bool = False):
        super().__init__(message)
        self.lost_plus = lost_plus


def _valid(cand: str, region: str | None):
    try:
        parsed = phonenumbers.parse(cand, region)
    except phonenumbers.NumberParseException:
        return None
    if phonenumbers.is_valid_number(parsed):
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return None


_SIMPLE = re.compile(r"^\+?[\d ]+$")


def _fast(text: str, region: str) -> str | None:
    """E.164 without ``phonenumbers.parse`` for the common shapes (``+48 601 234 567``,
    ``601234567``): the country code is split off here and only validity is checked.  None
    means "ask the full parser" (national prefixes, leading zeros, anything unusual)."""
    if not _SIMPLE.match(text):
        return None
    digits = text.replace(" ", "").lstrip("+")
    if text.startswith("+"):
        for n in (1, 2, 3):
            cc = int(digits[:n] or 0)
            if cc in COUNTRY_CODE_TO_REGION_CODE:
                national = digits[n:]
                break
        else:
            return None
    else:
        cc = phonenumbers.country_code_for_region(region)
        national = digits
    if not national or national[0] == "0" or not cc:
        return None
    number = phonenumbers.PhoneNumber(country_code=cc, national_number=int(national))
    if phonenumbers.is_valid_number(number):
        return f"+{cc}{national}"
    return None


def normalize_phone(raw: str, region: str = "PL") -> str:
    """The number in E.164, or :class:`PhoneProblem`.  ``+48 601 234 567``, ``0048601234567``
    and (region PL) ``601 234 567`` give ``+48601234567``.  A number without '+' that is only
    valid with one (``48601234567``), or in a spreadsheet's scientific notation
    (``4.86012E+10``), is refused with ``lost_plus`` set: the spreadsheet dropped the '+'."""
    text = (raw or "").strip()
    if not text:
        raise PhoneProblem("empty")
    fast = _fast(text, region)
    if fast:
        return fast
    if re.fullmatch(r"\d(?:[.,]\d+)?[eE]\+?\d+", text):
        raise PhoneProblem("looks like a number a spreadsheet turned into scientific notation", lost_plus=True)
    if re.search(r"[^\d\s+()./-]", text.split(" ext", 1)[0]):
        raise PhoneProblem("contains characters that are not part of a phone number")
    digits = "".join(ch for ch in text if ch.isdigit())
    if text.startswith("+"):
        e164 = _valid("+" + digits, None)
    elif digits.startswith("00"):
        e164 = _valid("+" + digits[2:], None)
    else:
        e164 = _valid(digits, region)
        if e164 is None and _valid("+" + digits, None):
            raise PhoneProblem("lost its leading '+' (a spreadsheet formatted the column as a number)",
                               lost_plus=True)
    if e164 is None:
        raise PhoneProblem("is not a valid phone number")
    return e164


def phone_or_none(raw: str, region: str = "PL") -> str | None:
    try:
        return normalize_phone(raw, region)
    except PhoneProblem:
        return None


def display_phone(e164: str) -> str:
    """``+48 601 234 567`` for people; the stored value stays E.164."""
    try:
        return phonenumbers.format_number(phonenumbers.parse(e164, None),
                                          phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    except phonenumbers.NumberParseException:
        return e164


def national_digits(e164: str) -> str:
    try:
        return str(phonenumbers.parse(e164, None).national_number)
    except phonenumbers.NumberParseException:
        return ""


# -- search haystack -------------------------------------------------------------------------
def haystack(first: str, last: str, org: str, emails, phones) -> str:
    """Lower-case text the search scans: names, organisation, emails, phone digits with and
    without the country code."""
    parts = [f"{first} {last}".strip(), org, *emails]
    for p in phones:
        parts.append(p.lstrip("+"))
    return "\n".join(x for x in parts if x).lower()


def _escape_like(s: str) -> str:
    return s.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search_terms(q: str) -> list[str]:
    """What the search looks for: a phone-like query becomes its digits (without a leading
    00 / the '+'), anything else its lower-case words."""
    q = (q or "").strip()
    if not q:
        return []
    digits = "".join(ch for ch in q if ch.isdigit())
    if PHONE_QUERY_RE.match(q) and len(digits) >= 3:
        if digits.startswith("00"):
            digits = digits[2:]
        elif not q.lstrip().startswith("+") and digits.startswith("0") and len(digits) > 6:
            digits = digits.lstrip("0")    # a trunk prefix some people type
        return [digits]
    return [w for w in q.lower().split() if w][:8]


_FTS: dict[str, bool] = {}


def _uses_fts(session) -> bool:
    """Whether this SQLite database has the trigram index ``contacts_fts`` (migration 0010)."""
    bind = session.get_bind()
    if bind.dialect.name != "sqlite":
        return False
    key = str(bind.url)
    if key not in _FTS:
        _FTS[key] = bool(session.execute(text(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'contacts_fts'")).scalar())
    return _FTS[key]


FTS_MATERIALISE = 20000   # more matches than this: the term is so common that a scan is cheaper


def search_filter(q: str, session=None):
    """``(where clause, total or None)`` for ``q``: every term is a substring of
    ``Contact.search``.  On SQLite with the trigram index, terms of 3+ characters are looked up
    once in ``contacts_fts`` and the matching ids (up to FTS_MATERIALISE) go into the clause, so
    the page and the total need no second look-up; on PostgreSQL the pg_trgm index serves the
    plain LIKE."""
    terms = search_terms(q)
    if not terms:
        return None, None
    fts = session is not None and _uses_fts(session)
    indexed = [t for t in terms if fts and len(t) >= 3 and not set(t) & set("%_\\")]
    plain = [t for t in terms if t not in indexed]
    if indexed:
        col = literal_column("contacts_fts.search")
        sub = (select(literal_column("contacts_fts.rowid")).select_from(table("contacts_fts"))
               .where(and_(*[col.like(f"%{t}%") for t in indexed])).limit(FTS_MATERIALISE + 1))
        ids = [int(i) for i in session.scalars(sub)]
        if len(ids) > FTS_MATERIALISE:
            plain = terms       # nearly everyone matches: the ordered scan stops after one page
        else:
            likes = [Contact.search.like(f"%{_escape_like(t)}%", escape="\\") for t in plain]
            # integers from the database, rendered inline: no bound-parameter limit
            cond = and_(text(f"contacts.id IN ({','.join(map(str, ids)) or 'NULL'})"), *likes)
            return cond, (len(ids) if not plain else None)
    return and_(*[Contact.search.like(f"%{_escape_like(t)}%", escape="\\") for t in plain]), None


def search(session, q: str = "", sort: str = "last_name", page: int = 1, per_page: int = 25,
           count: bool = True) -> tuple[list[Contact], int | None]:
    """One page of contacts matching ``q`` and the total (None when ``count`` is False)."""
    from sqlalchemy.orm import selectinload

    cond, total = search_filter(q, session)
    stmt = select(Contact).options(selectinload(Contact.emails), selectinload(Contact.phones))
    if cond is not None:
        stmt = stmt.where(cond)
    stmt = stmt.order_by(*SORTS.get(sort, SORTS["last_name"]))
    rows = session.scalars(stmt.limit(per_page).offset((max(1, page) - 1) * per_page)).all()
    if count and total is None:
        cq = select(func.count(Contact.id))
        if cond is not None:
            cq = cq.where(cond)
        total = session.scalar(cq)
    return list(rows), (total if count else None)


# -- create / update --------------------------------------------------------------------------
@dataclass
class ContactData:
    first_name: str = ""
    last_name: str = ""
    organisation: str = ""
    address: str = ""
    note: str = ""
    emails: list[tuple[str, str]] = field(default_factory=list)   # (email, kind)
    phones: list[tuple[str, str]] = field(default_factory=list)   # (raw number, kind)
    custom: dict[str, str] = field(default_factory=dict)


def custom_fields(session, applies_to: str = "contact") -> list[CustomField]:
    return list(session.scalars(select(CustomField).where(CustomField.applies_to == applies_to)
                                .order_by(CustomField.position, CustomField.id)))


def validate(session, data: ContactData, region: str = "PL") -> dict:
    """Clean values ready to store, or :class:`ContactError`."""
    errors: dict[str, str] = {}
    clean: dict = {}
    for name, limit in TEXT_LIMITS.items():
        value = (getattr(data, name) or "").strip()
        if len(value) > limit:
            errors[name] = f"at most {limit} characters"
        clean[name] = value
    if not (clean["first_name"] or clean["last_name"] or clean["organisation"]):
        errors["first_name"] = "enter a first name, a last name or an organisation"
    emails, seen = [], set()
    for i, (email, kind) in enumerate(data.emails):
        email = (email or "").strip().lower()
        if not email:
            continue
        if len(email) > 254 or not EMAIL_RE.match(email):
            errors[f"email.{i}"] = "not a valid email address"
        elif email not in seen:
            seen.add(email)
            emails.append((email, kind if kind in EMAIL_KINDS else "work"))
    phones, seen = [], set()
    for i, (raw, kind) in enumerate(data.phones):
        if not (raw or "").strip():
            continue
        try:
            number = normalize_phone(raw, region)
        except PhoneProblem as exc:
            errors[f"phone.{i}"] = f"{raw.strip()} {exc}"
            continue
        if number not in seen:
            seen.add(number)
            phones.append((number, kind if kind in PHONE_KINDS else "mobile"))
    custom = {}
    fields = {f.key: f for f in custom_fields(session)}
    for key, value in (data.custom or {}).items():
        f = fields.get(key)
        if f is None:
            errors[f"custom.{key}"] = "no such custom field"
            continue
        value = (value or "").strip() if isinstance(value, str) else str(value or "")
        if len(value) > CUSTOM_LIMITS.get(f.kind, 500):
            errors[f"custom.{key}"] = f"at most {CUSTOM_LIMITS.get(f.kind, 500)} characters"
        if value:
            custom[key] = value
    if errors:
        raise ContactError(errors)
    clean.update(emails=emails, phones=phones, custom=custom)
    return clean


def apply(contact: Contact, clean: dict) -> Contact:
    for name in TEXT_LIMITS:
        setattr(contact, name, clean[name])
    contact.custom = dict(clean["custom"])
    contact.emails = [ContactEmail(email=e, kind=k, position=i) for i, (e, k) in enumerate(clean["emails"])]
    contact.phones = [ContactPhone(number=n, kind=k, position=i) for i, (n, k) in enumerate(clean["phones"])]
    refresh_search(contact)
    return contact


def refresh_search(contact: Contact) -> None:
    contact.search = haystack(contact.first_name, contact.last_name, contact.organisation,
                              [e.email for e in contact.emails], [p.number for p in contact.phones])


def create(session, data: ContactData, region: str = "PL", user_id: int | None = None) -> Contact:
    clean = validate(session, data, region)
    contact = apply(Contact(created_by=user_id), clean)
    session.add(contact)
    session.flush()
    return contact


def update(session, contact: Contact, data: ContactData, region: str = "PL") -> Contact:
    clean = validate(session, data, region)
    # keep custom values of fields not sent (e.g. a field added after the form was opened)
    keep = {k: v for k, v in (contact.custom or {}).items() if k not in (data.custom or {})}
    clean["custom"] = {**keep, **clean["custom"]}
    apply(contact, clean)
    session.flush()
    return contact


def delete_contact(session, contact: Contact) -> None:
    session.delete(contact)      # emails and phones go with it (cascade)
    session.flush()


# -- the voice side and the contact view -------------------------------------------------------
def find_by_phone(session, number: str, region: str = "PL") -> Contact | None:
    """The contact owning ``number`` (any format; matched in E.164), the oldest if several."""
    raw = (number or "").strip()
    e164 = phone_or_none(raw, region) or (raw if re.fullmatch(r"\+\d{3,15}", raw) else None)
    if not e164:
        return None
    return session.scalar(select(Contact).join(ContactPhone).where(ContactPhone.number == e164)
                          .order_by(Contact.id).limit(1))


def find_by_email(session, email: str) -> Contact | None:
    return session.scalar(select(Contact).join(ContactEmail)
                          .where(ContactEmail.email == (email or "").strip().lower())
                          .order_by(Contact.id).limit(1))


NOTE_LINE_LIMIT = 1000


def append_note(contact: Contact, text: str, stamp: str) -> str:
    """Add a line ``"{stamp} {text}"`` at the end of the contact's note (COM-4, the side panel's
    "Add a note").  :class:`ContactError` when the text is empty, longer than NOTE_LINE_LIMIT, or
    the note would pass its limit; nothing changes then."""
    line = " ".join((text or "").split())      # one line: newlines and runs of spaces collapse
    if not line:
        raise ContactError({"note": "empty"})
    if len(line) > NOTE_LINE_LIMIT:
        raise ContactError({"note": f"at most {NOTE_LINE_LIMIT} characters"})
    old = (contact.note or "").rstrip()
    note = f"{old}\n{stamp} {line}" if old else f"{stamp} {line}"
    if len(note) > TEXT_LIMITS["note"]:
        raise ContactError({"note": "full"})
    contact.note = note
    return note


def remote_keys(contact: Contact) -> set[str]:
    """The forms a communication's remote party takes for this contact: each phone as E.164,
    without the '+' and as national digits (carriers send any of them), and each email."""
    keys = {e.email for e in contact.emails}
    for p in contact.phones:
        keys |= {p.number, p.number.lstrip("+")}
        national = national_digits(p.number)
        if national:
            keys |= {national, "0" + national}
    return keys


def communications(session, contact: Contact, limit: int = 50) -> list[Communication]:
    """The contact's conversations, newest first: communications whose remote party is one of
    its phone numbers (in any form) or email addresses."""
    keys = sorted(remote_keys(contact))
    if not keys:
        return []
    return list(session.scalars(select(Communication).where(Communication.remote.in_(keys))
                                .order_by(Communication.started_at.desc()).limit(limit)))


def as_dict(c: Contact) -> dict:
    from .models import iso

    return {"id": c.id, "first_name": c.first_name, "last_name": c.last_name,
            "organisation": c.organisation, "address": c.address, "note": c.note,
            "emails": [{"email": e.email, "type": e.kind} for e in c.emails],
            "phones": [{"number": p.number, "type": p.kind} for p in c.phones],
            "custom": dict(c.custom or {}), "created_at": iso(c.created_at), "updated_at": iso(c.updated_at)}


def from_dict(data: dict) -> ContactData:
    """ContactData from the API's JSON (the shape of :func:`as_dict`)."""
    def pairs(items, key, kind_default):
        out = []
        for item in items or []:
            if isinstance(item, str):
                out.append((item, kind_default))
            elif isinstance(item, dict):
                out.append((str(item.get(key) or ""), str(item.get("type") or kind_default)))
            else:
                raise ContactError({key: "each item must be a string or an object"})
        return out

    custom = data.get("custom") or {}
    if not isinstance(custom, dict):
        raise ContactError({"custom": "must be an object"})
    return ContactData(**{k: str(data.get(k) or "") for k in TEXT_LIMITS},
                       emails=pairs(data.get("emails"), "email", "work"),
                       phones=pairs(data.get("phones"), "number", "mobile"),
                       custom={str(k): ("" if v is None else str(v)) for k, v in custom.items()})
