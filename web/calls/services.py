"""Click-to-call (COM-2): the request side.  The pbx controller does the dialling."""
from __future__ import annotations

from sqlalchemy import select

from agents import events
from agents.conversation import OUTBOUND_SKILL
from agents.numbers import to_e164
from centrala.account import default_region, saved
from centrala.channels.voice import VOICE
from centrala.conversations import lifecycle
from centrala.models import Communication, Number, Trunk, User


class CallError(ValueError):
    pass


def request_call(session, bus, settings, user: User, number: str, from_number: str | None = None) -> Communication:
    account = saved(session)
    if not (settings.voice_outbound if account.get("voice_outbound") is None else account["voice_outbound"]):
        raise CallError("outbound calls are switched off (Settings / Voice / General)")   # VOI-6
    if OUTBOUND_SKILL[VOICE.key] not in (user.channels or []):
        raise CallError("this user does not take part in outbound calls")   # VOI-6: Settings / Voice / Users
    region = default_region(session, settings)
    customer = to_e164(number, region)
    if customer is None:
        raise CallError("not a valid phone number")
    if not user.sip_username:
        raise CallError("this user has no SIP account")
    q = select(Number).where(Number.enabled.is_(True)).order_by(Number.id)
    if from_number:
        ours = to_e164(from_number, region)
        q = q.where(Number.number == ours)
    pool_number = session.scalar(q)
    if pool_number is None:
        raise CallError("no such company number" if from_number else "no company number to call from")
    trunk = session.get(Trunk, pool_number.trunk_id)
    row = lifecycle.open(session, VOICE.key, direction="outbound", remote=customer, agent_id=user.id,
                         our_number=pool_number.number, trunk=trunk.name)
    row.agents_rung = [user.id]
    lifecycle.commit(session, bus)   # conversation.opened
    bus.publish(events.CALL_REQUESTED, communication_id=row.id, sip_username=user.sip_username,
                number=customer, our_number=pool_number.number, trunk=trunk.name,
                ring_timeout=account.get("ring_timeout") or settings.ring_timeout,
                record=pool_number.record_calls)   # the number's own recording switch (VOI-5), or None
    return row
