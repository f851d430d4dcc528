"""Outgoing webhooks (BEY-1) without Flask: which events go out, URL rules, the secret, the
body and its signature, the retry schedule.

Receivers check ``X-Centrala-Signature: sha256=<hex>``, the HMAC-SHA256 of the raw request body
keyed with the webhook's secret (docs/architecture.md has a snippet).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import uuid
from datetime import datetime, timezone
from urllib.parse import urlsplit

from agents import events

# Domain events a webhook may subscribe to (no contact event exists on the bus yet).  The
# conversation.* ones cover every channel; chat.*/call.* stay for the webhooks that chose them.
EVENTS = (events.CONVERSATION_MESSAGE, events.CONVERSATION_CLOSED, events.CALL_LOGGED, events.VOICEMAIL_RECEIVED,
          events.CHAT_ACCEPTED, events.CHAT_CLOSED, events.TASK_CHANGED)
PING = "ping"                       # "Send test": queued for one webhook, whatever it subscribes to
MAX_URL = 2000
BACKOFF = (10.0, 60.0, 300.0, 1800.0)   # seconds before retry 1, 2, 3, 4; then failed


class URLProblem(ValueError):
    """code: empty | too_long | scheme | host | credentials"""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


def check_url(url: str) -> str:
    url = (url or "").strip()
    if not url:
        raise URLProblem("empty")
    if len(url) > MAX_URL:
        raise URLProblem("too_long")
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port   # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise URLProblem("host") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise URLProblem("scheme")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise URLProblem("credentials")
    if not host or any(c.isspace() for c in url):
        raise URLProblem("host")
    return url


def new_secret() -> str:
    return "whsec_" + secrets.token_hex(24)


def mask(secret: str) -> str:
    return secret[:6] + "•" * 12 + secret[-4:]


def body(event: str, data: dict, at: datetime | None = None) -> tuple[str, str]:
    """(delivery uuid, the JSON body) for one delivery."""
    delivery = str(uuid.uuid4())
    at = (at or datetime.now(timezone.utc)).astimezone(timezone.utc)
    text = json.dumps({"id": delivery, "event": event, "created_at": at.isoformat(), "data": data},
                      default=str, ensure_ascii=False, separators=(",", ":"))
    return delivery, text


def sign(secret: str, raw: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


def verify(secret: str, raw: bytes, header: str) -> bool:
    return hmac.compare_digest(sign(secret, raw), header or "")


def retry_delay(attempts: int, backoff=BACKOFF) -> float | None:
    """Seconds until the next attempt after ``attempts`` failed ones; None: give up."""
    if attempts - 1 < len(backoff):
        return float(backoff[attempts - 1])
    return None
