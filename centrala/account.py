"""Account-wide settings administrators change in the panel (Settings / Voice / General, and the
default phone region in Settings / General).

The environment (``CENTRALA_*``) gives the defaults; a value saved in the panel wins.  Both
web and the pbx controller read them through :func:`effective` (or :func:`default_region`).
"""
from __future__ import annotations

import dataclasses

from sqlalchemy import select

from agents.numbers import valid_region

from .config import Settings
from .models import AccountSetting

# key -> (type, minimum, maximum)
VOICE = {
    "ring_timeout": (int, 5, 300),
    "wrapup_seconds": (int, 0, 600),
    "voicemail_max_seconds": (int, 10, 600),
    "record_calls": (bool, None, None),
    "voice_inbound": (bool, None, None),      # VOI-6
    "voice_outbound": (bool, None, None),     # VOI-6
    "timezone": (str, None, None),            # BEY-5: business hours are read in this zone
}
# Settings / General
GENERAL = {
    "default_region": (str, None, None),      # CON-4: numbers without a country code are read in it
}
KEYS = {**VOICE, **GENERAL}


class SettingError(ValueError):
    def __init__(self, key: str, message: str):
        super().__init__(message)
        self.key = key


def saved(session) -> dict:
    return {row.key: row.value for row in session.scalars(select(AccountSetting))}


def effective(settings: Settings, db) -> Settings:
    with db.session() as s:
        values = {k: v for k, v in saved(s).items() if k in KEYS and v is not None}
    if "default_region" in values and not valid_region(values["default_region"]):
        del values["default_region"]
    return dataclasses.replace(settings, **values) if values else settings


def default_region(session, settings: Settings) -> str:
    """The region numbers without a country code are read in: the one saved in Settings /
    General, else ``CENTRALA_DEFAULT_REGION`` (PL).  Read on every use (one primary-key row), so a
    change applies at once in every process."""
    value = session.scalar(select(AccountSetting.value).where(AccountSetting.key == "default_region"))
    return value if valid_region(value) else (settings.default_region or "PL")


def validate(key: str, raw) -> object:
    kind, low, high = KEYS[key]
    if kind is bool:
        return str(raw).lower() in {"1", "true", "on", "yes"}
    if key == "default_region":
        value = str(raw or "").strip().upper()
        if not valid_region(value):
            raise SettingError(key, "not a region phone numbers can be read in")
        return value
    if kind is str:  # the time zone
        from agents.inbound import valid_timezone

        value = str(raw or "").strip()
        if not valid_timezone(value):
            raise SettingError(key, "not a known time zone")
        return value
    try:
        value = int(str(raw).strip())
    except ValueError:
        raise SettingError(key, "not a whole number") from None
    if not low <= value <= high:
        raise SettingError(key, f"between {low} and {high}")
    return value


def save(session, values: dict) -> dict:
    """Validate and store; return the keys whose value changed."""
    clean = {k: validate(k, v) for k, v in values.items() if k in KEYS}
    current = saved(session)
    changed = {k: v for k, v in clean.items() if current.get(k) != v}
    for key, value in changed.items():
        row = session.get(AccountSetting, key)
        if row is None:
            session.add(AccountSetting(key=key, value=value))
        else:
            row.value = value
    return changed
