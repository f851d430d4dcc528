"""Handing an accepted chat over to a colleague (CHT-5, INB-3).

The owner of an open chat offers it to one Online colleague serving chat, or to "anyone
available" (the eligible agents one at a time, never the owner, one round).  The offer is a
drawer item like a new chat's, with the same accept flow (``chat:accept``); the owner keeps the
chat and keeps writing until it is accepted.  On accept the chat's agent changes, a system
entry goes into the transcript (the note for the colleague stays internal), the visitor sees
"<agent> joined the chat." and the old owner's view turns read-only.  Not accepted within the
chat offer timeout (Settings / Chat), or the colleague leaves (Break/Offline): the offer is
withdrawn and the owner is told.  Pending transfers live in memory per web process, like offers.

``/agent`` events (each checked against the logged-in agent and the chat's owner):
``chat:targets`` (who can take it), ``chat:transfer`` {chat_id, user_id | anyone, note},
``chat:transfer_cancel`` {chat_id}.  To panels: ``chat:transfer`` {chat_id, state: pending |
withdrawn | done, …} to the owner, ``chat:offered`` / ``chat:offer_withdrawn`` to the colleague.
"""
from __future__ import annotations

from contextlib import contextmanager

from flask_babel import force_locale
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import update

from agents import events
from agents.chat import ChatInputError, Transfer, Transfers, clean_transfer_note, transfer_refusal
from centrala.models import Communication, User
from centrala.models_chat import ChatConversation

from ..extensions import dbs
from ..notifications import services as notifications
from . import services as svc

AGENT_NS = "/agent"
VISITOR_NS = "/visitor"


def _err(code: str, field: str | None = None) -> dict:
    return {"ok": False, "error": code, **({"field": field} if field else {})}


def _chat_id(data) -> int | None:
    try:
        return int((data if isinstance(data, dict) else {}).get("chat_id") or 0) or None
    except (TypeError, ValueError):
        return None


