"""The pbx controller: one AMI connection and the ARI Stasis app ``centrala``.

It turns Asterisk's events into domain events (``agents.events``) once, and keeps the
``pbx_status`` row current.  It runs on its own asyncio loop: a thread in the one-process
``centrala run``, or its own process (``centrala pbx controller``) when scaled out.
Both links reconnect with back-off when Asterisk goes away and re-sync when it returns.
"""
from __future__ import annotations

import asyncio
import logging
import threading
import time
from datetime import datetime, timezone

import anyio
import asyncari

from agents import events
from agents.backoff import Backoff
from agents.calls import CallRegistry
from agents.inbound import Route, inbound_route
from agents.routing import AgentView, anyone_to_answer, desired_members, plan, queue_stats
from centrala import sip_accounts, telephony
from centrala.config import Settings

from . import history, render, stasis
from .ami import AmiConnection
from .render import ARI_APP, QUEUE
from centrala.models import utcnow
from centrala.pbx_status import write_queue, write_status

log = logging.getLogger(__name__)
logging.getLogger("asyncari.model").setLevel(logging.ERROR)  # "Event not recognized" for every Dial event


class _LazyFormat:
    """asyncari.client formats every event with pprint.pformat for a debug log line, even when
    debug logging is off (~10 % of the controller's CPU at load); format only if logged."""
    __slots__ = ("obj",)

    def __init__(self, obj):
        self.obj = obj

    def __str__(self):
        from pprint import pformat

        return pformat(self.obj)


asyncari.client.pformat = _LazyFormat
# ARI events the controller reads (an application event filter drops the rest in Asterisk)
ARI_EVENTS = ("StasisStart", "StasisEnd", "ChannelStateChange", "ChannelHangupRequest", "ChannelDestroyed",
              "PlaybackFinished", "RecordingFinished", "RecordingFailed")
QUEUE_VIEW_DELAY = 0.5  # s: the live queue view follows a burst of queue events at most this late

Q850 = {16: "Normal clearing", 17: "User busy", 18: "No user responding", 19: "No answer",
        21: "Call rejected", 31: "Normal, unspecified", 34: "No circuit available",
        38: "Network out of order", 127: "Interworking, unspecified"}


