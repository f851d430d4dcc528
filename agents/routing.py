"""Routing policy for voice (STA-2, STA-5, INB-3): who is a queue member, and in what state.

Online agents serving inbound voice are members; agents on Break stay members but paused
(with the reason), so the queue keeps their place; Offline agents are not members.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from .conversation import INBOUND_SKILL, VOICE

VOICE_IN = INBOUND_SKILL[VOICE]   # "voice_in"
BREAK_REASON = "break"


@dataclass(frozen=True)
class Member:
    interface: str      # e.g. PJSIP/agent7
    name: str
    paused: bool
    reason: str = ""


@dataclass(frozen=True)
class AgentView:
    """What routing needs to know of an agent (no ORM object crosses into the domain)."""
    sip_username: str
    name: str
    status: str
    channels: tuple[str, ...]
    active: bool = True


def desired_members(agents: Iterable[AgentView]) -> dict[str, Member]:
    out = {}
    for a in agents:
        if not a.active or VOICE_IN not in a.channels or a.status not in ("online", "break"):
            continue
        iface = f"PJSIP/{a.sip_username}"
        out[iface] = Member(iface, a.name, a.status == "break", BREAK_REASON if a.status == "break" else "")
    return out


@dataclass(frozen=True)
class Plan:
    add: tuple[Member, ...] = ()
    remove: tuple[str, ...] = ()
    pause: tuple[Member, ...] = ()      # members whose paused flag must change


def plan(current: dict[str, bool], desired: dict[str, Member]) -> Plan:
    """``current``: interface -> paused, as the queue reports it now."""
    add = tuple(m for iface, m in sorted(desired.items()) if iface not in current)
    remove = tuple(sorted(iface for iface in current if iface not in desired))
    pause = tuple(m for iface, m in sorted(desired.items()) if iface in current and current[iface] != m.paused)
    return Plan(add, remove, pause)


def anyone_to_answer(agents: Iterable[AgentView]) -> bool:
    """Is at least one agent Online for inbound voice?  Otherwise: answering machine (STA-4)."""
    return any(m for m in desired_members(agents).values() if not m.paused)


def queue_stats(entries: list[dict], members: list[dict]) -> dict:
    """The live queue view (BEY-3) from app_queue's own report: callers waiting, longest wait,
    agents by state.  ``entries``: {"number", "wait"}; ``members``: {"name", "paused", "in_call",
    "status"} where status is Asterisk's device state number (1 not in use, 2 in use, 6 ringing...)."""
    waits = [int(e.get("wait") or 0) for e in entries]
    agents = {"available": 0, "on_call": 0, "ringing": 0, "paused": 0, "unavailable": 0}
    for m in members:
        if m.get("paused"):
            agents["paused"] += 1
        elif m.get("in_call") or m.get("status") in (2, 3):
            agents["on_call"] += 1
        elif m.get("status") in (6, 7):
            agents["ringing"] += 1
        elif m.get("status") in (4, 5, 0):
            agents["unavailable"] += 1
        else:
            agents["available"] += 1
    return {"waiting": len(entries), "longest_wait": max(waits, default=0),
            "callers": sorted(entries, key=lambda e: -int(e.get("wait") or 0)), "agents": agents,
            "members": members}
