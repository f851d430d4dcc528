"""Which agents have a panel open, and who has been gone long enough to go Offline (STA-1).

An agent may have several panels (tabs, devices).  When the last one disconnects a grace
period starts; if no panel comes back before it ends, the agent is due to go Offline.
Pure bookkeeping with an injected clock, so the rules are tested without waiting.
"""
from __future__ import annotations

import threading
import time
from collections import defaultdict
from typing import Callable


class PresenceTracker:
    def __init__(self, grace_seconds: float, clock: Callable[[], float] = time.monotonic):
        self.grace = grace_seconds
        self.clock = clock
        self._panels: dict[int, set[str]] = defaultdict(set)
        self._gone_since: dict[int, float] = {}
        self._lock = threading.Lock()

    def connected(self, user_id: int, sid: str) -> None:
        with self._lock:
            self._panels[user_id].add(sid)
            self._gone_since.pop(user_id, None)

    def disconnected(self, user_id: int, sid: str) -> bool:
        """Forget a panel; True when it was the agent's last one."""
        with self._lock:
            panels = self._panels.get(user_id)
            if not panels:
                return False
            panels.discard(sid)
            if panels:
                return False
            del self._panels[user_id]
            self._gone_since[user_id] = self.clock()
            return True

    def panels(self, user_id: int) -> int:
        with self._lock:
            return len(self._panels.get(user_id, ()))

    def due_offline(self) -> list[int]:
        """Agents whose every panel has been gone for the grace period; each reported once."""
        now = self.clock()
        with self._lock:
            due = [uid for uid, since in self._gone_since.items() if now - since >= self.grace]
            for uid in due:
                del self._gone_since[uid]
            return due