class Controller:
    def __init__(self, settings: Settings, db, bus: events.EventBus, heartbeat: float = 1.0,
                 sync_interval: float = 2.0):
        self.settings = settings
        self.db = db
        self.bus = bus
        self.heartbeat = heartbeat
        self.calls = CallRegistry()
        self.playbacks = stasis.PlaybackWaiter()
        self._watched: set[str] = set()
        self.live: dict[str, dict] = {}      # channel id -> {"comm_id", flags, "flow_done"}
        self.outbound: dict[str, dict] = {}  # click-to-call agent channel id -> {"comm_id"}
        self._xfer_legs: dict[str, dict] = {}  # transfer target's channel -> see _on_dial
        self.queue: dict | None = None       # the live queue view last written
        self.ami: AmiConnection | None = None
        self.ari = None
        self.ami_up = False
        self.ari_up = False
        self.version: str | None = None
        self._stop: asyncio.Event | None = None
        self._stop_requested = False
        self._status_dirty: asyncio.Event | None = None
        self._sync_wanted: asyncio.Event | None = None
        self.sync_interval = sync_interval
        self._config_wanted = True
        self._last_config = 0.0
        self.members: dict[str, bool] = {}   # queue members as last seen: interface -> paused
        self._interface_users: dict[str, int | None] = {}  # queue member interface -> user id
        self._facts = None          # (loaded at, InboundPolicy, agents): see _load_facts
        self._facts_generation = 0
        self._queue_view_pending = False
        self.registrations: dict[str, str] = {}  # trunk name -> Asterisk's outbound registration status
        self._registry_seen = False

    # -- lifecycle -----------------------------------------------------------------------
    async def run(self) -> None:
        self._stop = asyncio.Event()
        self._status_dirty = asyncio.Event()
        self._sync_wanted = asyncio.Event()
        loop = asyncio.get_running_loop()
        def wake(_event):  # an agent's status changed: queue membership and routing facts
            self._forget_facts()
            loop.call_soon_threadsafe(self._sync_wanted.set)

        def reconfigure(_event):  # users or settings changed: re-render too, not only the queue
            self._forget_facts()
            self._config_wanted = True
            self._interface_users = {}
            loop.call_soon_threadsafe(self._sync_wanted.set)

        originate = lambda event: loop.call_soon_threadsafe(  # noqa: E731
            lambda: asyncio.ensure_future(self._originate(event.data)))
        unsubscribe = [self.bus.subscribe(events.AGENT_STATUS_CHANGED, wake),
                       self.bus.subscribe(events.USERS_CHANGED, reconfigure),
                       self.bus.subscribe(events.SETTINGS_CHANGED, reconfigure),
                       self.bus.subscribe(events.CALL_REQUESTED, originate),
                       self.bus.subscribe(events.CALL_HANGUP_REQUESTED, lambda event: loop.call_soon_threadsafe(
                           lambda: asyncio.ensure_future(self._hangup(event.data)))),
                       self.bus.subscribe(events.CALL_TRANSFER_REQUESTED, lambda event: loop.call_soon_threadsafe(
                           lambda: asyncio.ensure_future(self._transfer(event.data)))),
                       self.bus.subscribe(events.CALL_HOLD_REQUESTED, lambda event: loop.call_soon_threadsafe(
                           lambda: asyncio.ensure_future(self._hold(event.data)))),
                       self.bus.subscribe(events.CALL_CONSULT_REQUESTED, lambda event: loop.call_soon_threadsafe(
                           lambda: asyncio.ensure_future(self._consult(event.data))))]
        if self._stop_requested:
            self._stop.set()
        secrets = self.settings.secrets
        self.ami = AmiConnection(
            host="127.0.0.1", port=self.settings.ami_port, username=secrets.ami_user,
            secret=secrets.ami_password, loop=asyncio.get_running_loop(),
            on_up=self._ami_up, on_down=self._ami_down)
        self.ami.register_event("ContactStatus", self._on_contact_status)
        for name in ("AgentCalled", "AgentConnect", "QueueCallerAbandon", "QueueCallerJoin", "QueueCallerLeave",
                     "AgentComplete"):
            self.ami.register_event(name, self._on_queue_event)
        for name in ("DialEnd", "Hangup"):
            self.ami.register_event(name, self._on_outbound_event)
        for name in ("DialBegin", "DialEnd", "Hangup"):
            self.ami.register_event(name, self._on_dial)
        self.ami.register_event("AttendedTransfer", self._on_attended_transfer)
        self.ami.register_event("Registry", self._on_registry)
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

    def request_stop(self) -> None:
        self._stop_requested = True
        if self._stop is not None:
            self._stop.set()

    def _changed(self) -> None:
        if self._status_dirty is not None:
            self._status_dirty.set()

    async def _status_loop(self) -> None:
        """Write the status row on every change and as a heartbeat; refresh the version."""
        while True:
            try:
                await asyncio.wait_for(self._status_dirty.wait(), timeout=self.heartbeat)
            except asyncio.TimeoutError:
                pass
            self._status_dirty.clear()
            try:
                await asyncio.to_thread(write_status, self.db, self.ami_up, self.ari_up, self.version)
            except Exception:
                log.exception("could not write pbx status")

    # -- AMI -----------------------------------------------------------------------------
    def _ami_up(self) -> None:
        self.ami_up = True
        log.info("AMI connected")
        self.bus.publish(events.PBX_CONNECTED, link="ami", version=self.version)
        self._changed()
        asyncio.ensure_future(self._ami_resync())

    def _ami_down(self, exc) -> None:
        self.ami_up = False
        log.warning("AMI connection lost: %s", exc)
        self._xfer_legs.clear()   # their ends would go unseen; the calls themselves are reconciled
        if not (self._stop and self._stop.is_set()):   # stopping: run() clears them itself
            asyncio.ensure_future(self._forget_registrations())
        self.bus.publish(events.PBX_DISCONNECTED, link="ami", error=str(exc) if exc else None)
        self._changed()

    async def _ami_resync(self) -> None:
        """After (re)connecting: read the version and re-apply queue membership."""
        try:
            resp = await self.ami.send_action({"Action": "CoreSettings"})
            self.version = resp.get("AsteriskVersion") or self.version
            self._changed()
            self._sync_wanted.set()
            await self._resync_contacts()
            if self.ari is not None:   # Hangup events missed while AMI was away
                await self._reconcile_calls(self.ari)
            self.bus.publish(events.PBX_RESYNCED, link="ami", channels=None)
        except Exception as exc:
            log.warning("AMI resync failed: %s", exc)

    # -- softphone registrations ---------------------------------------------------------
    def _on_contact_status(self, manager, event) -> None:
        aor = event.get("AOR")
        status = str(event.get("ContactStatus", "")).lower()
        contact = event.get("URI") if status in sip_accounts.REGISTERED else None
        if aor:
            asyncio.ensure_future(self._store_contact(aor, contact))

    async def _store_contact(self, aor: str, contact: str | None) -> None:
        user_id = await asyncio.to_thread(sip_accounts.set_contact, self.db, aor, contact)
        if user_id is not None:
            self.bus.publish(events.SIP_REGISTRATION_CHANGED, user_id=user_id, contact=contact)

    async def _resync_contacts(self) -> None:
        # as_list=None: with no contacts Asterisk answers a plain error, not an (empty) list
        resp = await self._action({"Action": "PJSIPShowContacts"}, as_list=None)
        msgs = resp if isinstance(resp, list) else [resp]
        contacts = {m.get("Aor"): m.get("Uri") for m in msgs
                    if m.get("Event") == "ContactList" and str(m.get("Status", "")).lower() != "unavailable"}
        for user_id in await asyncio.to_thread(sip_accounts.replace_all, self.db, contacts):
            self.bus.publish(events.SIP_REGISTRATION_CHANGED, user_id=user_id, contact=None)

    # -- configuration and queue membership from the database ----------------------------
    async def _sync_loop(self) -> None:
        """Keep Asterisk in step with the database: agents' SIP accounts (config reload) and
        queue membership from their status.  Woken at once by status/user events in this
        process, and every ``sync_interval`` seconds for changes made by other processes."""
        while True:
            try:
                await asyncio.wait_for(self._sync_wanted.wait(), timeout=self.sync_interval)
            except asyncio.TimeoutError:
                pass
            self._sync_wanted.clear()
            if not self.ami_up:
                continue
            # Re-rendering costs ~15 ms of CPU: only when users/settings changed or on the periodic
            # pass (changes made by other processes), never for the queue events of every call.
            periodic = time.monotonic() - self._last_config >= self.sync_interval
            steps = [self._sync_queue, self._refresh_facts]
            if self._config_wanted or periodic:
                self._config_wanted = False
                self._last_config = time.monotonic()
                steps.insert(0, self._sync_config)
            if self._registry_seen or steps[0] == self._sync_config:
                self._registry_seen = False
                steps.append(self._sync_registrations)
            # independent steps: a configuration problem must not stop queue membership
            for step in steps:
                try:
                    await step()
                except Exception as exc:
                    log.warning("%s failed: %s", step.__name__.strip("_").replace("_", " "), _short(exc))

    async def _sync_config(self) -> None:
        mod_dir = render.current_module_dir(self.settings)
        if mod_dir is None:
            return
        changed = await asyncio.to_thread(render.render_from_db, self.settings, mod_dir, self.db)
        names = {p.name for p in changed}
        commands = []
        if "pjsip.conf" in names:
            commands.append("module reload res_pjsip.so")
        if "extensions.conf" in names:
            commands.append("dialplan reload")
        if "queues.conf" in names:
            commands.append("queue reload parameters")
        if "musiconhold.conf" in names:
            commands.append("moh reload")
        for command in commands:
            await self._action({"Action": "Command", "Command": command})
        if commands:
            log.info("Asterisk configuration reloaded: %s", ", ".join(commands))

    # -- trunks registering at the carrier (VOI-1) ----------------------------------------
    def _on_registry(self, manager, event) -> None:
        """A registration changed state: read them all on the next pass (at once)."""
        self._registry_seen = True
        self._sync_wanted.set()

    async def _sync_registrations(self) -> None:
        if not self.registrations and not render.configures_registrations(self.settings):
            return   # no trunk registers and none did: nothing to ask Asterisk every pass
        # as_list=None: with no registrations Asterisk answers a plain error, not an empty list
        resp = await self._action({"Action": "PJSIPShowRegistrationsOutbound"}, as_list=None)
        states = {}
        for m in resp if isinstance(resp, list) else [resp]:
            name = str(m.get("ObjectName") or "")
            if m.get("Event") == "OutboundRegistrationDetail" and name.startswith("trunk-") and name.endswith("-reg"):
                states[name[len("trunk-"):-len("-reg")]] = str(m.get("Status") or "")
        self.registrations = states
        changed = await asyncio.to_thread(telephony.store_registrations, self.db, states)
        if changed:
            log.info("trunk registrations: %s", ", ".join(f"{n} {states.get(n, '-')}" for n in changed))

    async def _forget_registrations(self) -> None:
        """Without AMI (Asterisk gone, or this controller stopping) nobody vouches for a
        registration: registering trunks are shown as not registered until seen again."""
        self.registrations = {}
        try:
            await asyncio.to_thread(telephony.store_registrations, self.db, {})
        except Exception as exc:
            log.warning("could not clear trunk registrations: %s", _short(exc))

    async def _queue_members(self) -> dict[str, bool]:
        resp = await self._action({"Action": "QueueStatus", "Queue": QUEUE}, as_list=True)
        msgs = [m for m in (resp if isinstance(resp, list) else [resp]) if m.get("Queue") == QUEUE]
        members = [m for m in msgs if m.get("Event") == "QueueMember"]
        stats = queue_stats(
            [{"number": m.get("CallerIDNum", ""), "wait": int(m.get("Wait") or 0)}
             for m in msgs if m.get("Event") == "QueueEntry"],
            [{"name": m.get("Name") or m.get("MemberName", ""), "paused": str(m.get("Paused")) == "1",
              "in_call": str(m.get("InCall")) == "1", "status": int(m.get("Status") or 0)} for m in members])
        if stats != self.queue:
            self.queue = stats
            await asyncio.to_thread(write_queue, self.db, {**stats, "at": utcnow().isoformat()})
        return {m.get("Location") or m.get("Interface"): str(m.get("Paused")) == "1" for m in members}

    async def _sync_queue(self) -> None:
        agents = await asyncio.to_thread(_agent_views, self.db)
        current = await self._queue_members()
        todo = plan(current, desired_members(agents))
        for m in todo.add:
            await self._action({"Action": "QueueAdd", "Queue": QUEUE, "Interface": m.interface,
                                "MemberName": m.name, "StateInterface": m.interface,
                                "Paused": "true" if m.paused else "false"})
            if m.paused:
                await self._pause(m.interface, True, m.reason)
        for iface in todo.remove:
            await self._action({"Action": "QueueRemove", "Queue": QUEUE, "Interface": iface})
        for m in todo.pause:
            await self._pause(m.interface, m.paused, m.reason)
        if todo.add or todo.remove or todo.pause:
            self.members = await self._queue_members()
            self.bus.publish(events.QUEUE_MEMBERS_CHANGED, queue=QUEUE, members=dict(self.members))
        else:
            self.members = current

    async def _pause(self, interface: str, paused: bool, reason: str) -> None:
        await self._action({"Action": "QueuePause", "Queue": QUEUE, "Interface": interface,
                            "Paused": "true" if paused else "false", "Reason": reason})

    async def _action(self, action: dict, as_list: bool | None = False, timeout: float = 5.0):
        """One AMI action with a deadline.  ``as_list`` is explicit: panoramisk guesses from the
        reply text and takes "Added interface to queue" for the start of an event list."""
        try:
            return await asyncio.wait_for(self.ami.send_action(action, as_list=as_list), timeout)
        except asyncio.TimeoutError:
            raise TimeoutError(f"no answer to AMI {action.get('Action')} {action.get('Command', '')} in {timeout} s") from None

    # -- ARI -----------------------------------------------------------------------------
    async def _ari_loop(self) -> None:
        backoff = Backoff()
        secrets = self.settings.secrets
        url = f"http://127.0.0.1:{self.settings.ari_port}/"
        while True:
            try:
                async with asyncari.connect(url, ARI_APP, secrets.ari_user, secrets.ari_password) as client:
                    self.ari = client
                    info = await client.asterisk.getInfo()
                    self.version = _version_of(info) or self.version
                    self.ari_up = True
                    backoff.reset()
                    log.info("ARI connected, Stasis app %r registered", ARI_APP)
                    self.bus.publish(events.PBX_CONNECTED, link="ari", version=self.version)
                    self._changed()
                    await self._filter_events(client)
                    await self._ari_resync(client)
                    async with anyio.create_task_group() as tg:
                        tg.start_soon(self._consume, client, tg)
                        await self._watch(client)
            except asyncio.CancelledError:
                raise
            except BaseException as exc:  # ExceptionGroup, OSError, httpx errors, timeouts
                if self.ari_up:
                    log.warning("ARI connection lost: %s", _short(exc))
                else:
                    log.debug("ARI not reachable: %s", _short(exc))
            finally:
                self.ari = None
                if self.ari_up:
                    self.ari_up = False
                    self.bus.publish(events.PBX_DISCONNECTED, link="ari", error=None)
                    self._changed()
            await asyncio.sleep(backoff.next_delay())

    async def _watch(self, client) -> None:
        """Raise when the events websocket is gone or Asterisk stops answering."""
        while True:
            await anyio.sleep(self.heartbeat)
            if not client.websockets:
                raise ConnectionError("ARI events websocket closed")
            with anyio.fail_after(max(2.0, self.heartbeat * 3)):
                await client.asterisk.getInfo(only="system")

    async def _filter_events(self, client) -> None:
        """Only the ARI events _consume reads: a watched channel otherwise brings every dialplan
        step and variable of its call (ChannelDialplan, ChannelVarset, Dial…), each parsed here."""
        import httpx  # asyncari's own HTTP client; its swagger call sends this body wrongly

        secrets = self.settings.secrets
        try:
            async with httpx.AsyncClient(auth=(secrets.ari_user, secrets.ari_password), timeout=5) as http:
                r = await http.put(f"http://127.0.0.1:{self.settings.ari_port}/ari/applications/{ARI_APP}/eventFilter",
                                   json={"allowed": [{"type": t} for t in ARI_EVENTS]})
                r.raise_for_status()
        except Exception as exc:  # everything still works, only slower
            log.warning("ARI event filter not set: %s", _short(exc))

    async def _ari_resync(self, client) -> None:
        """Reconcile live calls with what Asterisk has after a (re)connect."""
        live = await self._reconcile_calls(client)
        self.bus.publish(events.PBX_RESYNCED, link="ari", channels=len(live))

    async def _reconcile_calls(self, client) -> set[str]:
        """Forget calls Asterisk no longer has and close their history rows (calls that died
        with Asterisk, or ended while this controller or one of its links was down)."""
        started = datetime.now(timezone.utc)
        channels = await client.channels.list()
        live = {c.id for c in channels} if channels else set()
        for call_id in self.calls.replace_all(live):
            self.bus.publish(events.CALL_ENDED, call_id=call_id, cause=None,
                             cause_text="lost while the PBX was unreachable", duration=None)
        for comm_id, outcome, channel_id in await asyncio.to_thread(history.close_lost, self.db, live, started):
            self.live.pop(channel_id, None)
            self.outbound.pop(channel_id, None)
            self.bus.publish(events.CALL_LOGGED, communication_id=comm_id, outcome=outcome, call_id=channel_id)
        return live

    async def _consume(self, client, tg) -> None:
        """Turn Stasis events into domain events.  Must stay quick: slow work goes to ``tg``."""
        hangups: dict[str, int | None] = {}
        async for msg in client:
            kind = msg.type
            log.debug("ARI event %s", kind)
            if kind == "StasisStart":
                ch = msg.channel
                args = list(getattr(msg, "args", []) or [])
                caller = ch.json.get("caller", {}).get("number", "")
                number = args[1] if len(args) > 1 else ch.json.get("dialplan", {}).get("exten", "")
                self.calls.enter(ch.id, caller, number)
                self.bus.publish(events.CALL_ENTERED, call_id=ch.id, caller=caller, number=number, args=args)
                if args[:1] == ["inbound"]:
                    self.live[ch.id] = {"flow_done": asyncio.Event(), "opened": asyncio.Event()}
                endpoint = ch.json.get("name", "").split("/", 1)[-1].rsplit("-", 1)[0]
                tg.start_soon(self._start_flow, client, ch.id, args, caller, endpoint)
            elif kind == "ChannelStateChange" and msg.channel.json.get("state") == "Up":
                if self.calls.answered(msg.channel.id):
                    self.bus.publish(events.CALL_ANSWERED, call_id=msg.channel.id)
            elif kind == "PlaybackFinished":
                self.playbacks.finished(msg.playback.id)
            elif kind in ("RecordingFinished", "RecordingFailed"):
                self.playbacks.finished(msg._orig_msg.get("recording", {}).get("name", ""))
            elif kind == "ChannelHangupRequest":
                hangups[msg.channel.id] = getattr(msg, "cause", None)
            elif kind == "ChannelDestroyed" or (kind == "StasisEnd" and msg.channel.id in hangups
                                                and msg.channel.id not in self._watched):
                # ChannelDestroyed carries the real cause; it arrives because every call is
                # watched (see _watch_channel).  Unwatched channels end at StasisEnd.
                cause = getattr(msg, "cause", None) if kind == "ChannelDestroyed" else None
                cause = cause if cause is not None else hangups.get(msg.channel.id)
                hangups.pop(msg.channel.id, None)
                self._watched.discard(msg.channel.id)
                if self._call_ended(msg.channel.id, cause):
                    tg.start_soon(self._finish_call, msg.channel.id, cause)

    def _load_facts(self):
        """What routing a call needs from the database (numbers, hours, switches, agents and their
        status), kept in memory until an event says it changed or ``sync_interval`` passes; runs
        in a thread.  Not stored if it was invalidated meanwhile."""
        generation, loaded_at = self._facts_generation, time.monotonic()
        facts = (loaded_at, telephony.inbound_policy(self.db, self.settings), _agent_views(self.db))
        if generation == self._facts_generation:
            self._facts = facts
        return facts

    def _forget_facts(self) -> None:
        self._facts_generation += 1
        self._facts = None

    async def _refresh_facts(self) -> None:
        """Every sync pass reloads the routing facts (changes made without an event, e.g. in the
        database directly, show within ``sync_interval``), so calls rarely wait for the database."""
        await asyncio.to_thread(self._load_facts)

    def _call_ended(self, channel_id: str, cause) -> bool:
        """A call's channel is gone (ARI for calls still in Stasis, AMI Hangup for calls in the
        queue): publish it once; True if it was a live call (then finish its history row)."""
        call = self.calls.end(channel_id, cause)
        if call:
            self.bus.publish(events.CALL_ENDED, call_id=call.call_id, cause=cause,
                             cause_text=Q850.get(cause, str(cause)), duration=call.duration)
        return call is not None

    async def _start_flow(self, client, channel_id: str, args: list[str], caller: str = "",
                          endpoint: str = "") -> None:
        if args[:1] != ["inbound"]:
            await self._watch_channel(client, channel_id)
            return
        live = self.live.setdefault(channel_id, {"flow_done": asyncio.Event(), "opened": asyncio.Event()})
        live["caller"] = caller
        opening = None
        try:
            dialled = args[1] if len(args) > 1 else ""
            trunk = endpoint[len("trunk-"):] if endpoint.startswith("trunk-") else endpoint or None

            facts = self._facts
            if facts is None or time.monotonic() - facts[0] > 2 * self.sync_interval:
                facts = await asyncio.to_thread(self._load_facts)
            _, policy, agents = facts
            # the number: in the pool? business hours (BEY-5), own recording switch (VOI-5), inbound on (VOI-6)
            # (a number without a country code is read in Settings / General's region, part of the facts)
            ours = telephony.decide_number(policy, dialled)
            # the history row is written while the call goes on (queue events wait for it)
            opening = asyncio.ensure_future(asyncio.to_thread(
                history.open_call, self.db, channel_id, caller, ours.e164 or dialled, trunk))
            route = inbound_route(accepted=ours.accepted, inbound_enabled=ours.inbound_enabled,
                                  open_now=ours.open_now, anyone_online=anyone_to_answer(agents))
            if route is not Route.QUEUE:
                # calls that stay in Stasis are watched, so ChannelDestroyed brings the real cause
                await self._watch_channel(client, channel_id)
            if route is Route.REFUSE:
                live["refused"] = True
                await stasis.inbound_unknown_number(client, self.playbacks, channel_id)
            elif route is Route.QUEUE:
                # no ARI subscription: once in the queue, the call's end comes from AMI Hangup
                live["queued"] = True
                await stasis.to_queue(client, channel_id, ours.record)
            else:
                await self._voicemail(client, channel_id, live)
        finally:
            if opening is not None:
                try:
                    live["comm_id"] = await opening
                except Exception as exc:
                    log.warning("history row for %s not written: %s", channel_id, _short(exc))
            live["opened"].set()
            live["flow_done"].set()

    async def _voicemail(self, client, channel_id: str, live: dict) -> None:
        name = "vm-" + channel_id.replace(".", "-")
        prompt = await asyncio.to_thread(self.answering_prompt)
        from centrala.account import effective

        current = await asyncio.to_thread(effective, self.settings, self.db)
        recorded = await stasis.answering_machine(
            client, self.playbacks, channel_id, prompt, current.voicemail_max_seconds, name)
        source = self.settings.asterisk_dir / "spool" / "recording" / f"{name}.wav"
        if recorded and source.exists() and source.stat().st_size > 44:
            target_dir = self.settings.recordings_dir / "voicemail"
            target_dir.mkdir(parents=True, exist_ok=True)
            target = target_dir / source.name
            source.replace(target)
            live["voicemail"] = str(target.relative_to(self.settings.data_dir))

    def _call_recording(self, channel_id: str) -> str | None:
        """MixMonitor's file for this call (VOI-5), relative to the data dir, if one was made."""
        path = self.settings.recordings_dir / "calls" / f"{channel_id}.wav"
        if path.is_file() and path.stat().st_size > 44:
            return str(path.relative_to(self.settings.data_dir))
        return None

    def answering_prompt(self) -> str:
        """The greeting before the beep, as chosen in Settings / Voice (VOI-4); "" when Off."""
        from centrala.prompts import plan_from_db

        p = plan_from_db(self.db, self.settings.prompts_dir).answering
        return f"sound:{p}" if p else ""

    async def _finish_call(self, channel_id: str, cause) -> None:
        live = self.live.get(channel_id)
        if not live:
            return
        try:
            await asyncio.wait_for(live["flow_done"].wait(), 30)
        except asyncio.TimeoutError:
            pass
        self.live.pop(channel_id, None)
        if "comm_id" not in live:
            return
        row = await asyncio.to_thread(history.finish, self.db, live["comm_id"], voicemail=live.get("voicemail"),
                                      abandoned=live.get("abandoned", False), refused=live.get("refused", False),
                                      recording=self._call_recording(channel_id))
        if row is not None:
            self.bus.publish(events.CALL_LOGGED, communication_id=row.id, outcome=row.outcome, call_id=channel_id)
            if row.outcome == "voicemail":
                self.bus.publish(events.VOICEMAIL_RECEIVED, communication_id=row.id, caller=row.remote)

    # -- click-to-call (COM-2) ------------------------------------------------------------
    async def _originate(self, req: dict) -> None:
        """Ring the agent's softphone first; when it answers, the dialplan calls the customer."""
        comm_id = req["communication_id"]
        try:
            resp = await self._action({
                "Action": "Originate", "Channel": f"PJSIP/{req['sip_username']}",
                "Context": "centrala-outbound", "Exten": req["number"], "Priority": "1",
                "Timeout": str(int(req.get("ring_timeout", 30)) * 1000),
                "CallerID": f"<{req['number']}>", "ChannelId": f"c2c-{comm_id}",
                "Variable": [f"CENTRALA_TRUNK=trunk-{req['trunk']}", f"CENTRALA_CLI={req['our_number']}"]
                + ([] if req.get("record") is None else [f"CENTRALA_RECORD={int(bool(req['record']))}"]),
                "Async": "true"}, timeout=10)
            if resp.get("Response") != "Success":
                raise RuntimeError(resp.get("Message"))
            self.outbound[f"c2c-{comm_id}"] = {"comm_id": comm_id}
        except Exception as exc:
            log.warning("click-to-call %s failed: %s", comm_id, _short(exc))
            await asyncio.to_thread(history.finish, self.db, comm_id, refused=True)
            self.bus.publish(events.CALL_LOGGED, communication_id=comm_id, outcome="failed", call_id=None)

    async def _hangup(self, req: dict) -> None:
        """End a call from the panel or the API: hang up the customer's (or click-to-call) channel."""
        channel_id = req.get("pbx_id") or f"c2c-{req['communication_id']}"
        try:
            if self.ari is None:
                raise ConnectionError("ARI is not connected")
            await self.ari.channels.hangup(channelId=channel_id, reason="normal")
        except Exception as exc:
            log.info("hang up of %s failed: %s", channel_id, _short(exc))

    async def _transfer(self, req: dict) -> None:
        """Blind transfer (VOI-9): the agent's party goes to another agent or a number."""
        live = self.live.get(req.get("pbx_id") or "")
        agent_channel = live.get("agent_channel") if live else None
        try:
            if not agent_channel:
                raise RuntimeError("no agent is talking on this call")
            resp = await self._action({"Action": "BlindTransfer", "Channel": agent_channel,
                                       "Context": "centrala-transfer", "Exten": req["target"]})
            if resp.get("Response") != "Success":
                raise RuntimeError(resp.get("Message"))
            await asyncio.to_thread(history.add_note, self.db, req["communication_id"],
                                    f"Transferred to {req.get('label') or req['target']}")
        except Exception as exc:
            log.warning("transfer of call %s failed: %s", req.get("communication_id"), _short(exc))

    # -- hold and attended transfer (VOI-9) ---------------------------------------------------
    async def _hold(self, req: dict) -> None:
        """Hold: caller to hold music, agent to silence (dialplan centrala-hold); unhold: bridge
        them again.  Each side knows its peer, so a hang-up while held ends both."""
        channel_id = req.get("pbx_id") or ""
        live = self.live.get(channel_id)
        agent = live.get("agent_channel") if live else None
        try:
            if not agent:
                raise RuntimeError("no agent is talking on this call")
            if req["hold"] and not live.get("held"):
                for chan, peer in ((channel_id, agent), (agent, channel_id)):
                    await self._action({"Action": "Setvar", "Channel": chan, "Variable": "CENTRALA_PEER",
                                        "Value": peer})
                    await self._action({"Action": "Setvar", "Channel": chan, "Variable": "CENTRALA_HELD",
                                        "Value": "1"})
                resp = await self._action({
                    "Action": "Redirect", "Channel": channel_id, "Context": "centrala-hold", "Exten": "caller",
                    "Priority": "1", "ExtraChannel": agent, "ExtraContext": "centrala-hold",
                    "ExtraExten": "agent", "ExtraPriority": "1"})
            elif not req["hold"] and live.get("held"):
                for chan in (channel_id, agent):
                    await self._action({"Action": "Setvar", "Channel": chan, "Variable": "CENTRALA_HELD",
                                        "Value": "0"})
                resp = await self._action({"Action": "Bridge", "Channel1": channel_id, "Channel2": agent,
                                           "Tone": "no"})
            else:
                resp = {"Response": "Success"}  # already in the state asked for
            if resp.get("Response") != "Success":
                raise RuntimeError(resp.get("Message"))
            live["held"] = bool(req["hold"])
            self.bus.publish(events.CALL_HELD, user_id=live.get("user_id"), call_id=channel_id,
                             communication_id=live["comm_id"], held=live["held"])
        except Exception as exc:
            log.warning("hold=%s of call %s failed: %s", req.get("hold"), req.get("communication_id"), _short(exc))

    async def _consult(self, req: dict) -> None:
        """Attended transfer: ``start`` puts the caller on hold and rings the target from the
        agent's side; ``complete`` hangs up the agent's leg (Asterisk joins caller and target);
        ``cancel`` returns the agent to the caller."""
        channel_id = req.get("pbx_id") or ""
        live = self.live.get(channel_id)
        agent = live.get("agent_channel") if live else None
        step = req.get("step")
        try:
            if not agent:
                raise RuntimeError("no agent is talking on this call")
            if step == "start":
                if live.get("held"):
                    raise RuntimeError("take the call off hold first")
                await self._action({"Action": "Setvar", "Channel": agent, "Variable": "__CENTRALA_XFER_TARGET",
                                    "Value": req["target"]})
                resp = await self._action({"Action": "Atxfer", "Channel": agent, "Context": "centrala-consult",
                                           "Exten": "0#"})
                live["consult"] = req.get("label") or req["target"]
                live["consult_target"] = req["target"]
                state = "consulting"
            elif step == "complete":
                resp = await self._action({"Action": "Hangup", "Channel": agent})
                state = None  # the AttendedTransfer event says how it ended
            else:
                resp = await self._action({"Action": "CancelAtxfer", "Channel": agent})
                live.pop("consult", None)
                state = "cancelled"
            if resp.get("Response") != "Success":
                raise RuntimeError(resp.get("Message"))
        except Exception as exc:
            log.warning("attended transfer %s of call %s failed: %s", step, req.get("communication_id"),
                        _short(exc))
            state = "failed"
        if state and live:
            self.bus.publish(events.CALL_CONSULTING, user_id=live.get("user_id"), call_id=channel_id,
                             communication_id=live["comm_id"], state=state, label=live.get("consult", ""))

    def _on_attended_transfer(self, manager, event) -> None:
        asyncio.ensure_future(self._attended_transfer(dict(event.items())))

    async def _attended_transfer(self, ev: dict) -> None:
        """Asterisk finished an attended transfer: the caller now talks to the target."""
        for channel_id, live in list(self.live.items()):
            if ev.get("OrigTransfererChannel") == live.get("agent_channel") and live.get("consult"):
                ok = ev.get("Result") == "Success"
                label = live.pop("consult")
                if ok:
                    await asyncio.to_thread(history.add_note, self.db, live["comm_id"], f"Transferred to {label}")
                self.bus.publish(events.CALL_CONSULTING, user_id=live.get("user_id"), call_id=channel_id,
                                 communication_id=live["comm_id"], state="completed" if ok else "failed",
                                 label=label)
                target = next((dest for dest, leg in self._xfer_legs.items()
                               if leg["call_id"] == channel_id and leg["answered"]), None)
                if ok and target:   # the agent consulted now has the caller
                    await self._hand_over(target, self._xfer_legs.pop(target))

    # -- the transfer target's side (VOI-8, VOI-9): their card rings, talks, ends -------------
    def _on_dial(self, manager, event) -> None:
        """Dials to an agent's softphone that transfer a live call: the caller's own channel
        dialling after a blind transfer, or the consultation leg of an attended one.  Cheap for
        every other dial and hang-up (a dictionary look-up)."""
        kind = event.get("Event")
        dest = event.get("Channel", "") if kind == "Hangup" else event.get("DestChannel", "")
        if kind == "DialBegin":
            found = self._transferred_call(event.get("Uniqueid", ""), dest)
            if found is None:
                return
            self._xfer_legs[dest] = {"call_id": found[0], "consult": found[1], "user_id": None,
                                     "answered": False, "known": asyncio.Event()}
        leg = self._xfer_legs.get(dest)
        if leg is not None:
            asyncio.ensure_future(self._transfer_leg(kind, dest, leg, event.get("DialStatus", "")))

    def _transferred_call(self, uid: str, dest: str) -> tuple[str, bool] | None:
        """(the live call, whether it is a consultation) this dial transfers, or None."""
        if not dest.startswith("PJSIP/"):
            return None
        endpoint = dest[len("PJSIP/"):].rsplit("-", 1)[0]
        live = self.live.get(uid)
        if live is not None:
            # the queue rings agents from the caller's channel too, but only before one answered
            agent = live.get("agent_channel") or ""
            return (uid, False) if agent and not agent.startswith(f"PJSIP/{endpoint}-") else None
        consulting = [cid for cid, lv in self.live.items() if lv.get("consult") and lv.get("consult_target") == endpoint]
        return (consulting[-1], True) if consulting else None

    async def _transfer_leg(self, kind: str, dest: str, leg: dict, dial_status: str) -> None:
        live = self.live.get(leg["call_id"])
        if kind == "DialBegin":
            user_id = await asyncio.to_thread(self._user_for, dest.rsplit("-", 1)[0])
            if user_id is None or live is None or "comm_id" not in live:   # a number, not an agent
                self._xfer_legs.pop(dest, None)
            else:
                leg["user_id"] = user_id
                await asyncio.to_thread(history.agent_rung, self.db, live["comm_id"], user_id)
                self.bus.publish(events.AGENT_RINGING, user_id=user_id, call_id=leg["call_id"],
                                 caller=live.get("caller", ""), communication_id=live["comm_id"])
            leg["known"].set()
            return
        try:
            await asyncio.wait_for(leg["known"].wait(), 10)
        except asyncio.TimeoutError:
            pass
        if self._xfer_legs.get(dest) is not leg or live is None:
            return
        if kind == "DialEnd" and dial_status == "ANSWER":
            leg["answered"] = True
            if not leg["consult"]:
                await self._hand_over(dest, self._xfer_legs.pop(dest))
            else:   # talking with the colleague who consults; the caller follows on "complete"
                self.bus.publish(events.CALL_CONNECTED, user_id=leg["user_id"], call_id=leg["call_id"],
                                 communication_id=live["comm_id"])
        elif kind != "DialBegin":   # not answered, or hung up (consultation cancelled)
            self._xfer_legs.pop(dest, None)
            self.bus.publish(events.AGENT_LEFT_CALL, user_id=leg["user_id"], call_id=leg["call_id"],
                             communication_id=live["comm_id"])

    async def _hand_over(self, dest: str, leg: dict) -> None:
        """The transfer target talks to the caller: from now on the call is theirs (card actions,
        hold and transfer act on their channel; History names them)."""
        live = self.live.get(leg["call_id"])
        if live is None:
            return
        live["agent_channel"], live["user_id"] = dest, leg["user_id"]
        await asyncio.to_thread(history.handed_over, self.db, live["comm_id"], leg["user_id"])
        self.bus.publish(events.CALL_CONNECTED, user_id=leg["user_id"], call_id=leg["call_id"],
                         communication_id=live["comm_id"])

    def _on_outbound_event(self, manager, event) -> None:
        uid = event.get("Uniqueid", "")
        if uid in self.outbound:
            asyncio.ensure_future(self._outbound_event(uid, dict(event.items())))
        elif event.get("Event") == "Hangup" and uid in self.calls and self.live.get(uid, {}).get("queued"):
            # an inbound call that left Stasis for the queue (not watched over ARI); calls still
            # in Stasis end by ARI's ChannelDestroyed, which has the cause Centrala set
            try:
                cause = int(event.get("Cause", ""))
            except ValueError:
                cause = None
            if self._call_ended(uid, cause):
                asyncio.ensure_future(self._finish_call(uid, cause))

    async def _outbound_event(self, uid: str, ev: dict) -> None:
        call = self.outbound.get(uid)
        if call is None:
            return
        if ev.get("Event") == "DialEnd" and ev.get("DialStatus") == "ANSWER":
            await asyncio.to_thread(history.answered_outbound, self.db, call["comm_id"])
            self.bus.publish(events.CALL_CONNECTED, user_id=None, call_id=uid, communication_id=call["comm_id"])
        elif ev.get("Event") == "Hangup":
            self.outbound.pop(uid, None)
            row = await asyncio.to_thread(history.finish, self.db, call["comm_id"],
                                          recording=self._call_recording(uid))
            if row is not None:
                self.bus.publish(events.CALL_LOGGED, communication_id=row.id, outcome=row.outcome, call_id=uid)

    # -- queue events (AMI) -----------------------------------------------------------------
    def _on_queue_event(self, manager, event) -> None:
        asyncio.ensure_future(self._queue_event(dict(event.items()) if hasattr(event, "items") else event))

    def _queue_view_soon(self) -> None:
        """Refresh the live queue view (QueueStatus + a database write) at most every
        QUEUE_VIEW_DELAY s however many queue events a burst of calls brings."""
        if not self._queue_view_pending:
            self._queue_view_pending = True

            def due():
                self._queue_view_pending = False
                self._sync_wanted.set()
            asyncio.get_running_loop().call_later(QUEUE_VIEW_DELAY, due)

    def _user_for(self, interface: str) -> int | None:
        """Queue member interface -> user id, cached until users change (runs in a thread)."""
        if interface not in self._interface_users:
            self._interface_users[interface] = history.user_for_interface(self.db, interface)
        return self._interface_users[interface]

    async def _queue_event(self, ev: dict) -> None:
        self._queue_view_soon()
        live = self.live.get(ev.get("Uniqueid", ""))
        if not live:
            return
        kind = ev.get("Event")
        if kind == "QueueCallerAbandon":
            live["abandoned"] = True
            return
        if "comm_id" not in live and "opened" in live:
            try:
                await asyncio.wait_for(live["opened"].wait(), 10)
            except asyncio.TimeoutError:
                pass
        if "comm_id" not in live:
            return
        interface = ev.get("Interface", "")
        if kind == "AgentCalled":
            def rung():
                user_id = self._user_for(interface)
                if user_id is not None:
                    history.agent_rung(self.db, live["comm_id"], user_id)
                return user_id
            user_id = await asyncio.to_thread(rung)
            if user_id is not None:
                self.bus.publish(events.AGENT_RINGING, user_id=user_id, call_id=ev.get("Uniqueid"),
                                 caller=ev.get("CallerIDNum", ""), communication_id=live["comm_id"])
        elif kind == "AgentConnect":
            live["agent_channel"] = ev.get("DestChannel")

            def connect():
                user_id = self._user_for(interface)
                history.answered(self.db, live["comm_id"], user_id)
                return user_id
            live["user_id"] = user_id = await asyncio.to_thread(connect)
            self.bus.publish(events.CALL_CONNECTED, user_id=user_id, call_id=ev.get("Uniqueid"),
                             communication_id=live["comm_id"])

    async def _watch_channel(self, client, channel_id: str) -> None:
        """Keep receiving a call's events after it leaves Stasis (to a queue, or hung up),
        so its end and real hangup cause are always seen."""
        try:
            await client.applications.subscribe(applicationName=ARI_APP, eventSource=f"channel:{channel_id}")
            self._watched.add(channel_id)
        except Exception as exc:
            log.info("could not watch channel %s: %s", channel_id, exc)


def _agent_views(db) -> list[AgentView]:
    from sqlalchemy import select

    from centrala.models import User

    with db.session() as s:
        return [AgentView(u.sip_username, u.name, u.status, tuple(u.channels or ()), bool(u.active))
                for u in s.scalars(select(User).where(User.sip_username.is_not(None)))]


def _version_of(info) -> str | None:
    data = info if isinstance(info, dict) else getattr(info, "json", None) or {}
    return (data.get("system") or {}).get("version")


def _short(exc: BaseException) -> str:
    if isinstance(exc, BaseExceptionGroup):
        return "; ".join(_short(e) for e in exc.exceptions)
    return f"{type(exc).__name__}: {exc}"


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
