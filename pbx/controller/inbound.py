"""An inbound call in Centrala's Stasis app: the number and its hours decide (agents/inbound.py)
between the queue, the answering machine and a polite refusal; the History row is opened on the
way in and finished when the caller's channel is gone (ARI for calls still in Stasis, AMI Hangup
for calls handed to the queue)."""
from __future__ import annotations

import asyncio
import logging
import time

from agents import events
from agents.inbound import Route, inbound_route
from centrala import telephony
from centrala.models import utcnow

from .. import history, stasis
from ..render import ARI_APP
from .base import ControllerBase, short
from .decisions import cause_text, ends_queued_call, finish_flags, hangup_cause, stasis_entry, trunk_of
from .live import LiveCall

log = logging.getLogger(__name__)


class InboundFlow(ControllerBase):
    async def _consume(self, client, tg) -> None:
        """Turn Stasis events into domain events.  Must stay quick: slow work goes to ``tg``."""
        hangups: dict[str, int | None] = {}
        async for msg in client:
            kind = msg.type
            if kind == "StasisStart":
                entry = stasis_entry(msg.channel.json, getattr(msg, "args", None))
                self.calls.enter(entry.call_id, entry.caller, entry.number)
                self.bus.publish(events.CALL_ENTERED, call_id=entry.call_id, caller=entry.caller,
                                 number=entry.number, args=entry.args)
                if entry.inbound:
                    self.live[entry.call_id] = LiveCall(caller=entry.caller)
                tg.start_soon(self._start_flow, client, entry.call_id, entry.args, entry.caller, entry.endpoint)
            elif kind == "ChannelStateChange" and msg.channel.json.get("state") == "Up":
                self._seen(msg.channel.id)
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

    def _seen(self, channel_id: str) -> None:
        call = self.live.get(channel_id)
        if call is not None:
            call.seen()

    def _on_queued_hangup(self, manager, event) -> None:
        """AMI Hangup: the end of an inbound call that left Stasis for the queue."""
        if event.get("Uniqueid", "") in self.calls and ends_queued_call(event, self.live):
            uid, cause = event.get("Uniqueid", ""), hangup_cause(event)
            if self._call_ended(uid, cause):
                asyncio.ensure_future(self._finish_call(uid, cause))

    def _call_ended(self, channel_id: str, cause) -> bool:
        """A call's channel is gone (ARI for calls still in Stasis, AMI Hangup for calls in the
        queue): publish it once; True if it was a live call (then finish its history row)."""
        call = self.calls.end(channel_id, cause)
        if call:
            self._seen(channel_id)
            self.bus.publish(events.CALL_ENDED, call_id=call.call_id, cause=cause,
                             cause_text=cause_text(cause), duration=call.duration)
        return call is not None

    async def _start_flow(self, client, channel_id: str, args: list[str], caller: str = "",
                          endpoint: str = "") -> None:
        if args[:1] != ["inbound"]:
            await self._watch_channel(client, channel_id)
            return
        live = self.live.setdefault(channel_id, LiveCall())
        live.caller = caller
        opening = None
        try:
            dialled = args[1] if len(args) > 1 else ""
            facts = self._facts
            if facts is None or time.monotonic() - facts[0] > 2 * self.sync_interval:
                facts = await asyncio.to_thread(self._load_facts)
            _, policy, anyone_online = facts
            # the number: in the pool? business hours (BEY-5), own recording switch (VOI-5), inbound on (VOI-6)
            # (a number without a country code is read in Settings / General's region, part of the facts)
            ours = telephony.decide_number(policy, dialled)
            # the history row is written while the call goes on (queue events wait for it)
            live.started_at = utcnow()
            opening = asyncio.ensure_future(self._history_write(
                history.open_call, self.db, channel_id, caller, ours.e164 or dialled, trunk_of(endpoint),
                live.started_at, bus=self.bus))
            route = inbound_route(accepted=ours.accepted, inbound_enabled=ours.inbound_enabled,
                                  open_now=ours.open_now, anyone_online=anyone_online)
            if route is not Route.QUEUE:
                # calls that stay in Stasis are watched, so ChannelDestroyed brings the real cause
                await self._watch_channel(client, channel_id)
            if route is Route.REFUSE:
                live.refused = True
                await stasis.inbound_unknown_number(client, self.playbacks, channel_id)
            elif route is Route.QUEUE:
                # no ARI subscription: once in the queue, the call's end comes from AMI Hangup
                live.queued = True
                await stasis.to_queue(self.ari_rest, client, channel_id, ours.record)
            else:
                await self._voicemail(client, channel_id, live)
        finally:
            if opening is not None:
                try:
                    live.comm_id = await opening
                except Exception as exc:
                    log.warning("history row for %s not written: %s", channel_id, short(exc))
            live.opened.set()
            live.flow_done.set()

    async def _watch_channel(self, client, channel_id: str) -> None:
        """Keep receiving a call's events after it leaves Stasis (to a queue, or hung up),
        so its end and real hangup cause are always seen."""
        try:
            await client.applications.subscribe(applicationName=ARI_APP, eventSource=f"channel:{channel_id}")
            self._watched.add(channel_id)
        except Exception as exc:
            log.info("could not watch channel %s: %s", channel_id, exc)

    async def _voicemail(self, client, channel_id: str, live: LiveCall) -> None:
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
            live.voicemail = str(target.relative_to(self.settings.data_dir))

    def _call_recording(self, channel_id: str) -> str | None:
        """MixMonitor's file for this call (VOI-5), relative to the data dir, if one was made."""
        path = self.settings.recordings_dir / "calls" / f"{channel_id}.wav"
        if path.is_file() and path.stat().st_size > 44:
            return str(path.relative_to(self.settings.data_dir))
        return None

    def _finish_row(self, live: LiveCall, channel_id: str):
        """The History row of an ended call, finished (runs in a thread: it looks for the file)."""
        return history.finish(self.db, live.comm_id, **finish_flags(live),
                              recording=self._call_recording(channel_id),
                              known=history.Known(live.started_at, live.answered_at, remote=live.caller)
                              if live.started_at is not None else None)

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
            await asyncio.wait_for(live.flow_done.wait(), 30)
        except asyncio.TimeoutError:
            pass
        self.live.pop(channel_id, None)
        if live.comm_id is None:
            return
        row = await self._history_write(self._finish_row, live, channel_id)
        if row is not None:
            self.bus.publish(events.CALL_LOGGED, communication_id=row.id, outcome=row.outcome, call_id=channel_id)
            if row.outcome == "voicemail":
                self.bus.publish(events.VOICEMAIL_RECEIVED, communication_id=row.id, caller=row.remote)
