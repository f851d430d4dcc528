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

import anyio
import asyncari

from agents import events
from agents.backoff import Backoff
from agents.calls import CallRegistry
from centrala.config import Settings

from . import stasis
from .ami import AmiConnection
from .render import ARI_APP
from centrala.pbx_status import write_status

log = logging.getLogger(__name__)

Q850 = {16: "Normal clearing", 17: "User busy", 18: "No user responding", 19: "No answer",
        21: "Call rejected", 31: "Normal, unspecified", 34: "No circuit available",
        38: "Network out of order", 127: "Interworking, unspecified"}


class Controller:
    def __init__(self, settings: Settings, db, bus: events.EventBus, heartbeat: float = 1.0):
        self.settings = settings
        self.db = db
        self.bus = bus
        self.heartbeat = heartbeat
        self.calls = CallRegistry()
        self.playbacks = stasis.PlaybackWaiter()
        self._watched: set[str] = set()
        self.ami: AmiConnection | None = None
        self.ari = None
        self.ami_up = False
        self.ari_up = False
        self.version: str | None = None
        self._stop: asyncio.Event | None = None
        self._stop_requested = False
        self._status_dirty: asyncio.Event | None = None

    # -- lifecycle -----------------------------------------------------------------------
    async def run(self) -> None:
        self._stop = asyncio.Event()
        self._status_dirty = asyncio.Event()
        if self._stop_requested:
            self._stop.set()
        secrets = self.settings.secrets
        self.ami = AmiConnection(
            host="127.0.0.1", port=self.settings.ami_port, username=secrets.ami_user,
            secret=secrets.ami_password, loop=asyncio.get_running_loop(),
            on_up=self._ami_up, on_down=self._ami_down)
        self.ami.connect()
        tasks = [asyncio.create_task(self._ari_loop(), name="ari"),
                 asyncio.create_task(self._status_loop(), name="status")]
        try:
            await self._stop.wait()
        finally:
            self.ami.close()
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self.ami_up = self.ari_up = False
            await asyncio.to_thread(write_status, self.db, False, False, self.version)

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
        self.bus.publish(events.PBX_DISCONNECTED, link="ami", error=str(exc) if exc else None)
        self._changed()

    async def _ami_resync(self) -> None:
        """After (re)connecting: read the version; later issues re-apply queue membership here."""
        try:
            resp = await self.ami.send_action({"Action": "CoreSettings"})
            self.version = resp.get("AsteriskVersion") or self.version
            self._changed()
            self.bus.publish(events.PBX_RESYNCED, link="ami", channels=None)
        except Exception as exc:
            log.warning("AMI resync failed: %s", exc)

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

    async def _ari_resync(self, client) -> None:
        """Reconcile live calls with what Asterisk has after a (re)connect."""
        channels = await client.channels.list()
        live = {c.id for c in channels} if channels else set()
        for call_id in self.calls.replace_all(live):
            self.bus.publish(events.CALL_ENDED, call_id=call_id, cause=None,
                             cause_text="lost while the PBX was unreachable", duration=None)
        self.bus.publish(events.PBX_RESYNCED, link="ari", channels=len(live))

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
                tg.start_soon(self._start_flow, client, ch.id, args)
            elif kind == "ChannelStateChange" and msg.channel.json.get("state") == "Up":
                if self.calls.answered(msg.channel.id):
                    self.bus.publish(events.CALL_ANSWERED, call_id=msg.channel.id)
            elif kind == "PlaybackFinished":
                self.playbacks.finished(msg.playback.id)
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
                call = self.calls.end(msg.channel.id, cause)
                if call:
                    self.bus.publish(events.CALL_ENDED, call_id=call.call_id, cause=cause,
                                     cause_text=Q850.get(cause, str(cause)), duration=call.duration)

    async def _start_flow(self, client, channel_id: str, args: list[str]) -> None:
        await self._watch_channel(client, channel_id)
        if args[:1] == ["inbound"]:
            await stasis.inbound_unknown_number(client, self.playbacks, channel_id)

    async def _watch_channel(self, client, channel_id: str) -> None:
        """Keep receiving a call's events after it leaves Stasis (to a queue, or hung up),
        so its end and real hangup cause are always seen."""
        try:
            await client.applications.subscribe(applicationName=ARI_APP, eventSource=f"channel:{channel_id}")
            self._watched.add(channel_id)
        except Exception as exc:
            log.info("could not watch channel %s: %s", channel_id, exc)


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
