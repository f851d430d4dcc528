"""The transfer target's side (VOI-8, VOI-9): their card rings, they talk, the call becomes theirs.

Every AMI DialBegin/DialEnd/Hangup passes here; only dials that transfer a live call (see
decisions.transferred_call) are followed, as a :class:`TransferLeg` per target channel."""
from __future__ import annotations

import asyncio
import logging

from agents import events

from .. import history
from .base import ControllerBase
from .decisions import transferred_call
from .live import TransferLeg

log = logging.getLogger(__name__)


class Transfers(ControllerBase):
    def _on_dial(self, manager, event) -> None:
        """Dials to an agent's softphone that transfer a live call: the caller's own channel
        dialling after a blind transfer, or the consultation leg of an attended one.  Cheap for
        every other dial and hang-up (a dictionary look-up)."""
        kind = event.get("Event")
        dest = event.get("Channel", "") if kind == "Hangup" else event.get("DestChannel", "")
        if kind == "DialBegin":
            found = transferred_call(self.live, event.get("Uniqueid", ""), dest)
            if found is None:
                return
            self._xfer_legs[dest] = TransferLeg(call_id=found[0], consult=found[1])
        leg = self._xfer_legs.get(dest)
        if leg is not None:
            asyncio.ensure_future(self._transfer_leg(kind, dest, leg, event.get("DialStatus", "")))

    async def _transfer_leg(self, kind: str, dest: str, leg: TransferLeg, dial_status: str) -> None:
        live = self.live.get(leg.call_id)
        if live is not None:
            live.seen()
        if kind == "DialBegin":
            user_id = await asyncio.to_thread(self._user_for, dest.rsplit("-", 1)[0])
            if user_id is None or live is None or live.comm_id is None:   # a number, not an agent
                self._xfer_legs.pop(dest, None)
            else:
                leg.user_id = user_id
                await self._history_write(history.agent_rung, self.db, live.comm_id, user_id)
                self.bus.publish(events.AGENT_RINGING, user_id=user_id, call_id=leg.call_id,
                                 caller=live.caller, communication_id=live.comm_id)
            leg.known.set()
            return
        try:
            await asyncio.wait_for(leg.known.wait(), 10)
        except asyncio.TimeoutError:
            pass
        if self._xfer_legs.get(dest) is not leg or live is None:
            return
        if kind == "DialEnd" and dial_status == "ANSWER":
            leg.answered = True
            if not leg.consult:
                await self._hand_over(dest, self._xfer_legs.pop(dest))
            else:   # talking with the colleague who consults; the caller follows on "complete"
                self.bus.publish(events.CALL_CONNECTED, user_id=leg.user_id, call_id=leg.call_id,
                                 communication_id=live.comm_id)
        elif kind != "DialBegin":   # not answered, or hung up (consultation cancelled)
            self._xfer_legs.pop(dest, None)
            self.bus.publish(events.AGENT_LEFT_CALL, user_id=leg.user_id, call_id=leg.call_id,
                             communication_id=live.comm_id)

    async def _hand_over(self, dest: str, leg: TransferLeg) -> None:
        """The transfer target talks to the caller: from now on the call is theirs (card actions,
        hold and transfer act on their channel; History names them)."""
        live = self.live.get(leg.call_id)
        if live is None:
            return
        live.agent_channel, live.user_id = dest, leg.user_id
        await self._history_write(history.handed_over, self.db, live.comm_id, leg.user_id)
        self.bus.publish(events.CALL_CONNECTED, user_id=leg.user_id, call_id=leg.call_id,
                         communication_id=live.comm_id)

    def _answered_consultation(self, call_id: str) -> str | None:
        """The consulted target's channel that answered for this call, if any."""
        return next((dest for dest, leg in self._xfer_legs.items()
                     if leg.call_id == call_id and leg.answered), None)
