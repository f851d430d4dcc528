"""Mailboxes (SET-2, ACC-6): the use cases behind Settings / Email, My profile and
``/api/v1/mailboxes`` — list, create, update, delete, with every refused field reported at once.

* The password is write-only: sealed with the data dir's key (``centrala.secretbox``) where it is
  written, never serialised; an update without a password keeps the stored one.
* A personal mailbox belongs to one active user (``user_id``) and has no agents; a user has at most
  one.  A shared mailbox is served by the agents in ``agent_ids`` (``mailbox_agents``).
* Other parts call ``endpoint(...)`` (a ready ``connect.Endpoint``, password opened) and
  ``agents_of(...)`` (who gets the mailbox's mail).
* After a committed change the adapter calls ``announce(bus, …)``: ``settings.changed`` with
  ``area="email"``, ``mailbox_id`` and ``action`` (created | changed | deleted), so the mail worker
  reconnects with the new settings (or drops the mailbox) at once.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

from sqlalchemy import delete, select

from agents import events
from centrala.contacts import EMAIL_RE
from centrala.models import User
from centrala.models_email import (CONNECTING, DISABLED, PERSONAL, SECURITY, SHARED, Mailbox,
                                   MailboxAgent)
from centrala.secretbox import of_session
from centrala.telephony import _valid_host

from . import oauth
from .connect import Endpoint, MailConnectError
from .rich_text import clean_html

KINDS = (SHARED, PERSONAL)
MAX_LABEL = 100
MAX_ADDRESS = 254
MAX_HOST = 255
DEFAULT_PORTS = {"imap": {"ssl": 993, "starttls": 143, "none": 143},
                 "smtp": {"ssl": 465, "starttls": 587, "none": 25}}
# the settings whose change makes the worker reconnect (label, agents, signature do not)
CONNECTION_FIELDS = ("address", "username", "imap_host", "imap_port", "imap_security", "smtp_host",
                     "smtp_port", "smtp_security", "enabled")
AUTHS = ("password", "oauth2")
FIELDS = ("kind", "label", "address", "username", "password", "imap_host", "imap_port", "imap_security",
          "smtp_host", "smtp_port", "smtp_security", "enabled", "user_id", "agent_ids", "signature", "auth",
          *oauth.CONFIG_FIELDS)

# English texts of the problems; the web adapters translate them by code (web/emails/texts.py)
PROBLEMS = {
    "required": "This field is required.",
    "too_long": "At most {max} characters.",
    "address": "Enter an email address such as office@example.com.",
    "host": "Enter a host name or an IP address.",
    "port": "Enter a port between 1 and 65535.",
    "security": "Choose SSL/TLS, STARTTLS or none.",
    "kind": "Choose shared or personal.",
    "password_required": "Enter the mailbox's password.",
    "owner_required": "A personal mailbox needs its owner (user_id).",
    "owner_unknown": "There is no active user with this id.",
    "owner_taken": "This user already has a personal mailbox.",
    "no_agents_personal": "A personal mailbox is served by its owner only: leave agent_ids empty.",
    "no_owner_shared": "A shared mailbox has no owner: leave user_id empty.",
    "agent_unknown": "No active user with id {ids}.",
    "not_a_list": "Send a list of user ids.",
    "auth": "Choose password or OAuth2.",
    "oauth_url": "Enter an https:// address.",
    "oauth_save_first": "Save the mailbox and sign in with the provider first.",
}


@dataclass
class Problem:
    code: str
    params: dict = field(default_factory=dict)

    @property
    def message(self) -> str:
        return PROBLEMS[self.code].format(**self.params)


class MailboxInvalid(ValueError):
    """Every refused field at once: ``problems`` = {field: Problem}."""

    def __init__(self, problems: dict[str, Problem]):
        self.problems = problems
        super().__init__("; ".join(f"{f}: {p.message}" for f, p in problems.items()))

    @property
    def field(self) -> str:
        return next(iter(self.problems))


# -- reading -------------------------------------------------------------------------------------
def listing(s) -> list[Mailbox]:
    return list(s.scalars(select(Mailbox).order_by(Mailbox.kind.desc(), Mailbox.label, Mailbox.id)))


def personal_of(s, user_id: int) -> Mailbox | None:
    """The user's personal mailbox (ACC-6), if any."""
    return s.scalars(select(Mailbox).where(Mailbox.kind == PERSONAL, Mailbox.user_id == user_id)).first()


def agent_ids(s, mailbox: Mailbox) -> list[int]:
    """The agents assigned to a shared mailbox (as stored, active or not)."""
    return sorted(s.scalars(select(MailboxAgent.user_id).where(MailboxAgent.mailbox_id == mailbox.id)))


