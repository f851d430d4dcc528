"""Website chat domain (CHT-1…8, INB-3 for chat): pure rules, no Flask, no database.

- who is offered a waiting chat, and who next when the offer times out (same rollover rule as
  calls: not accepted within the timeout -> the next Online agent serving chat);
- handing an accepted chat over to a colleague (transfer): who may, to whom, and the pending
  offer with its deadline;
- validation of what visitors send (message length, name, email) and the trigger for a page;
- rate limits (sliding windows) keyed by visitor and by address;
- which website origins may embed the widget.
"""
from __future__ import annotations

import re
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Iterable
from urllib.parse import urlsplit

CHAT = "chat"
MAX_MESSAGE = 2000          # characters of one chat message
MAX_NAME = 100
MAX_TRIGGER = 250           # characters of a trigger message (manual §11.2.8)
MAX_TRANSFER_NOTE = 200     # characters of the note for the colleague a chat is transferred to
LANGUAGES = ("pl", "en")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9-]{1,63})+$")


class ChatInputError(ValueError):
    """What the visitor sent is not acceptable; ``field`` names the input, ``code`` is stable."""

    def __init__(self, field: str, code: str):
        super().__init__(f"{field}: {code}")
        self.field = field
        self.code = code


@dataclass(frozen=True)
class ChatAgent:
    """What routing needs to know of an agent (no ORM object crosses into the domain)."""
    id: int
    status: str
    channels: tuple[str, ...]
    active: bool = True
    open_chats: int = 0


def eligible(agents: Iterable[ChatAgent]) -> list[int]:
    """Agents who may be offered a chat now: active, Online, serving chat. Fewest open chats
    first, then by id, so work spreads and the order is stable."""
    ok = [a for a in agents if a.active and a.status == "online" and CHAT in a.channels]
    return [a.id for a in sorted(ok, key=lambda a: (a.open_chats, a.id))]


def anyone_online(agents: Iterable[ChatAgent]) -> bool:
    """STA-3/STA-4: the live chat is offered only while someone can take it."""
    return bool(eligible(agents))


@dataclass
class Offer:
    """A waiting chat offered to one agent at a time until someone accepts."""
    chat_id: int
    agent_id: int | None = None
    deadline: float = 0.0
    tried: list[int] = field(default_factory=list)


def next_agent(candidates: list[int], tried: list[int]) -> int | None:
    """The first candidate not tried yet in this round; when everyone was tried, start a new
    round (like app_queue keeps ringing).  None when nobody is eligible."""
    if not candidates:
        return None
    for aid in candidates:
        if aid not in tried:
            return aid
    last = tried[-1] if tried else None
    return next((a for a in candidates if a != last), candidates[0])


class Router:
    """Offers of waiting chats, rolled over on timeout.  Thread-safe; time is injectable."""

    def __init__(self, timeout: float, clock=time.monotonic):
        self.timeout = timeout
        self.clock = clock
        self._offers: dict[int, Offer] = {}
        self._lock = threading.Lock()

    def offer(self, chat_id: int, candidates: list[int]) -> Offer:
        """Start offering a new chat (or re-offer one): returns the offer (agent may be None)."""
        with self._lock:
            o = self._offers.get(chat_id) or Offer(chat_id)
            self._offers[chat_id] = o
            self._assign(o, candidates)
            return Offer(o.chat_id, o.agent_id, o.deadline, list(o.tried))

    def _assign(self, o: Offer, candidates: list[int]) -> None:
        aid = next_agent(candidates, o.tried)
        if candidates and set(candidates) <= set(o.tried):
            o.tried = []          # everyone had their turn: a new round
        o.agent_id = aid
        o.deadline = self.clock() + self.timeout if aid is not None else 0.0
        if aid is not None:
            o.tried.append(aid)

    def due(self, candidates_for) -> list[tuple[int, int | None, int | None]]:
        """Roll over every offer whose time ran out.  ``candidates_for(chat_id)`` gives the
        current eligible agents.  Returns (chat_id, previous agent, new agent) per change."""
        now = self.clock()
        with self._lock:
            expired = [o for o in self._offers.values() if o.agent_id is None or o.deadline <= now]
        changes = []
        for o in expired:
            candidates = candidates_for(o.chat_id)
            with self._lock:
                if self._offers.get(o.chat_id) is not o:
                    continue
                if o.agent_id is not None and o.deadline > self.clock():
                    continue
                before = o.agent_id
                self._assign(o, candidates)
                if o.agent_id != before or before is not None:
                    changes.append((o.chat_id, before, o.agent_id))
        return changes

    def accept(self, chat_id: int, agent_id: int) -> bool:
        """The offered agent takes the chat; anyone else is refused."""
        with self._lock:
            o = self._offers.get(chat_id)
            if o is None or o.agent_id != agent_id:
                return False
            del self._offers[chat_id]
            return True

    def expire_agent(self, agent_id: int) -> list[int]:
        """The agent left (Break/Offline): their offers roll over at the next ``due``."""
        with self._lock:
            hit = [o for o in self._offers.values() if o.agent_id == agent_id]
            for o in hit:
                o.deadline = 0.0
            return [o.chat_id for o in hit]

    def drop(self, chat_id: int) -> Offer | None:
        with self._lock:
            return self._offers.pop(chat_id, None)

    def current(self, chat_id: int) -> int | None:
        with self._lock:
            o = self._offers.get(chat_id)
            return o.agent_id if o else None

    def pending(self) -> list[int]:
        with self._lock:
            return list(self._offers)


