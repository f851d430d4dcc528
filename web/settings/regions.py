"""The default phone region (CON-4) as administrators pick it in Settings / General: every
region phonenumbers can read national numbers in, named in the panel's language (babel's
territory names) with its calling code."""
from __future__ import annotations

import unicodedata

import phonenumbers
from babel import Locale
from flask_babel import get_locale


def _sort_key(name: str) -> str:
    """Close to alphabetical for people: accents do not push Ł, Ś or Ö to the end."""
    plain = unicodedata.normalize("NFKD", name.casefold()).replace("ł", "l")
    return "".join(ch for ch in plain if not unicodedata.combining(ch))


def name(code: str, locale=None) -> str:
    loc = Locale.parse(str(locale or get_locale() or "en"))
    return loc.territories.get(code) or code


def label(code: str, locale=None) -> str:
    """``Niemcy (+49)`` / ``Germany (+49)``."""
    return f"{name(code, locale)} (+{phonenumbers.country_code_for_region(code)})"


def choices(locale=None) -> list[tuple[str, str]]:
    """``[(code, label)]`` of every supported region, by name in the given (or the UI) language."""
    loc = Locale.parse(str(locale or get_locale() or "en"))
    rows = [(code, loc.territories.get(code) or code) for code in phonenumbers.SUPPORTED_REGIONS]
    rows.sort(key=lambda r: (_sort_key(r[1]), r[0]))
    return [(code, f"{n} (+{phonenumbers.country_code_for_region(code)})") for code, n in rows]
