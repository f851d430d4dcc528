"""OAuth2 sign-in for mailboxes (XOAUTH2 for IMAP and SMTP): Microsoft 365 and Gmail turn password
logins off.  The administrator registers Centrala with the provider and enters its authorization
and token URLs, the client id and secret and the scope; then signs in once with the provider
(the authorization-code flow with PKCE).  Centrala keeps the refresh token and refreshes the access
token when it is about to expire.  A refresh the provider refuses puts the mailbox in the
``reconnect`` state with the provider's reason: someone must sign in again.

Everything (configuration and tokens) is one JSON sealed in ``Mailbox.oauth_sealed``; only the
non-secret part (URLs, client id, scope, whether signed in) is ever shown.
"""
from __future__ import annotations

import base64
import hashlib
import json
import secrets
from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode, urlsplit

import httpx

from centrala.models_email import CONNECTING, RECONNECT, Mailbox
from centrala.secretbox import of_session

from .connect import MailConnectError

CONFIG_FIELDS = ("oauth_authorize_url", "oauth_token_url", "oauth_client_id", "oauth_client_secret", "oauth_scope")
TIMEOUT = 10.0
EARLY = timedelta(seconds=60)     # refresh this long before the access token expires
LOOPBACK = ("127.0.0.1", "localhost", "::1")


class OAuthError(Exception):
    """code: no_config | state | provider | network; ``detail``: the provider's own words."""

    def __init__(self, code: str, detail: str = ""):
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code, self.detail = code, detail


# -- the sealed JSON -----------------------------------------------------------------------------
def data_of(s, mailbox: Mailbox) -> dict:
    if not mailbox.oauth_sealed:
        return {}
    return json.loads(of_session(s).open(mailbox.oauth_sealed) or "{}")


def _store(s, mailbox: Mailbox, data: dict) -> None:
    mailbox.oauth_sealed = of_session(s).seal(json.dumps(data, separators=(",", ":")))


def public(s, mailbox: Mailbox) -> dict:
    """What the API and the form may show: never the client secret or a token."""
    d = data_of(s, mailbox)
    return {"oauth_authorize_url": d.get("authorize_url", ""), "oauth_token_url": d.get("token_url", ""),
            "oauth_client_id": d.get("client_id", ""), "oauth_scope": d.get("scope", ""),
            "oauth_has_client_secret": bool(d.get("client_secret")), "oauth_signed_in": bool(d.get("refresh_token")
                                                                                            or d.get("access_token"))}