# -- transfer of an accepted chat to a colleague ----------------------------------------
def transfer_refusal(*, ended: bool, owner: int | None, by: int, target: ChatAgent | None = None,
                     anyone: bool = False, others: Iterable[int] = (), pending: bool = False) -> str | None:
    """Why ``by`` may not hand the chat over now (a stable code), or None when they may.

    Only the current owner of an open chat transfers it, one transfer at a time; the target is
    another active agent serving chat who is Online.  ``anyone`` hands it to whoever of
    ``others`` (the eligible agents) accepts first: there must be someone besides the owner."""
    if ended:
        return "closed"
    if owner != by:
        return "not_owner"
    if pending:
        return "pending"
    if anyone:
        return None if any(a != by for a in others) else "nobody"
    if target is None or not target.active or CHAT not in target.channels:
        return "bad_agent"
    if target.id == by:
        return "self"
    if target.status != "online":
        return "not_online"
    return None


def clean_transfer_note(text) -> str:
    """The optional short note for the colleague (never shown to the visitor)."""
    text = " ".join(str(text or "").split())
    if len(text) > MAX_TRANSFER_NOTE:
        raise ChatInputError("note", "too_long")
    return text


@dataclass
class Transfer:
    """An accepted chat offered by its owner to a colleague (or to anyone available)."""
    chat_id: int
    from_agent: int
    note: str = ""
    anyone: bool = False
    agent_id: int | None = None
    deadline: float = 0.0
    tried: list[int] = field(default_factory=list)


class Transfers:
    """Pending transfers: one offer at a time per chat, with a deadline.  The owner keeps the chat
    until the offered agent accepts.  A named colleague gets one offer; "anyone available" goes
    round the eligible agents (never the owner) once, one at a time.  When nobody took it the
    transfer is withdrawn and the chat stays with its owner.  Thread-safe; time is injectable."""

    def __init__(self, timeout: float, clock=time.monotonic):
        self.timeout = timeout
        self.clock = clock
        self._pending: dict[int, Transfer] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _copy(t: Transfer) -> Transfer:
        return Transfer(t.chat_id, t.from_agent, t.note, t.anyone, t.agent_id, t.deadline, list(t.tried))

    def start(self, chat_id: int, from_agent: int, *, target: int | None = None, candidates: list[int] = (),
              note: str = "") -> Transfer | None:
        """Offer the chat to ``target``, or with no target to the first of ``candidates`` other
        than the owner.  None when a transfer of the chat is already pending or nobody is there."""
        with self._lock:
            if chat_id in self._pending:
                return None
            t = Transfer(chat_id, from_agent, note, anyone=target is None)
            aid = target if target is not None else next((a for a in candidates if a != from_agent), None)
            if aid is None or aid == from_agent:
                return None
            t.agent_id, t.deadline, t.tried = aid, self.clock() + self.timeout, [aid]
            self._pending[chat_id] = t
            return self._copy(t)

    def get(self, chat_id: int) -> Transfer | None:
        with self._lock:
            t = self._pending.get(chat_id)
            return self._copy(t) if t else None

    def offered_to(self, chat_id: int) -> int | None:
        with self._lock:
            t = self._pending.get(chat_id)
            return t.agent_id if t else None

    def for_agent(self, agent_id: int) -> list[int]:
        """Chats offered to ``agent_id`` by a colleague right now."""
        with self._lock:
            return [t.chat_id for t in self._pending.values() if t.agent_id == agent_id]

    def pending(self) -> list[int]:
        with self._lock:
            return list(self._pending)

    def accept(self, chat_id: int, agent_id: int) -> Transfer | None:
        """The offered agent takes the chat (before the deadline); anyone else is refused."""
        with self._lock:
            t = self._pending.get(chat_id)
            if t is None or t.agent_id != agent_id or t.deadline <= self.clock():
                return None
            del self._pending[chat_id]
            return t

    def cancel(self, chat_id: int) -> Transfer | None:
        """Withdraw the transfer (the owner changed their mind, or the chat ended)."""
        with self._lock:
            return self._pending.pop(chat_id, None)

    def expire_agent(self, agent_id: int) -> list[int]:
        """The offered agent left (Break/Offline): their transfer offers end at the next ``due``."""
        with self._lock:
            hit = [t for t in self._pending.values() if t.agent_id == agent_id]
            for t in hit:
                t.deadline = 0.0
            return [t.chat_id for t in hit]

    def due(self, candidates_for) -> list[tuple[Transfer, int | None]]:
        """Move on every offer whose time ran out: (the transfer as it was, the next agent) for
        "anyone available" while someone untried is eligible, else (transfer, None) — withdrawn.
        ``candidates_for(chat_id)`` gives the agents eligible now."""
        now = self.clock()
        with self._lock:
            expired = [t for t in self._pending.values() if t.deadline <= now]
        out = []
        for t in expired:
            candidates = candidates_for(t.chat_id) if t.anyone else []
            with self._lock:
                if self._pending.get(t.chat_id) is not t or t.deadline > self.clock():
                    continue
                before = self._copy(t)
                nxt = next((a for a in candidates if a != t.from_agent and a not in t.tried), None)
                if nxt is None:
                    del self._pending[t.chat_id]
                else:
                    t.agent_id, t.deadline = nxt, self.clock() + self.timeout
                    t.tried.append(nxt)
                out.append((before, nxt))
        return out


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
