"""The controller put together: its parts wired to the bus and to AMI, and run on one loop."""
from __future__ import annotations

import asyncio
import logging
import sys
import threading

from agents import events
from centrala.pbx_status import write_status

from ..ami import AmiConnection
from .call_actions import CallActions
from .config_sync import ConfigSync
from .inbound import InboundFlow
from .links import Links, previous_heartbeat
from .queue_events import QUEUE_EVENTS, QueueEvents
from .transfers import Transfers

log = logging.getLogger(__name__)

# How long another thread (History writer, to_thread work, web requests in one process) may hold
# the GIL before the event loop gets it back.  Python's default, 5 ms, is paid several times on a
# call's answer path (every socket read and write gives the GIL up): it was the answer's p99.
SWITCH_INTERVAL = 0.0005


class Controller(Links, ConfigSync, InboundFlow, QueueEvents, Transfers, CallActions):
    """One AMI connection and the ARI Stasis app ``centrala``, on one asyncio loop."""

    async def run(self) -> None:
        if sys.getswitchinterval() > SWITCH_INTERVAL:
            sys.setswitchinterval(SWITCH_INTERVAL)
        self._stop = asyncio.Event()
        self._status_dirty = asyncio.Event()
        self._sync_wanted = asyncio.Event()
        loop = asyncio.get_running_loop()
        unsubscribe = self._subscribe(loop)
        if self._stop_requested:
            self._stop.set()
        try:   # read before this controller's first heartbeat overwrites it (see _reconcile_calls)
            self._previous_heartbeat = await asyncio.to_thread(previous_heartbeat, self.db)
        except Exception as exc:
            log.warning("could not read the last heartbeat: %s", exc)
        self.ami = self._ami_connection()
        self.ami.connect()
        tasks = [asyncio.create_task(self._ari_loop(), name="ari"),
                 asyncio.create_task(self._status_loop(), name="status"),
                 asyncio.create_task(self._sync_loop(), name="sync")]
        try:
            await self._stop.wait()
        finally:
            for u in unsubscribe:
                u()
            self.ami.close()
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self.ami_up = self.ari_up = False
            await asyncio.to_thread(write_status, self.db, False, False, self.version)
            await self._forget_registrations()
            if self._writer is not None:   # the History writes already queued are done first
                await asyncio.to_thread(self._writer.shutdown, wait=True)
                self._writer = None

    def _subscribe(self, loop) -> list:
        """The bus events the controller acts on (published by web or the CLI, in any thread)."""
        def wake(_event):  # an agent's status changed: queue membership and routing facts
            self._forget_facts()
            loop.call_soon_threadsafe(self._request_sync)

        def reconfigure(_event):  # users or settings changed: re-render too, not only the queue
            self._forget_facts()
            self._config_wanted = True
            self._interface_users = {}
            loop.call_soon_threadsafe(self._request_sync)

        def on_loop(handler):   # run a request's coroutine on the controller's loop
            return lambda event: loop.call_soon_threadsafe(lambda: asyncio.ensure_future(handler(event.data)))

        return [self.bus.subscribe(events.AGENT_STATUS_CHANGED, wake),
                self.bus.subscribe(events.USERS_CHANGED, reconfigure),
                self.bus.subscribe(events.SETTINGS_CHANGED, reconfigure),
                self.bus.subscribe(events.CALL_REQUESTED, on_loop(self._originate)),
                self.bus.subscribe(events.CALL_HANGUP_REQUESTED, on_loop(self._hangup)),
                self.bus.subscribe(events.CALL_TRANSFER_REQUESTED, on_loop(self._transfer)),
                self.bus.subscribe(events.CALL_HOLD_REQUESTED, on_loop(self._hold)),
                self.bus.subscribe(events.CALL_CONSULT_REQUESTED, on_loop(self._consult))]

    def _ami_handlers(self) -> dict[str, list]:
        """AMI event name -> the handlers that read it (Asterisk sends this session no other)."""
        handlers = {"ContactStatus": [self._on_contact_status], "AttendedTransfer": [self._on_attended_transfer],
                    "Registry": [self._on_registry]}
        for name in QUEUE_EVENTS:
            handlers.setdefault(name, []).append(self._on_queue_event)
        for name in ("DialEnd", "Hangup"):
            handlers.setdefault(name, []).append(self._on_outbound_event)
        handlers["Hangup"].append(self._on_queued_hangup)
        for name in ("DialBegin", "DialEnd", "Hangup"):
            handlers.setdefault(name, []).append(self._on_dial)
        return handlers

    def _ami_connection(self) -> AmiConnection:
        """The AMI link, with the events each part of the controller reads."""
        secrets = self.settings.secrets
        handlers = self._ami_handlers()
        ami = AmiConnection(
            host="127.0.0.1", port=self.settings.ami_port, username=secrets.ami_user,
            secret=secrets.ami_password, loop=asyncio.get_running_loop(),
            on_up=self._ami_up, on_down=self._ami_down, events=sorted(handlers))
        for name, callbacks in handlers.items():
            for callback in callbacks:
                ami.register_event(name, callback)
        return ami

    def request_stop(self) -> None:
        self._stop_requested = True
        if self._stop is not None:
            self._stop.set()


class ControllerThread:
    """Runs a Controller on its own asyncio loop in a daemon thread (the one-process mode)."""

    def __init__(self, controller: Controller):
        self.controller = controller
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._main, name="pbx-controller", daemon=True)
        self._started = threading.Event()

    def _main(self) -> None:
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        self._started.set()
        try:
            self.loop.run_until_complete(self.controller.run())
        except Exception:
            log.exception("pbx controller stopped with an error")
        finally:
            self.loop.close()

    def start(self) -> "ControllerThread":
        self._thread.start()
        self._started.wait()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        if self.loop and self._thread.is_alive():
            self.loop.call_soon_threadsafe(self.controller.request_stop)
        self._thread.join(timeout)
