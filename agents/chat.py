"""Website chat domain (CHT-1…8, INB-3 for chat): pure rules, no Flask, no database.

- who is offered a waiting chat, and transfers: the text channels' rules in agents/offers.py
  (keyed by the channel's skill), the offers themselves in the database;
- validation of what visitors send (message length, name, email) and the trigger for a page;
- rate limits (sliding windows) keyed by visitor and by address;
- which website origins may embed the widget.
"""
from __future__ import annotations

import re
import threading
import time
from collections import defaultdict, deque
from typing import Iterable
from urllib.parse import urlsplit

from agents import conversation, offers
from agents.offers import MAX_TRANSFER_NOTE, InputError, OfferAgent  # noqa: F401  (MAX_TRANSFER_NOTE: for the chat pages)

CHAT = conversation.CHAT     # the one key (agents/conversation.py)
MAX_MESSAGE = 2000          # characters of one chat message
MAX_NAME = 100
MAX_TRIGGER = 250           # characters of a trigger message (manual §11.2.8)
LANGUAGES = ("pl", "en")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9-]{1,63})+$")


class ChatInputError(InputError):
    """What the visitor sent is not acceptable; ``field`` names the input, ``code`` is stable."""


def eligible(agents: Iterable[OfferAgent]) -> list[int]:
    """Agents who may be offered a chat now (agents/offers.py: Online, serving chat, least busy first)."""
    return offers.eligible(agents, CHAT)


def anyone_online(agents: Iterable[OfferAgent]) -> bool:
    """STA-3/STA-4: the live chat is offered only while someone can take it."""
    return offers.anyone_online(agents, CHAT)


# -- what visitors send ----------------------------------------------------------------
def clean_message(text) -> str:
    if not isinstance(text, str):
        raise ChatInputError("message", "required")
    text = text.replace("\r\n", "\n").strip()
    if not text:
        raise ChatInputError("message", "required")
    if len(text) > MAX_MESSAGE:
        raise ChatInputError("message", "too_long")
    return text


def clean_name(name) -> str:
    name = " ".join(str(name or "").split())
    if not name:
        raise ChatInputError("name", "required")
    if len(name) > MAX_NAME:
        raise ChatInputError("name", "too_long")
    return name


def clean_email(email) -> str:
    email = str(email or "").strip()
    if not email or len(email) > 254 or not _EMAIL.match(email):
        raise ChatInputError("email", "invalid")
    return email


def clean_trigger(message, delay) -> tuple[str, int]:
    message = str(message or "").strip()
    if not message:
        raise ChatInputError("message", "required")
    if len(message) > MAX_TRIGGER:
        raise ChatInputError("message", "too_long")
    try:
        delay = int(str(delay).strip())
    except ValueError:
        raise ChatInputError("delay", "invalid") from None
    if not 0 <= delay <= 3600:
        raise ChatInputError("delay", "invalid")
    return message, delay


def page_language(lang: str | None) -> str:
    """The host page's ``lang`` ("pl-PL", "en", …) -> "pl" or "en" (English otherwise)."""
    return "pl" if str(lang or "").lower().split("-")[0] == "pl" else "en"


def trigger_for(triggers: dict, enabled: bool, lang: str) -> dict | None:
    """The trigger in the page's language, if triggers are on and one is defined."""
    if not enabled:
        return None
    t = (triggers or {}).get(page_language(lang))
    return dict(t) if t and t.get("message") else None


def clean_page(url, title) -> tuple[str, str]:
    url = str(url or "")[:1000]
    if urlsplit(url).scheme not in ("http", "https"):
        url = ""
    return url, " ".join(str(title or "").split())[:300]


# -- origins ---------------------------------------------------------------------------
def origin_of(url: str | None) -> str | None:
    """"https://Shop.example.com/a?b" -> "https://shop.example.com" (None if not http(s))."""
    if not url:
        return None
    parts = urlsplit(str(url).strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    default = {"http": 80, "https": 443}[parts.scheme]
    try:
        port = parts.port
    except ValueError:
        return None
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else "")


def parse_origins(text: str) -> list[str]:
    """One origin per line (or comma separated); raises ChatInputError on a bad one."""
    out = []
    for raw in re.split(r"[\s,]+", text or ""):
        if not raw:
            continue
        o = origin_of(raw)
        if o is None:
            raise ChatInputError("origins", "invalid")
        if o not in out:
            out.append(o)
    return out


def origin_allowed(origin: str | None, allowed: list[str]) -> bool:
    """An empty list means no restriction (the widget works on any site until it is set)."""
    if not allowed:
        return True
    return origin is not None and origin_of(origin) in allowed


# -- rate limits -----------------------------------------------------------------------
class RateLimiter:
    """Sliding-window limits: at most ``limit`` hits per ``window`` seconds per key."""

    def __init__(self, limit: int, window: float, clock=time.monotonic):
        self.limit = limit
        self.window = window
        self.clock = clock
        self._hits: dict[str, deque] = defaultdict(deque)
        self._lock = threading.Lock()

    def hit(self, key: str) -> bool:
        """Count one hit; False when over the limit (the hit is not counted then)."""
        now = self.clock()
        with self._lock:
            q = self._hits[key]
            while q and q[0] <= now - self.window:
                q.popleft()
            if len(q) >= self.limit:
                return False
            q.append(now)
            if len(self._hits) > 100_000:   # forget idle keys now and then
                for k in [k for k, v in self._hits.items() if not v or v[-1] <= now - self.window]:
                    del self._hits[k]
            return True
