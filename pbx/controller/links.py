"""The controller's two links to Asterisk: AMI (panoramisk, see pbx/ami.py) and ARI (asyncari),
each reconnecting with back-off; the ``pbx_status`` row kept current; and the resync after a
(re)connect that closes the calls Asterisk no longer has."""
from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timezone

import anyio
import asyncari

from agents import events
from agents.backoff import Backoff
from centrala.pbx_status import read_status, write_status

from .. import history
from ..render import ARI_APP
from .ari_rest import AriRest
from .base import ControllerBase, short

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
# ARI requests in flight at once over kept-alive connections (asyncari's own client keeps one
# connection alive and opens at most three: at 20 calls/s requests queued behind each other and
# most opened a new connection, ~300 ms at p99 for the continueInDialplan that answers a call)
ARI_CONNECTIONS = 8
# ARI events the controller reads (an application event filter drops the rest in Asterisk)
ARI_EVENTS = ("StasisStart", "StasisEnd", "ChannelStateChange", "ChannelHangupRequest", "ChannelDestroyed",
              "PlaybackFinished", "RecordingFinished", "RecordingFailed")


def previous_heartbeat(db) -> datetime | None:
    """When the controller that ran before this one last said it was alive (runs in a thread)."""
    row = read_status(db)
    beat = row.heartbeat_at if row is not None else None
    return beat.replace(tzinfo=timezone.utc) if beat is not None and beat.tzinfo is None else beat


class Links(ControllerBase):
    # -- the status row --------------------------------------------------------------------
    async def _status_loop(self) -> None:
        """Write the status row on every change and as a heartbeat; refresh the version."""
        while True:
            try:
                await asyncio.wait_for(self._status_dirty.wait(), timeout=self.heartbeat)
            except asyncio.TimeoutError:
                pass
            self._status_dirty.clear()
            self._mark_calls_seen()
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
        self._calls_verified = False
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
            self._request_sync()
            await self._resync_contacts()
            if self.ari is not None:   # Hangup events missed while AMI was away
                await self._reconcile_calls(self.ari)
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
                    await _widen_pool(client)
                    self.ari_rest = AriRest("127.0.0.1", self.settings.ari_port, secrets.ari_user,
                                            secrets.ari_password)
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
                    log.warning("ARI connection lost: %s", short(exc))
                else:
                    log.debug("ARI not reachable: %s", short(exc))
            finally:
                self.ari = None
                if self.ari_rest is not None:
                    self.ari_rest.close()
                    self.ari_rest = None
                self._calls_verified = False
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
            log.warning("ARI event filter not set: %s", short(exc))

    async def _ari_resync(self, client) -> None:
        """Reconcile live calls with what Asterisk has after a (re)connect."""
        live = await self._reconcile_calls(client)
        self.bus.publish(events.PBX_RESYNCED, link="ari", channels=len(live))

    async def _reconcile_calls(self, client) -> set[str]:
        """Forget calls Asterisk no longer has and close their History rows as interrupted (calls
        that died with Asterisk, or ended while this controller or one of its links was down), at
        the last moment each was known to be live: an outage is not talk time (issue 12, defect 7)."""
        resync_at = datetime.now(timezone.utc)
        channels = await client.channels.list()
        live = {c.id for c in channels} if channels else set()
        for call_id in self.calls.replace_all(live):
            self.bus.publish(events.CALL_ENDED, call_id=call_id, cause=None,
                             cause_text="lost while the PBX was unreachable", duration=None)
        last_seen = {c.comm_id: _utc(c.last_seen) for c in (*self.live.values(), *self.outbound.values())
                     if c.comm_id is not None}
        closed = await self._history_write(history.close_lost, self.db, live, resync_at, last_seen,
                                         self._previous_heartbeat)
        for comm_id, outcome, channel_id in closed:
            self.live.pop(channel_id, None)
            self.outbound.pop(channel_id, None)
            self.bus.publish(events.CALL_LOGGED, communication_id=comm_id, outcome=outcome, call_id=channel_id)
        self._calls_verified = True
        return live


async def _widen_pool(client) -> None:
    """Give asyncari's HTTP client a connection pool sized for a call rate (see ARI_CONNECTIONS)."""
    import httpx

    http = client.swagger.http_client
    old, limits = http.session, httpx.Limits(max_keepalive_connections=ARI_CONNECTIONS,
                                             max_connections=ARI_CONNECTIONS)
    http.session = httpx.AsyncClient(timeout=old.timeout, limits=limits)
    await old.aclose()


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, timezone.utc)


def _version_of(info) -> str | None:
    data = info if isinstance(info, dict) else getattr(info, "json", None) or {}
    return (data.get("system") or {}).get("version")
