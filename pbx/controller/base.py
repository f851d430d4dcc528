"""The state every part of the controller shares, and the helpers they all use.

:class:`Controller` (core.py) is put together from one class per responsibility (links.py,
config_sync.py, inbound.py, queue_events.py, transfers.py, call_actions.py); each reads and
writes only the attributes declared here and its own."""
from __future__ import annotations

import asyncio
import functools
import time
from concurrent.futures import ThreadPoolExecutor

from agents import events
from agents.calls import CallRegistry
from centrala.config import Settings

from .. import stasis
from ..ami import AmiConnection
from .live import LiveCall, OutboundCall, TransferLeg


class ControllerBase:
    def __init__(self, settings: Settings, db, bus: events.EventBus, heartbeat: float = 1.0,
                 sync_interval: float = 2.0):
        self.settings = settings
        self.db = db
        self.bus = bus
        self.heartbeat = heartbeat
        self.sync_interval = sync_interval
        # links (links.py)
        self.ami: AmiConnection | None = None
        self.ari = None
        self.ari_rest = None   # AriRest: the requests made at the call rate (links.py)
        self.ami_up = False
        self.ari_up = False
        self.version: str | None = None
        self._stop: asyncio.Event | None = None
        self._stop_requested = False
        self._status_dirty: asyncio.Event | None = None
        self._previous_heartbeat = None   # the last heartbeat of the controller before this one
        # False from a link's loss until the calls are reconciled with Asterisk's channels: the
        # heartbeat must not vouch for calls that may have died meanwhile
        self._calls_verified = True
        # calls (inbound.py, transfers.py, call_actions.py)
        self.calls = CallRegistry()
        self.playbacks = stasis.PlaybackWaiter()
        self._watched: set[str] = set()
        self.live: dict[str, LiveCall] = {}          # caller's channel id -> inbound call
        self.outbound: dict[str, OutboundCall] = {}  # click-to-call agent channel id -> call
        self._xfer_legs: dict[str, TransferLeg] = {}  # transfer target's channel -> leg
        self._writer: ThreadPoolExecutor | None = None  # History writes, in order (_history_write)
        # configuration, queue, registrations, routing facts (config_sync.py, queue_events.py)
        self._sync_wanted: asyncio.Event | None = None
        self._full_sync_wanted = True     # False: only the live queue view is due (see _sync_loop)
        self._last_full_sync = 0.0
        self._config_wanted = True
        self._last_config = 0.0
        self.queue: dict | None = None                # the live queue view last written
        self.members: dict[str, bool] = {}            # queue members as last seen: interface -> paused
        self._interface_users: dict[str, int | None] = {}  # queue member interface -> user id
        self._facts = None          # (loaded at, InboundPolicy, anyone to answer): see _load_facts
        self._facts_generation = 0
        self._queue_view_pending = False
        self.registrations: dict[str, str] = {}  # trunk name -> Asterisk's outbound registration status
        self._registry_seen = False

    def _request_sync(self, full: bool = True) -> None:
        """Wake the sync loop: a full pass (configuration, membership, routing facts), or only
        the live queue view (``full=False``: queue events of the calls)."""
        self._full_sync_wanted = self._full_sync_wanted or full
        if self._sync_wanted is not None:
            self._sync_wanted.set()

    def _history_write(self, fn, *args, **kwargs):
        """Run a History write (pbx/history.py) on the controller's one writer thread: in the
        order the events came, and without writers of the same database contending for its
        lock (SQLite has one writer at a time; contended writes retried cost CPU)."""
        if self._writer is None:
            self._writer = ThreadPoolExecutor(1, thread_name_prefix="pbx-history")
        return asyncio.get_running_loop().run_in_executor(self._writer, functools.partial(fn, *args, **kwargs))

    def _changed(self) -> None:
        """The links' state changed: write the status row now, not at the next heartbeat."""
        if self._status_dirty is not None:
            self._status_dirty.set()

    def _mark_calls_seen(self) -> None:
        """Both links are up and nothing was missed: every call followed is known live now."""
        if not (self.ami_up and self.ari_up and self._calls_verified):
            return
        now = time.time()
        for call in self.live.values():
            call.last_seen = now
        for call in self.outbound.values():
            call.last_seen = now

    async def _action(self, action: dict, as_list: bool | None = False, timeout: float = 5.0):
        """One AMI action with a deadline.  ``as_list`` is explicit: panoramisk guesses from the
        reply text and takes "Added interface to queue" for the start of an event list.
        Without AMI it fails at once: an action written to a lost connection would only wait
        out its deadline (the QueueStatus timeouts seen after Asterisk died, issue 12, 12a)."""
        if not self.ami_up:
            raise ConnectionError(f"AMI is not connected ({action.get('Action')} not sent)")
        try:
            return await asyncio.wait_for(self.ami.send_action(action, as_list=as_list), timeout)
        except asyncio.TimeoutError:
            raise TimeoutError(f"no answer to AMI {action.get('Action')} {action.get('Command', '')} in {timeout} s") from None


def short(exc: BaseException) -> str:
    """An exception (or a group of them) in one log line."""
    if isinstance(exc, BaseExceptionGroup):
        return "; ".join(short(e) for e in exc.exceptions)
    return f"{type(exc).__name__}: {exc}"
