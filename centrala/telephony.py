"""Trunks and numbers (VOI-1, VOI-5, BEY-5): the one place that checks and stores them, shared by
Settings / Voice, the REST API and the ``centrala trunk``/``number`` commands.

Errors carry a code and the field they concern, plus an English message (the CLI and the API
print it); the panel shows its own translated text for the code.  Callers publish
``agents.events.SETTINGS_CHANGED`` with ``area="trunks"`` or ``"numbers"`` after committing, so
the pbx controller re-renders Asterisk's configuration at once.
"""
from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import func, select

from agents.inbound import HoursError, Schedule, is_open
from agents.numbers import to_e164

from .models import Number, Trunk
from .secretbox import of_session

KINDS = ("gsm", "tdm", "own")
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_HOST = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,62}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}[A-Za-z0-9])?)*$")
_CRED = re.compile(r"^[^\s;\[\]=\\\"']{1,128}$")   # nothing that could break out of pjsip.conf


class TelephonyError(ValueError):
    def __init__(self, field: str, code: str, message: str, **params):
        super().__init__(message)
        self.field, self.code, self.params = field, code, params


# -- trunks ------------------------------------------------------------------------------
def _valid_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return bool(_HOST.match(host))


def _check_trunk(s, trunk_id: int | None, name: str, host: str, port, username: str | None,
                 password: str | None) -> tuple[str, str, int, str | None]:
    name, host = str(name or "").strip(), str(host or "").strip()
    if not _NAME.match(name):
        raise TelephonyError("name", "name", "trunk name may contain letters, digits, '-' and '_' only")
    if not _valid_host(host):
        raise TelephonyError("host", "host", "host must be an IP address or a host name")
    try:
        port = int(str(port).strip())
    except ValueError:
        raise TelephonyError("port", "port", "port must be between 1 and 65535") from None
    if not 1 <= port <= 65535:
        raise TelephonyError("port", "port", "port must be between 1 and 65535")
    username = str(username or "").strip() or None
    password = None if password is None else str(password)
    if username and not _CRED.match(username):
        raise TelephonyError("username", "credential", "user name may not contain spaces, quotes or ;[]=\\")
    if password and not _CRED.match(password):
        raise TelephonyError("password", "credential", "password may not contain spaces, quotes or ;[]=\\")
    other = s.scalar(select(Trunk).where(Trunk.name == name, Trunk.id != (trunk_id or 0)))
    if other is not None:
        raise TelephonyError("name", "name_taken", f"trunk {name} already exists", name=name)
    other = s.scalar(select(Trunk).where(Trunk.host == host, Trunk.port == port, Trunk.id != (trunk_id or 0)))
    if other is not None:
        raise TelephonyError("host", "address_taken", f"another trunk already uses {host}:{port}",
                             address=f"{host}:{port}", other=other.name)
    return name, host, port, username


def _check_register(register, username: str | None, password: str | None) -> bool:
    """Registering at the carrier needs both credentials (a new or the stored password)."""
    register = bool(register)
    if register and not username:
        raise TelephonyError("username", "register_credentials", "registering at the carrier needs a user name and a password")
    if register and not password:
        raise TelephonyError("password", "register_credentials", "registering at the carrier needs a user name and a password")
    return register


def create_trunk(s, name: str, host: str, port=5060, username: str | None = None, password: str | None = None,
                 enabled: bool = True, register: bool = False) -> Trunk:
    """``register``: Centrala REGISTERs at ``host:port`` with the credentials, and calls coming
    over that registration are taken as this trunk's (as well as calls from its address)."""
    password = None if password is None else str(password)
    name, host, port, username = _check_trunk(s, None, name, host, port, username, password)
    if password and not username:
        raise TelephonyError("username", "username_needed", "a password needs a user name")
    register = _check_register(register, username, password)
    t = Trunk(name=name, host=host, port=port, username=username,
              password=of_session(s).seal(password or None) if username else None,
              enabled=bool(enabled), register=register, registration=None)
    s.add(t)
    s.flush()
    return t