def agents_of(s, mailbox: Mailbox) -> list[int]:
    """Who gets this mailbox's mail: a shared one's active agents, a personal one's owner."""
    if mailbox.kind == PERSONAL:
        return [mailbox.user_id] if mailbox.user_id is not None else []
    return sorted(s.scalars(select(MailboxAgent.user_id).join(User, User.id == MailboxAgent.user_id)
                            .where(MailboxAgent.mailbox_id == mailbox.id, User.active.is_(True))))


def usable_by(s, user_id: int) -> list[Mailbox]:
    """The mailboxes a user may write from: the shared ones they serve and their own."""
    served = select(MailboxAgent.mailbox_id).where(MailboxAgent.user_id == user_id)
    return list(s.scalars(select(Mailbox).where(
        ((Mailbox.kind == SHARED) & Mailbox.id.in_(served)) | ((Mailbox.kind == PERSONAL) & (Mailbox.user_id == user_id)))
        .order_by(Mailbox.kind.desc(), Mailbox.label)))


def to_json(s, mailbox: Mailbox) -> dict:
    """The mailbox as the API and the pages show it: never the password (``has_password`` only)."""
    m = mailbox
    return {"id": m.id, "kind": m.kind, "label": m.label, "address": m.address, "username": m.username,
            "has_password": m.password_sealed is not None, "auth": m.auth,
            "imap_host": m.imap_host, "imap_port": m.imap_port, "imap_security": m.imap_security,
            "smtp_host": m.smtp_host, "smtp_port": m.smtp_port, "smtp_security": m.smtp_security,
            "enabled": bool(m.enabled), "user_id": m.user_id,
            "agent_ids": agent_ids(s, m) if m.kind == SHARED else [],
            "signature": m.signature or "", "state": m.state, "last_error": m.last_error or "",
            "state_at": _iso(m.state_at), **oauth.public(s, m)}


def _iso(at: datetime | None) -> str | None:
    if at is None:
        return None
    return (at if at.tzinfo else at.replace(tzinfo=timezone.utc)).isoformat()


# -- the endpoint other parts connect with -------------------------------------------------------------
def endpoint(s, mailbox: Mailbox, which: str = "imap", settings=None) -> Endpoint:
    """How to reach the mailbox's IMAP (``which="imap"``) or SMTP server, password opened.

    An OAuth2 mailbox gets a valid access token (refreshed when due).  A refused refresh sets the
    mailbox to ``reconnect`` and raises ``MailConnectError("auth")``; commit the session after
    calling this (refreshed tokens, or that state)."""
    if which not in ("imap", "smtp"):
        raise ValueError(f"which must be imap or smtp, not {which!r}")
    token = oauth.access_token(s, mailbox) if mailbox.auth == "oauth2" else ""
    password = "" if token else (of_session(s).open(mailbox.password_sealed) or "")
    return Endpoint(host=getattr(mailbox, f"{which}_host"), port=getattr(mailbox, f"{which}_port"),
                    security=getattr(mailbox, f"{which}_security"), username=mailbox.username or mailbox.address,
                    password=password, oauth_token=token, ca_file=getattr(settings, "mail_ca_file", "") or "")


def endpoint_of_values(s, values: dict, which: str, settings=None, mailbox: Mailbox | None = None) -> Endpoint:
    """An endpoint from a form's unsaved values (Test connection before saving): an empty password
    uses the stored one of ``mailbox`` (never shown to the form)."""
    clean = check(s, values, mailbox, partial=mailbox is not None, need_password=False, scope=which)
    auth = values.get("auth") or (mailbox.auth if mailbox is not None else "password")
    token = ""
    if auth == "oauth2":
        if mailbox is None or not oauth.public(s, mailbox)["oauth_signed_in"]:
            raise MailboxInvalid({"auth": Problem("oauth_save_first")})
        token = oauth.access_token(s, mailbox)
    password = "" if token else (values.get("password") or "")
    if not token and not password and mailbox is not None and mailbox.password_sealed:
        password = of_session(s).open(mailbox.password_sealed) or ""
    pick = lambda name: clean.get(name, getattr(mailbox, name, None))  # noqa: E731
    return Endpoint(host=pick(f"{which}_host"), port=pick(f"{which}_port"), security=pick(f"{which}_security"),
                    username=pick("username") or pick("address") or "", password=password, oauth_token=token,
                    ca_file=getattr(settings, "mail_ca_file", "") or "")


# -- validation ----------------------------------------------------------------------------------
def _text(values, name, problems, required=True, max_len=MAX_LABEL) -> str | None:
    v = values.get(name)
    v = "" if v is None else str(v).strip()
    if not v:
        if required:
            problems[name] = Problem("required")
        return v
    if len(v) > max_len:
        problems[name] = Problem("too_long", {"max": max_len})
    return v


