"""What agents ask of a call from the panel or the API (published on the bus by web's use cases):
click-to-call (COM-2), hang up, hold, blind transfer and attended transfer (VOI-9), and the AMI
events that tell how a click-to-call and an attended transfer went."""
from __future__ import annotations

import asyncio
import logging

from agents import events

from .. import history
from .base import ControllerBase, short
from .decisions import consulting_call
from .live import OutboundCall

log = logging.getLogger(__name__)


class CallActions(ControllerBase):
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
            self.outbound[f"c2c-{comm_id}"] = OutboundCall(comm_id)
        except Exception as exc:
            log.warning("click-to-call %s failed: %s", comm_id, short(exc))
            await self._history_write(history.finish, self.db, comm_id, refused=True)
            self.bus.publish(events.CALL_LOGGED, communication_id=comm_id, outcome="failed", call_id=None)

    def _on_outbound_event(self, manager, event) -> None:
        uid = event.get("Uniqueid", "")
        if uid in self.outbound:
            asyncio.ensure_future(self._outbound_event(uid, dict(event.items())))

    async def _outbound_event(self, uid: str, ev: dict) -> None:
        call = self.outbound.get(uid)
        if call is None:
            return
        call.seen()
        if ev.get("Event") == "DialEnd" and ev.get("DialStatus") == "ANSWER":
            await self._history_write(history.answered_outbound, self.db, call.comm_id)
            self.bus.publish(events.CALL_CONNECTED, user_id=None, call_id=uid, communication_id=call.comm_id)
        elif ev.get("Event") == "Hangup":
            self.outbound.pop(uid, None)
            row = await self._history_write(lambda: history.finish(self.db, call.comm_id,
                                                                 recording=self._call_recording(uid)))
            if row is not None:
                self.bus.publish(events.CALL_LOGGED, communication_id=row.id, outcome=row.outcome, call_id=uid)

    # -- hang up and blind transfer -------------------------------------------------------------
    async def _hangup(self, req: dict) -> None:
        """End a call from the panel or the API: hang up the customer's (or click-to-call) channel."""
        channel_id = req.get("pbx_id") or f"c2c-{req['communication_id']}"
        try:
            if self.ari is None:
                raise ConnectionError("ARI is not connected")
            await self.ari.channels.hangup(channelId=channel_id, reason="normal")
        except Exception as exc:
            log.info("hang up of %s failed: %s", channel_id, short(exc))

    async def _transfer(self, req: dict) -> None:
        """Blind transfer (VOI-9): the agent's party goes to another agent or a number."""
        live = self.live.get(req.get("pbx_id") or "")
        agent_channel = live.agent_channel if live else None
        try:
            if not agent_channel:
                raise RuntimeError("no agent is talking on this call")
            resp = await self._action({"Action": "BlindTransfer", "Channel": agent_channel,
                                       "Context": "centrala-transfer", "Exten": req["target"]})
            if resp.get("Response") != "Success":
                raise RuntimeError(resp.get("Message"))
            await self._history_write(history.add_note, self.db, req["communication_id"],
                                    f"Transferred to {req.get('label') or req['target']}")
        except Exception as exc:
            log.warning("transfer of call %s failed: %s", req.get("communication_id"), short(exc))

    # -- hold and attended transfer (VOI-9) ---------------------------------------------------
    async def _hold(self, req: dict) -> None:
        """Hold: caller to hold music, agent to silence (dialplan centrala-hold); unhold: bridge
        them again.  Each side knows its peer, so a hang-up while held ends both."""
        channel_id = req.get("pbx_id") or ""
        live = self.live.get(channel_id)
        agent = live.agent_channel if live else None
        try:
            if not agent:
                raise RuntimeError("no agent is talking on this call")
            if req["hold"] and not live.held:
                for chan, peer in ((channel_id, agent), (agent, channel_id)):
                    await self._action({"Action": "Setvar", "Channel": chan, "Variable": "CENTRALA_PEER",
                                        "Value": peer})
                    await self._action({"Action": "Setvar", "Channel": chan, "Variable": "CENTRALA_HELD",
                                        "Value": "1"})
                resp = await self._action({
                    "Action": "Redirect", "Channel": channel_id, "Context": "centrala-hold", "Exten": "caller",
                    "Priority": "1", "ExtraChannel": agent, "ExtraContext": "centrala-hold",
                    "ExtraExten": "agent", "ExtraPriority": "1"})
            elif not req["hold"] and live.held:
                for chan in (channel_id, agent):
                    await self._action({"Action": "Setvar", "Channel": chan, "Variable": "CENTRALA_HELD",
                                        "Value": "0"})
                resp = await self._action({"Action": "Bridge", "Channel1": channel_id, "Channel2": agent,
                                           "Tone": "no"})
            else:
                resp = {"Response": "Success"}  # already in the state asked for
            if resp.get("Response") != "Success":
                raise RuntimeError(resp.get("Message"))
            live.held = bool(req["hold"])
            self.bus.publish(events.CALL_HELD, user_id=live.user_id, call_id=channel_id,
                             communication_id=live.comm_id, held=live.held)
        except Exception as exc:
            log.warning("hold=%s of call %s failed: %s", req.get("hold"), req.get("communication_id"), short(exc))

    async def _consult(self, req: dict) -> None:
        """Attended transfer: ``start`` puts the caller on hold and rings the target from the
        agent's side; ``complete`` hangs up the agent's leg (Asterisk joins caller and target);
        ``cancel`` returns the agent to the caller."""
        channel_id = req.get("pbx_id") or ""
        live = self.live.get(channel_id)
        agent = live.agent_channel if live else None
        step = req.get("step")
        try:
            if not agent:
                raise RuntimeError("no agent is talking on this call")
            if step == "start":
                if live.held:
                    raise RuntimeError("take the call off hold first")
                await self._action({"Action": "Setvar", "Channel": agent, "Variable": "__CENTRALA_XFER_TARGET",
                                    "Value": req["target"]})
                resp = await self._action({"Action": "Atxfer", "Channel": agent, "Context": "centrala-consult",
                                           "Exten": "0#"})
                live.consult = req.get("label") or req["target"]
                live.consult_target = req["target"]
                state = "consulting"
            elif step == "complete":
                resp = await self._action({"Action": "Hangup", "Channel": agent})
                state = None  # the AttendedTransfer event says how it ended
            else:
                resp = await self._action({"Action": "CancelAtxfer", "Channel": agent})
                live.consult = None
                state = "cancelled"
            if resp.get("Response") != "Success":
                raise RuntimeError(resp.get("Message"))
        except Exception as exc:
            log.warning("attended transfer %s of call %s failed: %s", step, req.get("communication_id"),
                        short(exc))
            state = "failed"
        if state and live:
            self.bus.publish(events.CALL_CONSULTING, user_id=live.user_id, call_id=channel_id,
                             communication_id=live.comm_id, state=state, label=live.consult or "")

    def _on_attended_transfer(self, manager, event) -> None:
        asyncio.ensure_future(self._attended_transfer(dict(event.items())))

    async def _attended_transfer(self, ev: dict) -> None:
        """Asterisk finished an attended transfer: the caller now talks to the target."""
        channel_id = consulting_call(self.live, ev.get("OrigTransfererChannel"))
        if channel_id is None:
            return
        live = self.live[channel_id]
        live.seen()
        ok = ev.get("Result") == "Success"
        label, live.consult = live.consult, None
        if ok:
            await self._history_write(history.add_note, self.db, live.comm_id, f"Transferred to {label}")
        self.bus.publish(events.CALL_CONSULTING, user_id=live.user_id, call_id=channel_id,
                         communication_id=live.comm_id, state="completed" if ok else "failed", label=label)
        target = self._answered_consultation(channel_id)
        if ok and target:   # the agent consulted now has the caller
            await self._hand_over(target, self._xfer_legs.pop(target))
