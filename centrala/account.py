"""Account-wide settings administrators change in the panel (Settings / Voice / General).

The environment (``CENTRALA_*``) gives the defaults; a value saved in the panel wins.  Both
web and the pbx controller read them through :func:`effective`.
"""
from __future__ import annotations

import dataclasses

from sqlalchemy import select

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


class SettingError(ValueError):
    def __init__(self, key: str, message: str):
        super().__init__(message)
        self.key = key


def saved(session) -> dict:
    return {row.key: row.value for row in session.scalars(select(AccountSetting))}


def effective(settings: Settings, db) -> Settings:
    with db.session() as s:
        values = {k: v for k, v in saved(s).items() if k in VOICE and v is not None}
    return dataclasses.replace(settings, **values) if values else settings


def validate(key: str, raw) -> object:
    kind, low, high = VOICE[key]
    if kind is bool:
        return str(raw).lower() in {"1", "true", "on", "yes"}
    if kind is str:  # the only text setting is the time zone
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
    clean = {k: validate(k, v) for k, v in values.items() if k in VOICE}
    current = saved(session)
    changed = {k: v for k, v in clean.items() if current.get(k) != v}
    for key, value in changed.items():
        row = session.get(AccountSetting, key)
        if row is None:
            session.add(AccountSetting(key=key, value=value))
        else:
            row.value = value
    return changed
