"""Actions on a call in progress (VOI-9): hang up, hold/unhold, blind and attended transfer.

One place for the rules, used by the panel's call card and by the REST API.  The pbx
controller carries the requests out and reports back with domain events (CALL_HELD,
CALL_CONSULTING, CALL_LOGGED)."""
from __future__ import annotations

from agents import events
from agents.numbers import to_e164
from centrala.account import default_region
from centrala.models import Communication, User

from ..routing import MAX_ID


class CallActionError(Exception):
    """``status`` is the HTTP status the refusal maps to; the message is in English (the API's
    language); the panel translates it by ``code``."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code = status, code


def _own_call(session, user: User, comm_id: int, *, answered: bool) -> Communication:
    c = session.get(Communication, comm_id)
    if c is None:
        raise CallActionError(404, "not_found", "No such communication.")
    if not user.is_admin and c.agent_id not in (None, user.id):
        raise CallActionError(403, "not_yours", "This is another agent's call.")
    if c.channel != "voice" or c.outcome != "in_progress":
        raise CallActionError(409, "not_in_progress", "This call is not in progress.")
    if answered and (c.direction != "inbound" or c.answered_at is None):
        raise CallActionError(409, "not_answered", "Only an answered inbound call in progress can be "
                                                   "held or transferred.")
    if answered and not user.is_admin and c.agent_id != user.id:
        raise CallActionError(403, "not_yours", "This is another agent's call.")
    return c


def hangup(session, bus, user: User, comm_id: int) -> Communication:
    c = _own_call(session, user, comm_id, answered=False)
    bus.publish(events.CALL_HANGUP_REQUESTED, communication_id=c.id,
                pbx_id=c.pbx_id if c.direction == "inbound" else None)
    return c


def hold(session, bus, user: User, comm_id: int, on: bool) -> Communication:
    c = _own_call(session, user, comm_id, answered=True)
    bus.publish(events.CALL_HOLD_REQUESTED, communication_id=c.id, pbx_id=c.pbx_id, hold=bool(on))
    return c


def transfer_target(session, settings, data: dict) -> tuple[str, str]:
    """(dialplan target, label) from ``{"user_id": …}`` (an agent's softphone) or ``{"number": …}``."""
    if data.get("user_id") not in (None, ""):
        uid = str(data["user_id"])
        target_user = session.get(User, int(uid)) if uid.isdigit() and int(uid) <= MAX_ID else None
        if target_user is None or not target_user.active or not target_user.sip_username:
            raise CallActionError(422, "bad_agent", "No such active user with a softphone.")
        return target_user.sip_username, target_user.name
    number = to_e164(str(data.get("number", "")), default_region(session, settings))
    if number is None:
        raise CallActionError(422, "bad_target", "Give user_id or a valid number.")
    return number, number


def transfer(session, bus, settings, user: User, comm_id: int, data: dict) -> str:
    """Blind transfer, or with ``attended`` true the start of an attended one (consultation)."""
    c = _own_call(session, user, comm_id, answered=True)
    target, label = transfer_target(session, settings, data)
    if data.get("attended"):
        bus.publish(events.CALL_CONSULT_REQUESTED, communication_id=c.id, pbx_id=c.pbx_id, step="start",
                    target=target, label=label)
    else:
        bus.publish(events.CALL_TRANSFER_REQUESTED, communication_id=c.id, pbx_id=c.pbx_id, target=target,
                    label=label)
    return label


def consult_step(session, bus, user: User, comm_id: int, step: str) -> Communication:
    """Finish an attended transfer: ``complete`` (caller and target talk) or ``cancel``."""
    if step not in ("complete", "cancel"):
        raise CallActionError(404, "not_found", "No such step.")
    c = _own_call(session, user, comm_id, answered=True)
    bus.publish(events.CALL_CONSULT_REQUESTED, communication_id=c.id, pbx_id=c.pbx_id, step=step)
    return c