class TransferFlow:
    def __init__(self, app, sio, bus, transfers: Transfers):
        self.app, self.sio, self.bus = app, sio, bus
        self.transfers = transfers
        self.notes: dict[int, tuple[int, int]] = {}   # chat id -> (offered agent, drawer item id)

    # -- helpers ---------------------------------------------------------------------------
    @contextmanager
    def _locale(self, user: User | None):
        """Texts for a given agent (their language), also from the background sweeper."""
        with self.app.test_request_context(), force_locale((user.language if user else None) or "pl"):
            yield

    def _tell_owner(self, owner_id: int, payload: dict) -> None:
        self.sio.emit("chat:transfer", payload, to=f"user:{owner_id}", namespace=AGENT_NS)

    def _take_back(self, s, chat_id: int, state: str = "ignored") -> None:
        """The colleague's drawer item: answered (they took it) or taken back."""
        note = self.notes.pop(chat_id, None)
        if note is None:
            return
        notifications.resolve(s, note[0], note[1], state)
        if state == "ignored":
            self.sio.emit("chat:offer_withdrawn", {"chat_id": chat_id}, to=f"user:{note[0]}", namespace=AGENT_NS)

    def pending_json(self, s, chat_id: int) -> dict | None:
        t = self.transfers.get(chat_id)
        if t is None:
            return None
        u = s.get(User, t.agent_id) if t.agent_id else None
        return {"to": u.name if u else "", "anyone": t.anyone, "from": t.from_agent}

    def offer_note(self, s, chat_id: int, user_id: int) -> dict | None:
        """What the offered colleague sees before accepting: who hands it over and their note."""
        t = self.transfers.get(chat_id)
        if t is None or t.agent_id != user_id:
            return None
        owner = s.get(User, t.from_agent)
        return {"from": owner.name if owner else "", "note": t.note}

    # -- offering and withdrawing ------------------------------------------------------------
    def _offer(self, s, c: Communication, t: Transfer) -> None:
        u, owner = s.get(User, t.agent_id), s.get(User, t.from_agent)
        rung = list(c.agents_rung or [])
        if t.agent_id not in rung:
            c.agents_rung = rung + [t.agent_id]
        with self._locale(u):
            who = c.remote if not c.remote.startswith("#") else _("Visitor") + " " + c.remote
            title = _("Chat with %(who)s, transferred by %(name)s", who=who, name=owner.name if owner else "")
        first = next((m for m in svc.transcript(s, c.id) if m["sender"] == "visitor"), None)
        body = t.note or (first["body"][:200] if first else "")
        items = notifications.push(s, [t.agent_id], "chat", title, body=body, link=f"/chat/{c.id}?accept=1")
        self.notes[c.id] = (t.agent_id, items[0].id)
        conv = s.get(ChatConversation, c.id)
        self.sio.emit("chat:offered", {"chat_id": c.id, "origin": conv.origin if conv else "", "transfer": True},
                      to=f"user:{t.agent_id}", namespace=AGENT_NS)
        self._tell_owner(t.from_agent, {"chat_id": c.id, "state": "pending", "to": u.name if u else "",
                                        "anyone": t.anyone})

    def _withdrawn(self, s, t: Transfer, reason: str) -> None:
        """Tell the owner the chat stays theirs; ``reason``: timeout | away | nobody | cancelled
        (the panel words it in the page's language)."""
        self._take_back(s, t.chat_id)
        target = s.get(User, t.agent_id) if t.agent_id else None
        self._tell_owner(t.from_agent, {"chat_id": t.chat_id, "state": "withdrawn", "reason": reason,
                                        "to": target.name if target else ""})

    def sweep(self, s, candidates: list[int]) -> None:
        """Called by the chat sweeper: offers whose time ran out move on or are withdrawn."""
        for before, nxt in self.transfers.due(lambda _cid: candidates):
            c = s.get(Communication, before.chat_id)
            if c is None or c.ended_at is not None or c.agent_id != before.from_agent:
                self.transfers.cancel(before.chat_id)
                self._take_back(s, before.chat_id)
                continue
            if nxt is None:
                target = s.get(User, before.agent_id) if before.agent_id else None
                gone = target is None or not target.active or target.status != "online"
                self._withdrawn(s, before, "nobody" if before.anyone else ("away" if gone else "timeout"))
            else:
                self._take_back(s, c.id)
                t = self.transfers.get(c.id)
                if t is not None:
                    self._offer(s, c, t)
            s.commit()

    def chat_closed(self, s, chat_id: int) -> None:
        """The chat ended while a transfer was pending: the offer is taken back."""
        if self.transfers.cancel(chat_id) is not None:
            self._take_back(s, chat_id)

    # -- accepting -------------------------------------------------------------------------------
    def accept(self, s, c: Communication, v) -> dict:
        me = current_user.id
        t = self.transfers.accept(c.id, me)
        if t is None:
            return _err("taken")
        moved = s.execute(update(Communication).where(
            Communication.id == c.id, Communication.agent_id == t.from_agent,
            Communication.ended_at.is_(None)).values(agent_id=me))
        if moved.rowcount != 1:     # closed (or changed hands) a moment ago
            s.rollback()
            self._take_back(s, c.id)
            return _err("taken")
        m = svc.add_message(s, c.id, "system", svc.system_body("transfer", **{"from": t.from_agent, "to": me,
                                                                               "note": t.note}), user_id=me)
        s.commit()
        self._take_back(s, c.id, "answered")
        old, new = s.get(User, t.from_agent), s.get(User, me)
        names = {u.id: u.name for u in (old, new) if u is not None}
        out = svc.message_json(m, names)
        if v is not None:
            card = svc.agent_card(new, svc.account_key(s))
            self.sio.emit("accepted", {"chat_id": c.id, "agent": card,
                                       "message": svc.public_message(out, v.language)},
                          to=f"visitor:{v.id}", namespace=VISITOR_NS)
        self._tell_owner(t.from_agent, {"chat_id": c.id, "state": "done", "to": new.name, "entry": out})
        self.bus.publish(events.CHAT_TRANSFERRED, communication_id=c.id, from_user_id=t.from_agent, to_user_id=me)
        return {"ok": True, "transferred": True}

    # -- /agent events -------------------------------------------------------------------------
    def register(self) -> None:
        sio = self.sio

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
                        "pending": self.pending_json(s, c.id)}
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
                anyone = data.get("anyone") is True
                target = None
                if not anyone:
                    uid = data.get("user_id")
                    target = svc.chat_agent(s, uid if isinstance(uid, int) and not isinstance(uid, bool) else None)
                candidates = svc.candidates(s)
                code = transfer_refusal(ended=c.ended_at is not None, owner=c.agent_id, by=current_user.id,
                                        target=target, anyone=anyone, others=candidates,
                                        pending=self.transfers.get(c.id) is not None)
                if code:
                    return _err(code)
                try:
                    note = clean_transfer_note(data.get("note"))
                except ChatInputError as exc:
                    return _err(exc.code, exc.field)
                self.transfers.timeout = float(svc.get_settings(s)["offer_timeout"])
                t = self.transfers.start(c.id, current_user.id, target=None if anyone else target.id,
                                         candidates=candidates, note=note)
                if t is None:
                    return _err("pending")
                self._offer(s, c, t)
                return {"ok": True, "pending": self.pending_json(s, c.id)}
            finally:
                s.close()

        @sio.on("chat:transfer_cancel", namespace=AGENT_NS)
        def cancel(data=None):
            s = dbs()
            try:
                c, code = owned(s, data)
                if code:
                    return _err(code)
                t = self.transfers.get(c.id)
                if t is None or t.from_agent != current_user.id:
                    return _err("not_pending")
                t = self.transfers.cancel(c.id)
                if t is not None:
                    self._withdrawn(s, t, "cancelled")
                return {"ok": True}
            finally:
                s.close()