def update_trunk(s, t: Trunk, *, name=None, host=None, port=None, username=..., password=..., enabled=None,
                 register=None) -> Trunk:
    """Change a trunk.  ``password``: ``...`` or "" keeps the stored one, None removes it; a trunk
    without a user name has no password.  ``register`` None keeps the switch as it is."""
    new_username = t.username if username is ... else username
    given = password if isinstance(password, str) and password else None   # a new password
    new_password = given or (None if password is None else t.password)
    name, host, port, new_username = _check_trunk(
        s, t.id, t.name if name is None else name, t.host if host is None else host,
        t.port if port is None else port, new_username, given)
    if not new_username:
        if given:
            raise TelephonyError("username", "username_needed", "a password needs a user name")
        new_password = None
    new_register = _check_register(t.register if register is None else register, new_username, new_password)
    box = of_session(s)
    password_changed = (new_password is None) != (t.password is None) or (
        given is not None and t.password is not None and box.open(t.password) != given)
    before = (t.host, t.port, t.username, bool(t.register), bool(t.enabled))
    if password_changed:   # stored encrypted; an unchanged one keeps its token
        t.password = box.seal(given) if given else None
    t.name, t.host, t.port, t.username = name, host, port, new_username
    t.register = new_register
    if enabled is not None:
        t.enabled = bool(enabled)
    if password_changed or before != (t.host, t.port, t.username, bool(t.register), bool(t.enabled)):
        t.registration = None   # the old state says nothing about the new registration
    s.flush()
    return t


def numbers_on(s, t: Trunk) -> int:
    return s.scalar(select(func.count()).select_from(Number).where(Number.trunk_id == t.id)) or 0


def delete_trunk(s, t: Trunk) -> None:
    """Refused while numbers use the trunk: they would go with it."""
    n = numbers_on(s, t)
    if n:
        raise TelephonyError("trunk", "trunk_in_use", f"trunk {t.name} has {n} number(s); delete or move them first",
                             name=t.name, count=n)
    s.delete(t)
    s.flush()


def trunk_by_name(s, name: str) -> Trunk | None:
    return s.scalar(select(Trunk).where(Trunk.name == (name or "").strip()))


REGISTRATION_STATES = ("registered", "rejected", "unregistered", "stopped")


def registration_state(t: Trunk) -> str | None:
    """None when the trunk does not register (or is disabled, hence not in Asterisk); otherwise
    the state the pbx controller last saw, "unregistered" until it has seen one."""
    if not (t.register and t.enabled):
        return None
    return t.registration if t.registration in REGISTRATION_STATES else "unregistered"


def store_registrations(db, states: dict[str, str]) -> list[str]:
    """The pbx controller's view of outbound registrations (trunk name -> Asterisk's status,
    e.g. "Registered", "Rejected", "Unregistered") written to the trunks; a registering trunk
    Asterisk does not list (yet) is "unregistered".  Returns the names whose state changed."""
    changed = []
    with db.session() as s:
        for t in s.scalars(select(Trunk)):
            state = None
            if t.register and t.enabled:
                state = str(states.get(t.name) or "unregistered").lower()
                state = state if state in REGISTRATION_STATES else "unregistered"
            if t.registration != state:
                t.registration = state
                changed.append(t.name)
    return changed


def trunk_json(t: Trunk, numbers: int | None = None) -> dict:
    """Never the password: only whether one is set."""
    out = {"id": t.id, "name": t.name, "host": t.host, "port": t.port, "username": t.username,
           "has_password": bool(t.password), "enabled": bool(t.enabled), "register": bool(t.register),
           "registration": registration_state(t)}
    if numbers is not None:
        out["numbers"] = numbers
    return out


# -- numbers -----------------------------------------------------------------------------
def _hours(raw):
    if raw is None:
        return None
    try:
        return Schedule.parse(raw).to_json()
    except HoursError as exc:
        messages = {"bad_time": "times are HH:MM, 00:00 to 24:00",
                    "close_before_open": "closing time must be after opening time",
                    "bad_shape": "hours: null, or an object mapping mon..sun to null or [open, close]"}
        raise TelephonyError("hours", exc.code, messages.get(exc.code, str(exc)) + (f" ({exc.day})" if exc.day else ""),
                             day=exc.day) from None


def _trunk_for(s, trunk) -> Trunk:
    if isinstance(trunk, Trunk):
        return trunk
    t = None
    if isinstance(trunk, int) or (isinstance(trunk, str) and trunk.isdigit()):
        t = s.get(Trunk, int(trunk))
    if t is None and isinstance(trunk, str):
        t = trunk_by_name(s, trunk)
    if t is None:
        raise TelephonyError("trunk", "no_trunk", f"no trunk {trunk}; add it first", trunk=str(trunk))
    return t


