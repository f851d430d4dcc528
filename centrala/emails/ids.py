"""Our emails' Message-IDs and the conversation token in replies' subjects.

A Message-ID we send names its conversation and carries an HMAC of it keyed with the data dir's
``email_id_key`` secret: a reply quoting it in In-Reply-To/References joins that conversation, and
nobody outside can forge one that joins another customer's thread.  The token (``[#ab12cd34]`` in
the subject) is short and random; the receiving side only trusts it for the same customer address.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets

_OURS = re.compile(r"^c(\d+)\.([0-9a-z]{10})\.([0-9a-f]{16})@")
_TOKEN = re.compile(r"\[#([0-9a-z]{8})\]")


def _sign(key: str, comm_id: int, nonce: str) -> str:
    return hmac.new(key.encode(), f"{comm_id}.{nonce}".encode(), hashlib.sha256).hexdigest()[:16]


def make_message_id(key: str, comm_id: int, domain: str) -> str:
    """A new Message-ID (without the angle brackets) for a message of conversation ``comm_id``."""
    nonce = "".join(secrets.choice("0123456789abcdefghijklmnopqrstuvwxyz") for _ in range(10))
    return f"c{comm_id}.{nonce}.{_sign(key, comm_id, nonce)}@{domain or 'centrala.invalid'}"


def conversation_of(key: str, message_id: str) -> int | None:
    """The conversation a Message-ID of ours names, or None (not ours, or forged)."""
    m = _OURS.match(message_id.strip().strip("<>"))
    if not m:
        return None
    comm_id, nonce, sig = int(m.group(1)), m.group(2), m.group(3)
    return comm_id if hmac.compare_digest(sig, _sign(key, comm_id, nonce)) else None


def new_token() -> str:
    return "".join(secrets.choice("0123456789abcdefghijklmnopqrstuvwxyz") for _ in range(8))


def token_in(subject: str) -> str | None:
    m = _TOKEN.search(subject or "")
    return m.group(1) if m else None


def with_token(subject: str, token: str) -> str:
    """The subject of a reply: ``Re: …`` once, and the token once."""
    s = (subject or "").strip()
    if not re.match(r"(?i)^(re|odp|aw|sv)\s*:", s):
        s = f"Re: {s}" if s else "Re:"
    return s if f"[#{token}]" in s else f"{s} [#{token}]"