# -- configuration (from mailboxes.check/create/update) --------------------------------------------
def url_ok(url: str) -> bool:
    """https, or http on this machine (a provider's test double)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        return False
    if any(c.isspace() for c in url) or parts.username or parts.password or not host:
        return False
    return parts.scheme == "https" or (parts.scheme == "http" and host in LOOPBACK)


def clean_config(values: dict, current: dict, problems: dict, Problem) -> dict:
    """The configuration from ``values`` over ``current`` (field names: CONFIG_FIELDS); refused
    fields go into ``problems``.  An empty client secret keeps the stored one."""
    out = {"authorize_url": current.get("authorize_url", ""), "token_url": current.get("token_url", ""),
           "client_id": current.get("client_id", ""), "client_secret": current.get("client_secret", ""),
           "scope": current.get("scope", "")}
    for field, key in (("oauth_authorize_url", "authorize_url"), ("oauth_token_url", "token_url"),
                       ("oauth_client_id", "client_id"), ("oauth_scope", "scope")):
        if field in values and values[field] is not None:
            out[key] = str(values[field]).strip()
    if values.get("oauth_client_secret"):
        out["client_secret"] = str(values["oauth_client_secret"])
    for field, key in (("oauth_authorize_url", "authorize_url"), ("oauth_token_url", "token_url")):
        if not out[key]:
            problems[field] = Problem("required")
        elif len(out[key]) > 2000 or not url_ok(out[key]):
            problems[field] = Problem("oauth_url")
    if not out["client_id"]:
        problems["oauth_client_id"] = Problem("required")
    if len(out["scope"]) > 1000 or len(out["client_id"]) > 500:
        problems["oauth_scope" if len(out["scope"]) > 1000 else "oauth_client_id"] = Problem("too_long", {"max": 500})
    return out


def apply_config(s, mailbox: Mailbox, config: dict) -> bool:
    """Store the configuration; tokens stay unless the provider or client changed.  True if changed."""
    data = data_of(s, mailbox)
    before = {k: data.get(k, "") for k in config}
    if before == config:
        return False
    if (before["token_url"], before["client_id"]) != (config["token_url"], config["client_id"]):
        for k in ("access_token", "refresh_token", "expires_at"):
            data.pop(k, None)
    data.update(config)
    _store(s, mailbox, data)
    return True


# -- the authorization-code flow ----------------------------------------------------------------------
def start(s, mailbox: Mailbox, redirect_uri: str) -> tuple[str, str, str]:
    """(the provider's URL to send the browser to, state, PKCE verifier); the caller keeps the
    state and the verifier in the user's session until the callback."""
    d = data_of(s, mailbox)
    if not d.get("authorize_url") or not d.get("client_id"):
        raise OAuthError("no_config")
    state = secrets.token_urlsafe(24)
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    query = {"response_type": "code", "client_id": d["client_id"], "redirect_uri": redirect_uri,
             "scope": d.get("scope", ""), "state": state, "code_challenge": challenge,
             "code_challenge_method": "S256", "access_type": "offline", "prompt": "consent",
             "login_hint": mailbox.username or mailbox.address}
    sep = "&" if "?" in d["authorize_url"] else "?"
    return d["authorize_url"] + sep + urlencode(query), state, verifier


def finish(s, mailbox: Mailbox, code: str, verifier: str, redirect_uri: str) -> None:
    """Exchange the callback's code for tokens and store them; the mailbox reconnects."""
    d = data_of(s, mailbox)
    tokens = _token_request(d, {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
                                "code_verifier": verifier})
    _keep_tokens(s, mailbox, d, tokens)
    mailbox.state, mailbox.last_error, mailbox.state_at = CONNECTING, "", datetime.now(timezone.utc)
    s.flush()


def access_token(s, mailbox: Mailbox, now: datetime | None = None) -> str:
    """A valid access token, refreshed when it is about to expire.  A refused refresh sets the
    mailbox to ``reconnect`` (with the reason) and raises ``MailConnectError("auth")``; the
    caller commits (the refreshed tokens, or the state)."""
    now = now or datetime.now(timezone.utc)
    d = data_of(s, mailbox)
    expires = datetime.fromisoformat(d["expires_at"]) if d.get("expires_at") else None
    if d.get("access_token") and (expires is None or expires - EARLY > now):
        return d["access_token"]
    if not d.get("refresh_token"):
        _needs_sign_in(s, mailbox, "Not signed in with the provider yet." if not d.get("access_token")
                       else "The access token expired and the provider gave no refresh token.")
    try:
        tokens = _token_request(d, {"grant_type": "refresh_token", "refresh_token": d["refresh_token"]})
    except OAuthError as exc:
        if exc.code == "network":   # the provider is down: try again later, no new sign-in needed
            raise MailConnectError("timeout", exc.detail) from exc
        _needs_sign_in(s, mailbox, f"The provider refused to refresh the sign-in: {exc.detail}")
    _keep_tokens(s, mailbox, d, tokens, now)
    s.flush()
    return tokens["access_token"]


def _needs_sign_in(s, mailbox: Mailbox, reason: str):
    mailbox.state, mailbox.last_error, mailbox.state_at = RECONNECT, reason, datetime.now(timezone.utc)
    s.flush()
    raise MailConnectError("auth", reason)


def _keep_tokens(s, mailbox: Mailbox, d: dict, tokens: dict, now: datetime | None = None) -> None:
    now = now or datetime.now(timezone.utc)
    d["access_token"] = tokens["access_token"]
    if tokens.get("refresh_token"):   # providers may rotate it, or send none on a refresh
        d["refresh_token"] = tokens["refresh_token"]
    expires_in = tokens.get("expires_in")
    d["expires_at"] = (now + timedelta(seconds=int(expires_in))).isoformat() if expires_in else ""
    _store(s, mailbox, d)


def _token_request(d: dict, form: dict) -> dict:
    if not d.get("token_url"):
        raise OAuthError("no_config")
    form = {**form, "client_id": d.get("client_id", "")}
    if d.get("client_secret"):
        form["client_secret"] = d["client_secret"]
    try:
        r = httpx.post(d["token_url"], data=form, timeout=TIMEOUT, headers={"Accept": "application/json"})
    except httpx.HTTPError as exc:
        raise OAuthError("network", str(exc) or exc.__class__.__name__) from exc
    try:
        body = r.json()
    except ValueError:
        body = {}
    if r.status_code != 200 or not body.get("access_token"):
        reason = body.get("error_description") or body.get("error") or f"HTTP {r.status_code}"
        raise OAuthError("provider", str(reason)[:300])
    return body
