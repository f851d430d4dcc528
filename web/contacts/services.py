"""Glue between the contacts domain (centrala.contacts, contact_import) and the web layer:
form parsing and translated messages."""
from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from centrala.contacts import ContactData
from centrala.models_contacts import EMAIL_KINDS, PHONE_KINDS

EMAIL_KIND_LABELS = {"work": _l("Work"), "home": _l("Home"), "other": _l("Other")}
PHONE_KIND_LABELS = {"mobile": _l("Mobile"), "work": _l("Work"), "home": _l("Home"), "fax": _l("Fax"),
                     "other": _l("Other")}
SORT_LABELS = {"last_name": _l("Last name"), "first_name": _l("First name"),
               "organisation": _l("Organisation"), "created": _l("Newest")}
FIELD_LABELS = {
    "first_name": _l("First name"), "last_name": _l("Last name"), "organisation": _l("Organisation"),
    "address": _l("Address"), "note": _l("Note"), "email": _l("Email"), "email_type": _l("Email type"),
    "phone": _l("Phone"), "phone_type": _l("Phone type"),
}
OUTCOME_LABELS = {"answered": _l("Answered"), "missed": _l("Missed"), "abandoned": _l("Abandoned"),
                  "voicemail": _l("Voicemail"), "failed": _l("Failed"), "interrupted": _l("Interrupted"),
                  "in_progress": _l("In progress")}
STATUS_LABELS = {"uploaded": _l("To configure"), "verifying": _l("Verifying…"), "verified": _l("Verified"),
                 "importing": _l("Importing…"), "done": _l("Imported"), "failed": _l("Failed")}


def form_data(form, custom_fields) -> ContactData:
    def pairs(prefix, kinds, default):
        out = []
        i = 0
        while f"{prefix}_{i}" in form and i < 50:
            kind = form.get(f"{prefix}_type_{i}", default)
            out.append((form.get(f"{prefix}_{i}", ""), kind if kind in kinds else default))
            i += 1
        return out

    return ContactData(
        first_name=form.get("first_name", ""), last_name=form.get("last_name", ""),
        organisation=form.get("organisation", ""), address=form.get("address", ""), note=form.get("note", ""),
        emails=pairs("email", EMAIL_KINDS, "work"), phones=pairs("phone", PHONE_KINDS, "mobile"),
        custom={f.key: form.get(f"custom_{f.key}", "") for f in custom_fields})


def form_errors(errors: dict) -> dict:
    """Translated messages for the form, by input name."""
    out = {}
    for key, raw in errors.items():
        if key == "first_name" and "enter" in raw:
            out["first_name"] = _("Enter a first name, a last name or an organisation.")
        elif key.startswith("email."):
            out["email_" + key.split(".")[1]] = _("Enter a valid email address.")
        elif key.startswith("phone."):
            if "'+'" in raw or "scientific" in raw:
                out["phone_" + key.split(".")[1]] = _("This number lost its leading +. Enter it with the country code, e.g. +48 601 234 567.")
            else:
                out["phone_" + key.split(".")[1]] = _("Enter a valid phone number, e.g. +48 601 234 567.")
        elif key.startswith("custom."):
            out["custom_" + key[7:]] = _("This text is too long.")
        else:
            out[key] = _("This text is too long.")
    return out


def import_error_text(err: dict, custom_names: dict) -> str:
    """One line of the error report in the panel's language (the manual's wording)."""
    field = err.get("field", "")
    label = str(FIELD_LABELS.get(field, custom_names.get(field, field)))
    if err.get("slot"):
        label += f" {err['slot']}"
    code, value = err.get("code"), err.get("value", "")
    if code == "name_required":
        text = _("a first name, last name or organisation is required")
    elif code == "format_email":
        text = _('%(field)s should match format "email" (%(value)s)', field=label, value=value)
    elif code == "lost_plus":
        text = _('%(field)s should match format "phone": %(value)s lost its leading "+". A spreadsheet '
                 'formatted the column as a number; format phone columns as Text.', field=label, value=value)
    elif code == "format_phone":
        text = _('%(field)s should match format "phone" (%(value)s)', field=label, value=value)
    elif code == "too_long":
        text = _("%(field)s is too long (at most %(n)d characters)", field=label, n=err.get("limit", 0))
    else:
        text = str(code)
    return _("Record %(n)d: %(text)s", n=err.get("record", 0), text=text)


def import_problem_text(exc) -> str:
    code = getattr(exc, "code", "")
    if code == "too_large":
        return _("The file is larger than %(n)d MB. Split it into smaller files.", n=exc.params.get("limit_mb", 10))
    if code == "empty":
        return _("The file is empty.")
    if code == "binary":
        return _("This is not a CSV text file.")
    if code == "encoding":
        return _("UTF-16 files are not supported: save the file as CSV in UTF-8.")
    if code == "busy":
        return _("The import is running; wait until it finishes.")
    if code == "done":
        return _("This file has already been imported.")
    if code == "running":
        return _("This import is running and cannot be deleted now. Delete it once it has finished.")
    if code == "not_found":
        return _("This import no longer exists.")
    return str(exc)