def _check_number(s, number_id: int | None, value: str, region: str) -> str:
    e164 = to_e164(str(value or ""), region)
    if e164 is None:
        raise TelephonyError("number", "number", f"{value!r} is not a valid phone number (region {region})",
                             value=value, region=region)
    if s.scalar(select(Number).where(Number.number == e164, Number.id != (number_id or 0))):
        raise TelephonyError("number", "number_taken", f"{e164} is already in the pool", number=e164)
    return e164


def _kind(kind: str) -> str:
    if kind not in KINDS:
        raise TelephonyError("kind", "kind", "kind is gsm, tdm or own")
    return kind


def create_number(s, value: str, trunk, *, region: str = "PL", kind: str = "gsm", label: str = "",
                  enabled: bool = True, record_calls: bool | None = None, hours: dict | None = None) -> Number:
    """``record_calls``: None follows the account setting.  ``hours``: None is always open."""
    e164 = _check_number(s, None, value, region)
    t = _trunk_for(s, trunk)
    n = Number(number=e164, trunk_id=t.id, kind=_kind(kind), label=str(label or "").strip()[:100],
               enabled=bool(enabled), record_calls=record_calls, hours=_hours(hours))
    s.add(n)
    s.flush()
    return n


def update_number(s, n: Number, *, region: str = "PL", number=None, trunk=None, kind=None, label=None,
                  enabled=None, record_calls=..., hours=...) -> Number:
    if number is not None:
        n.number = _check_number(s, n.id, number, region)
    if trunk is not None:
        n.trunk_id = _trunk_for(s, trunk).id
    if kind is not None:
        n.kind = _kind(kind)
    if label is not None:
        n.label = str(label).strip()[:100]
    if enabled is not None:
        n.enabled = bool(enabled)
    if record_calls is not ...:
        n.record_calls = record_calls
    if hours is not ...:
        n.hours = _hours(hours)
    s.flush()
    return n


def number_json(n: Number, trunk_name: str | None = None) -> dict:
    return {"id": n.id, "number": n.number, "trunk_id": n.trunk_id, "trunk": trunk_name, "kind": n.kind,
            "label": n.label, "enabled": bool(n.enabled), "record_calls": n.record_calls, "hours": n.hours}


# -- inbound policy (read by the pbx controller for every call) ---------------------------
@dataclass(frozen=True)
class InboundNumber:
    accepted: bool            # one of our numbers (or the pool is empty)
    e164: str | None
    open_now: bool            # within the number's business hours
    record: bool | None       # the number's own recording switch; None: the account's
    inbound_enabled: bool     # the account-wide inbound voice channel (VOI-6)


@dataclass(frozen=True)
class InboundPolicy:
    """The account's inbound settings and the enabled numbers, as read from the database; the
    pbx controller keeps one in memory between changes."""
    timezone: str
    inbound_enabled: bool
    pool: tuple   # (e164, hours, record_calls) of every enabled number
    region: str = "PL"   # numbers without a country code (Settings / General, CON-4)


def inbound_policy(db, settings) -> InboundPolicy:
    from agents.numbers import valid_region

    from .account import saved

    with db.session() as s:
        account = saved(s)
        region = account.get("default_region")
        region = region if valid_region(region) else (settings.default_region or "PL")
        tz = account.get("timezone") or settings.timezone
        inbound = account.get("voice_inbound")
        inbound = settings.voice_inbound if inbound is None else bool(inbound)
        pool = tuple(tuple(r) for r in s.execute(
            select(Number.number, Number.hours, Number.record_calls).where(Number.enabled.is_(True))))
    return InboundPolicy(tz, inbound, pool, region)


def decide_number(policy: InboundPolicy, dialled: str, now: datetime | None = None) -> InboundNumber:
    """Everything the inbound flow needs to know about the dialled number (no database); a number
    without a country code is read in the policy's region."""
    e164 = to_e164(dialled, policy.region)
    now = now or datetime.now(timezone.utc)
    if not policy.pool:
        return InboundNumber(True, e164, True, None, policy.inbound_enabled)
    for number, hours, record in policy.pool:
        if number == e164:
            return InboundNumber(True, e164, is_open(hours, now, policy.timezone), record, policy.inbound_enabled)
    return InboundNumber(False, e164, True, None, policy.inbound_enabled)


def inbound_number(db, settings, dialled: str, now: datetime | None = None) -> InboundNumber:
    """Everything the inbound flow needs to know about the dialled number, in one session."""
    return decide_number(inbound_policy(db, settings), dialled, now)

