"""Calls in the conversation core's events, until the pbx controller calls the lifecycle itself.

The controller (``pbx/``) writes a call's History row through ``pbx/history.py`` and publishes
``call.logged`` when the call has ended; this listener announces the same end as
``conversation.closed`` (channel voice, with the row's outcome and times), so reports and
webhooks see calls and chats alike.  Registered once, by the web process (``web/__init__.py``):
with the Redis bridge the pbx's ``call.logged`` reaches it like any other event."""
from __future__ import annotations

import logging

from agents import events
from centrala.models import Communication

from . import lifecycle

log = logging.getLogger(__name__)


def register(bus, db) -> None:
    def logged(event) -> None:
        s = db.sessions()
        try:
            c = s.get(Communication, event.data.get("communication_id"))
            if c is None or c.ended_at is None:
                return
            lifecycle.announce_closed(s, c, by=c.agent_id)
            lifecycle.commit(s, bus)
        except Exception:
            log.exception("conversation.closed for call %s not published", event.data.get("communication_id"))
        finally:
            s.close()

    bus.subscribe(events.CALL_LOGGED, logged)
