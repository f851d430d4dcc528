"""The controller's decisions on Asterisk's events, as pure functions of the event and the live
calls: no I/O, so they are unit-tested without Asterisk (tests/unit/test_controller_decisions.py).
The modules beside this one do the I/O (AMI/ARI actions, History writes, bus events)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from agents.history import outcome

from .live import LiveCall

Q850 = {16: "Normal clearing", 17: "User busy", 18: "No user responding", 19: "No answer",
        21: "Call rejected", 31: "Normal, unspecified", 34: "No circuit available",
        38: "Network out of order", 127: "Interworking, unspecified"}


def cause_text(cause: int | None) -> str:
    return Q850.get(cause, str(cause))


def endpoint_of(channel: str) -> str:
    """``PJSIP/ann-0000002a`` -> ``ann`` (the endpoint a channel belongs to)."""
    return channel.split("/", 1)[-1].rsplit("-", 1)[0]


def trunk_of(endpoint: str) -> str | None:
    """The trunk name of an inbound call's endpoint (``trunk-<name>``)."""
    return endpoint[len("trunk-"):] if endpoint.startswith("trunk-") else endpoint or None


# -- Stasis ------------------------------------------------------------------------------
@dataclass(frozen=True)
class StasisEntry:
    """What a StasisStart says about a call entering Centrala's app."""
    call_id: str
    caller: str
    number: str            # the number dialled
    args: list
    endpoint: str          # the endpoint the call came from (a trunk, or an agent's softphone)

    @property
    def inbound(self) -> bool:
        return self.args[:1] == ["inbound"]


def stasis_entry(channel: Mapping, args) -> StasisEntry:
    """Read an ARI StasisStart's channel JSON and application arguments."""
    args = list(args or [])
    caller = (channel.get("caller") or {}).get("number", "")
    number = args[1] if len(args) > 1 else (channel.get("dialplan") or {}).get("exten", "")
    return StasisEntry(channel.get("id", ""), caller, number, args, endpoint_of(channel.get("name", "")))


# -- queue events ------------------------------------------------------------------------
@dataclass(frozen=True)
class QueueStep:
    """What a queue event means for a live call: ``abandoned`` (the caller left unanswered),
    ``ringing`` (an agent's phone rings) or ``connected`` (an agent answered)."""
    kind: str
    call_id: str
    interface: str = ""
    agent_channel: str | None = None
    caller: str = ""


_QUEUE_KINDS = {"QueueCallerAbandon": "abandoned", "AgentCalled": "ringing", "AgentConnect": "connected"}


def queue_step(ev: Mapping, live: Mapping[str, LiveCall]) -> QueueStep | None:
    """The step an AMI queue event is for one of the live calls; None for any other event
    (QueueCallerJoin/Leave, AgentComplete only refresh the queue view) or call."""
    call_id = ev.get("Uniqueid", "")
    kind = _QUEUE_KINDS.get(ev.get("Event", ""))
    if kind is None or call_id not in live:
        return None
    return QueueStep(kind, call_id, ev.get("Interface", ""),
                     ev.get("DestChannel") if kind == "connected" else None, ev.get("CallerIDNum", ""))


# -- hang-ups ----------------------------------------------------------------------------
def hangup_cause(ev: Mapping) -> int | None:
    try:
        return int(ev.get("Cause", ""))
    except (TypeError, ValueError):
        return None


def ends_queued_call(ev: Mapping, live: Mapping[str, LiveCall]) -> bool:
    """An AMI Hangup ends an inbound call that left Stasis for the queue (not watched over ARI;
    calls still in Stasis end by ARI's ChannelDestroyed, which has the cause Centrala set)."""
    call = live.get(ev.get("Uniqueid", ""))
    return ev.get("Event") == "Hangup" and call is not None and call.queued


def finish_flags(call: LiveCall) -> dict:
    """What the History row's outcome needs from the live call (see :func:`ended_outcome`)."""
    return {"voicemail": call.voicemail, "abandoned": call.abandoned, "refused": call.refused}


def ended_outcome(call: LiveCall, answered: bool, stored_voicemail: bool = False) -> str:
    """The outcome of an inbound call that ended normally (one rule: agents.history.outcome)."""
    return outcome(ended=True, answered=answered, voicemail=bool(call.voicemail) or stored_voicemail,
                   abandoned=call.abandoned, refused=call.refused)


# -- transfers ---------------------------------------------------------------------------
def transferred_call(live: Mapping[str, LiveCall], uid: str, dest: str) -> tuple[str, bool] | None:
    """A DialBegin from channel ``uid`` to ``dest``: (the live call it transfers, whether it is the
    consultation leg of an attended transfer), or None for any other dial.

    A blind transfer makes the caller's own channel dial the target; the queue dials agents from
    the caller's channel too, but only before one answered, so a dial counts once an agent talks
    and goes to another endpoint.  A consultation is dialled from the agent's side: it is matched
    by the target the agent is consulting (the latest such call when several consult one)."""
    if not dest.startswith("PJSIP/"):
        return None
    endpoint = endpoint_of(dest)
    call = live.get(uid)
    if call is not None:
        agent = call.agent_channel or ""
        return (uid, False) if agent and not agent.startswith(f"PJSIP/{endpoint}-") else None
    consulting = [cid for cid, c in live.items() if c.consult and c.consult_target == endpoint]
    return (consulting[-1], True) if consulting else None


def consulting_call(live: Mapping[str, LiveCall], transferer_channel: str | None) -> str | None:
    """The live call whose agent (``OrigTransfererChannel`` of an AttendedTransfer) consults."""
    for call_id, call in live.items():
        if transferer_channel and call.agent_channel == transferer_channel and call.consult:
            return call_id
    return None