def _port(value, name, problems) -> int | None:
    try:
        port = int(str(value).strip()) if not isinstance(value, bool) else None
    except (TypeError, ValueError):
        port = None
    if port is None or not 1 <= port <= 65535:
        problems[name] = Problem("port")
        return None
    return port


def _ids(value, name, problems) -> list[int]:
    if value is None:
        return []
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        problems[name] = Problem("not_a_list")
        return []
    out = []
    for v in value:
        try:
            out.append(int(v))
        except (TypeError, ValueError):
            problems[name] = Problem("not_a_list")
            return []
    return sorted(set(out))


def _active_users(s, ids) -> set[int]:
    if not ids:
        return set()
    return set(s.scalars(select(User.id).where(User.id.in_(ids), User.active.is_(True))))


def check(s, values: dict, mailbox: Mailbox | None = None, *, partial: bool = False, need_password: bool = True,
          scope: str = "all") -> dict:
    """The cleaned values of ``values`` (only the fields given when ``partial``), or ``MailboxInvalid``.

    ``scope`` "imap"/"smtp" checks only what a connection test of that side needs."""
    problems: dict[str, Problem] = {}
    out: dict = {}
    given = (lambda n: n in values) if partial else (lambda n: True)  # noqa: E731
    sides = ("imap", "smtp") if scope == "all" else (scope,)
    if scope == "all":
        if given("kind"):
            kind = values.get("kind") or SHARED
            if kind not in KINDS:
                problems["kind"] = Problem("kind")
            out["kind"] = kind
        if given("label"):
            out["label"] = _text(values, "label", problems)
    if given("address"):
        address = _text(values, "address", problems, required=scope == "all", max_len=MAX_ADDRESS)
        if address and "address" not in problems and not EMAIL_RE.match(address):
            problems["address"] = Problem("address")
        out["address"] = address
    if given("username"):
        out["username"] = _text(values, "username", problems, required=False, max_len=MAX_ADDRESS)
    for side in sides:
        if given(f"{side}_host"):
            host = _text(values, f"{side}_host", problems, max_len=MAX_HOST)
            if host and f"{side}_host" not in problems and not _valid_host(host):
                problems[f"{side}_host"] = Problem("host")
            out[f"{side}_host"] = host
        if given(f"{side}_security"):
            security = values.get(f"{side}_security") or "ssl"
            if security not in SECURITY:
                problems[f"{side}_security"] = Problem("security")
            out[f"{side}_security"] = security
        if given(f"{side}_port"):
            port = values.get(f"{side}_port")
            if port in (None, "") and not partial:
                port = DEFAULT_PORTS[side].get(out.get(f"{side}_security"), DEFAULT_PORTS[side]["ssl"])
            out[f"{side}_port"] = _port(port, f"{side}_port", problems)
    if scope != "all":
        if problems:
            raise MailboxInvalid(problems)
        return out
    if given("enabled"):
        out["enabled"] = values.get("enabled", True) not in (False, "0", "false", "off", None)
    if "signature" in values:
        out["signature"] = clean_html(values.get("signature") or "")
    if given("auth"):
        out["auth"] = values.get("auth") or "password"
        if out["auth"] not in AUTHS:
            problems["auth"] = Problem("auth")
    auth = out.get("auth", mailbox.auth if mailbox is not None else "password")
    password = values.get("password")
    if password not in (None, ""):
        out["password"] = str(password)
    elif need_password and auth == "password" and (
            mailbox is None or (mailbox.auth != "password" and not mailbox.password_sealed)):   # new, or leaving OAuth2
        problems["password"] = Problem("password_required")
    if auth == "oauth2" and (mailbox is None or mailbox.auth != "oauth2" or any(f in values for f in oauth.CONFIG_FIELDS)):
        out["oauth"] = oauth.clean_config(values, oauth.data_of(s, mailbox) if mailbox is not None else {}, problems,
                                          Problem)
    # the owner and the agents depend on the kind (the stored one when it is not sent)
    kind = out.get("kind", mailbox.kind if mailbox is not None else SHARED)
    user_id = values.get("user_id") if "user_id" in values else (mailbox.user_id if mailbox is not None else None)
    ids = _ids(values.get("agent_ids"), "agent_ids", problems) if "agent_ids" in values else None
    if kind == PERSONAL:
        if ids:
            problems["agent_ids"] = Problem("no_agents_personal")
        if user_id in (None, ""):
            problems["user_id"] = Problem("owner_required")
        else:
            try:
                user_id = int(user_id)
            except (TypeError, ValueError):
                user_id = None
            if user_id is None or not _active_users(s, [user_id]):
                problems["user_id"] = Problem("owner_unknown")
            else:
                other = personal_of(s, user_id)
                if other is not None and (mailbox is None or other.id != mailbox.id):
                    problems["user_id"] = Problem("owner_taken")
        out["user_id"], out["agent_ids"] = user_id, []
    else:
        if "user_id" in values and values.get("user_id") not in (None, ""):
            problems["user_id"] = Problem("no_owner_shared")
        out["user_id"] = None
        if ids is not None:
            missing = sorted(set(ids) - _active_users(s, ids))
            if missing and "agent_ids" not in problems:
                problems["agent_ids"] = Problem("agent_unknown", {"ids": ", ".join(map(str, missing))})
            out["agent_ids"] = ids
    if problems:
        raise MailboxInvalid(problems)
    return out


