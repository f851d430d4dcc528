"""The controller's one AMI connection: panoramisk with back-off reconnects."""
from __future__ import annotations

import logging

from panoramisk import Manager

from agents.backoff import Backoff

log = logging.getLogger(__name__)


class AmiConnection(Manager):
    """panoramisk's Manager, reconnecting with exponential back-off instead of a fixed delay,
    and staying down once :meth:`close` was called."""

    def __init__(self, *, on_up, on_down, backoff: Backoff | None = None, events=(), **config):
        """``events``: the only events Asterisk sends this session (a session filter set at every
        login); empty: all the user's read classes allow."""
        config.setdefault("ping_delay", 2)
        config.setdefault("ping_interval", 2)
        super().__init__(on_login=self._logged_in, on_disconnect=self._disconnected, **config)
        self._backoff = backoff or Backoff()
        self._on_up = on_up
        self._on_down = on_down
        self._closing = False
        self._events = tuple(events)
        self.up = False

    def connect(self, *args, **kwargs):
        if self._closing:
            return None
        return super().connect(*args, **kwargs)

    def connection_made(self, f):
        self.reconnect_timeout = self._backoff.next_delay()
        super().connection_made(f)

    def login(self, future):
        if future.cancelled() or future.exception() is not None:
            log.warning("AMI login did not complete: %s", future.exception() if not future.cancelled() else "cancelled")
            return False
        ok = super().login(future)
        if not ok:
            log.error("AMI login refused for user %r: check the AMI secret in secrets.json",
                      self.config.get("username"))
        return ok

    def connection_lost(self, exc):
        if self._closing:
            self._connected = False
            return
        self.reconnect_timeout = self._backoff.next_delay()
        super().connection_lost(exc)

    def close(self):
        self._closing = True
        super().close()

    # panoramisk callbacks
    def _logged_in(self, manager):
        self._backoff.reset()
        self.up = True
        if self._events:
            # Asterisk otherwise sends every event of the read classes (a queue call brings dozens:
            # Newstate, Bridge*, QueueMemberStatus for every member…), each parsed here.  Sent
            # before anything else on this connection; action responses are never filtered.
            self.send_action({"Action": "Filter", "Operation": "Add",
                              "Filter": session_filter(self._events + ("Shutdown",))})
        self._on_up()

    def _disconnected(self, manager, exc):
        was_up, self.up = self.up, False
        if was_up:
            self._on_down(exc)


def session_filter(events) -> str:
    """An AMI Filter (a POSIX extended regex on the event's text) letting only ``events`` through."""
    return "Event: (" + "|".join(sorted(set(events))) + ")[[:space:]]"
