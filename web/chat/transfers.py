"""Handing an accepted chat over to a colleague (CHT-5, INB-3).

The owner of an open chat offers it to one Online colleague serving chat, or to "anyone
available" (the eligible agents one at a time, never the owner, one round).  The offer is a
drawer item like a new chat's, with the same accept flow (``chat:accept``); the owner keeps the
chat and keeps writing until it is accepted.  On accept the chat's agent changes, a system
entry goes into the transcript (the note for the colleague stays internal), the visitor sees
"<agent> joined the chat." and the old owner's view turns read-only.  Not accepted within the
chat offer timeout (Settings / Chat), or the colleague leaves (Break/Offline): the offer is
withdrawn and the owner is told.  Pending transfers are rows of the offer engine
(centrala/conversations/offers.py): they survive a restart and any web process carries them on;
what the agents see is web/chat/offers.py.  These handlers only parse input and call the engine.

``/agent`` events (each checked against the logged-in agent and the chat's owner):
``chat:targets`` (who can take it), ``chat:transfer`` {chat_id, user_id | anyone, note},
``chat:transfer_cancel`` {chat_id}.  To panels: ``chat:transfer`` {chat_id, state: pending |
withdrawn | done, …} to the owner, ``chat:offered`` / ``chat:offer_withdrawn`` to the colleague.
"""
from __future__ import annotations

from flask_login import current_user

from agents import offers as rules
from centrala.conversations import offers
from centrala.models import User

from ..extensions import dbs
from . import services as svc

AGENT_NS = "/agent"


def _err(code: str, field: str | None = None) -> dict:
    return {"ok": False, "error": code, **({"field": field} if field else {})}


def _chat_id(data) -> int | None:
    try:
        return int((data if isinstance(data, dict) else {}).get("chat_id") or 0) or None
    except (TypeError, ValueError):
        return None


def pending_json(s, chat_id: int) -> dict | None:
    """The owner's view of their pending transfer: to whom, and whether to anyone available."""
    t = offers.open_offer(s, chat_id)
    if t is None or t.kind != rules.TRANSFER:
        return None
    u = s.get(User, t.agent_id) if t.agent_id else None
    return {"to": u.name if u else "", "anyone": t.anyone, "from": t.from_agent_id}


def offer_note(s, chat_id: int, user_id: int) -> dict | None:
    """What the offered colleague sees before accepting: who hands it over and their note."""
    t = offers.open_offer(s, chat_id)
    if t is None or t.kind != rules.TRANSFER or t.agent_id != user_id:
        return None
    owner = s.get(User, t.from_agent_id) if t.from_agent_id else None
    return {"from": owner.name if owner else "", "note": t.note}


def register(sio, engine) -> None:
    """The owner's ``/agent`` events: who can take the chat, hand it over, cancel."""

    def owned(s, data):
        if not current_user.is_authenticated:
            return None, "unauthorized"
        cid = _chat_id(data)
        c, _conv, _v = svc.conversation(s, cid) if cid else (None, None, None)
        if c is None:
            return None, "not_found"
        if c.agent_id != current_user.id:
            return None, "not_owner"
        if c.ended_at is not None:
            return None, "closed"
        return c, None

    @sio.on("chat:targets", namespace=AGENT_NS)
    def targets(data=None):
        """Colleagues the owner may hand the chat to, with their status."""
        s = dbs()
        try:
            c, code = owned(s, data)
            if code:
                return _err(code)
            items = svc.transfer_targets(s, current_user.id)
            return {"ok": True, "agents": items, "anyone": any(i["available"] for i in items),
                    "pending": pending_json(s, c.id)}
        finally:
            s.close()

    @sio.on("chat:transfer", namespace=AGENT_NS)
    def transfer(data=None):
        if not current_user.is_authenticated:
            return _err("unauthorized")
        data = data if isinstance(data, dict) else {}
        s = dbs()
        try:
            cid = _chat_id(data)
            c, _conv, _v = svc.conversation(s, cid) if cid else (None, None, None)
            if c is None:
                return _err("not_found")
            r = engine.start_transfer(s, c.id, current_user.id, target=data.get("user_id"),
                                      anyone=data.get("anyone") is True, note=data.get("note"))
            if not r.ok:
                return r.as_dict()
            return {"ok": True, "pending": pending_json(s, c.id)}
        finally:
            s.close()

    @sio.on("chat:transfer_cancel", namespace=AGENT_NS)
    def cancel(data=None):
        s = dbs()
        try:
            c, code = owned(s, data)
            if code:
                return _err(code)
            return engine.cancel_transfer(s, c.id, current_user.id).as_dict()
        finally:
            s.close()