# -- writing -------------------------------------------------------------------------------------
def create(s, values: dict) -> Mailbox:
    """A new mailbox from ``values`` (the fields of FIELDS); raises ``MailboxInvalid``."""
    clean = check(s, values)
    m = Mailbox(kind=clean["kind"], label=clean["label"], address=clean["address"],
                username=clean.get("username") or clean["address"],
                password_sealed=of_session(s).seal(clean.get("password")), auth=clean.get("auth", "password"),
                imap_host=clean["imap_host"], imap_port=clean["imap_port"], imap_security=clean["imap_security"],
                smtp_host=clean["smtp_host"], smtp_port=clean["smtp_port"], smtp_security=clean["smtp_security"],
                enabled=clean.get("enabled", True), user_id=clean["user_id"], signature=clean.get("signature", ""),
                state=CONNECTING if clean.get("enabled", True) else DISABLED, last_error="",
                state_at=datetime.now(timezone.utc))
    if "oauth" in clean:
        oauth.apply_config(s, m, clean["oauth"])
    s.add(m)
    s.flush()
    _set_agents(s, m, clean.get("agent_ids") or [])
    return m


def update(s, mailbox: Mailbox, values: dict) -> list[str]:
    """Change the fields given in ``values``; a missing or empty password keeps the stored one.
    Returns the names of the fields that changed (``password`` included, never its value)."""
    clean = check(s, values, mailbox, partial=True)
    m = mailbox
    changed = []
    box = of_session(s)
    if "password" in clean and box.open(m.password_sealed) != clean["password"]:
        m.password_sealed = box.seal(clean["password"])
        changed.append("password")
    if "username" in clean and not clean["username"]:
        clean["username"] = clean.get("address") or m.address
    if "oauth" in clean and oauth.apply_config(s, m, clean["oauth"]):
        changed.append("oauth")
    for name in ("kind", "label", "address", "username", "auth", "imap_host", "imap_port", "imap_security", "smtp_host",
                 "smtp_port", "smtp_security", "enabled", "user_id", "signature"):
        if name in clean and getattr(m, name) != clean[name]:
            setattr(m, name, clean[name])
            changed.append(name)
    if m.kind == PERSONAL:
        if agent_ids(s, m):
            _set_agents(s, m, [])
            changed.append("agent_ids")
    elif "agent_ids" in clean and clean["agent_ids"] != agent_ids(s, m):
        _set_agents(s, m, clean["agent_ids"])
        changed.append("agent_ids")
    if reconnects(changed):   # the old state says nothing about the new settings
        m.state, m.last_error = (CONNECTING if m.enabled else DISABLED), ""
        m.state_at = datetime.now(timezone.utc)
    s.flush()
    return changed


def reconnects(changed) -> bool:
    return any(n in changed for n in (*CONNECTION_FIELDS, "password", "auth", "oauth"))


def remove(s, mailbox: Mailbox) -> None:
    """Delete a mailbox; its conversations stay in History (their ``mailbox_id`` becomes null)."""
    s.execute(delete(MailboxAgent).where(MailboxAgent.mailbox_id == mailbox.id))
    s.delete(mailbox)
    s.flush()


def _set_agents(s, mailbox: Mailbox, ids: list[int]) -> None:
    s.execute(delete(MailboxAgent).where(MailboxAgent.mailbox_id == mailbox.id))
    s.add_all(MailboxAgent(mailbox_id=mailbox.id, user_id=uid) for uid in ids)
    s.flush()


def announce(bus, mailbox_id: int, action: str, keys=()) -> None:
    """Tell the mail worker (after the commit): ``settings.changed`` with ``area="email"``."""
    bus.publish(events.SETTINGS_CHANGED, area="email", keys=sorted(keys), mailbox_id=mailbox_id, action=action)
