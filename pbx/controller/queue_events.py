"""The queue's AMI events: an agent's phone rings for a call, an agent answers it, the caller
gives up; each also refreshes the live queue view (at most every QUEUE_VIEW_DELAY s)."""
from __future__ import annotations

import asyncio
import logging

from agents import events

from .. import history
from .base import ControllerBase
from .decisions import queue_step

log = logging.getLogger(__name__)

QUEUE_VIEW_DELAY = 1.0  # s: the live queue view follows a burst of queue events at most this late (BEY-3: within 2 s)
QUEUE_EVENTS = ("AgentCalled", "AgentConnect", "QueueCallerAbandon", "QueueCallerJoin", "QueueCallerLeave",
                "AgentComplete")


class QueueEvents(ControllerBase):
    def _on_queue_event(self, manager, event) -> None:
        asyncio.ensure_future(self._queue_event(dict(event.items()) if hasattr(event, "items") else event))

    def _queue_view_soon(self) -> None:
        """Refresh the live queue view (QueueStatus + a database write) at most every
        QUEUE_VIEW_DELAY s however many queue events a burst of calls brings."""
        if not self._queue_view_pending:
            self._queue_view_pending = True

            def due():
                self._queue_view_pending = False
                self._request_sync(full=False)
            asyncio.get_running_loop().call_later(QUEUE_VIEW_DELAY, due)

    def _user_for(self, interface: str) -> int | None:
        """Queue member interface -> user id, cached until users change (runs in a thread)."""
        if interface not in self._interface_users:
            self._interface_users[interface] = history.user_for_interface(self.db, interface)
        return self._interface_users[interface]

    async def _queue_event(self, ev: dict) -> None:
        self._queue_view_soon()
        step = queue_step(ev, self.live)
        if step is None:
            return
        live = self.live[step.call_id]
        live.seen()
        if step.kind == "abandoned":
            live.abandoned = True
            return
        if live.comm_id is None:   # the History row is still being written
            try:
                await asyncio.wait_for(live.opened.wait(), 10)
            except asyncio.TimeoutError:
                pass
        if live.comm_id is None:
            return
        if step.kind == "ringing":
            def rung():
                user_id = self._user_for(step.interface)
                if user_id is not None and user_id not in live.rung:
                    live.rung.append(user_id)
                    history.set_rung(self.db, live.comm_id, live.rung)
                return user_id
            user_id = await self._history_write(rung)
            if user_id is not None:
                self.bus.publish(events.AGENT_RINGING, user_id=user_id, call_id=step.call_id,
                                 caller=step.caller, communication_id=live.comm_id)
        elif step.kind == "connected":
            live.agent_channel = step.agent_channel

            def connect():
                user_id = self._user_for(step.interface)
                at = history.answered(self.db, live.comm_id, user_id, live.started_at)
                if live.answered_at is None:
                    live.answered_at = at
                return user_id
            live.user_id = user_id = await self._history_write(connect)
            self.bus.publish(events.CALL_CONNECTED, user_id=user_id, call_id=step.call_id,
                             communication_id=live.comm_id)
