"""What chat shows when an offer changes (the chat presenter of centrala/conversations/offers.py).

The engine decides and claims; this writes the drawer items, pushes the panels' ``chat:*``
events and the visitor's "joined" line, and keeps the ``chat.accepted`` / ``chat.transferred``
events firing (webhooks, tests).  It runs in the process that won the claim, after the commit.

To the offered agent: a drawer item and ``chat:offered`` {chat_id, origin, transfer?}; when the
offer ends unaccepted the item is taken back (``notification_resolved``), and for a transfer
``chat:offer_withdrawn``.  To a transfer's owner: ``chat:transfer`` {chat_id, state: pending |
withdrawn | done, …}.  To the visitor: ``accepted`` {chat_id, agent, message?}.
"""
from __future__ import annotations

from flask_babel import gettext as _

from agents import events
from agents import offers as rules
from centrala.channels.chat import CHAT
from centrala.models import Communication, User
from centrala.models_chat import ChatConversation

from ..notifications import notifier
from ..notifications import services as notifications
from ..notifications.notifier import Work
from . import services as svc

AGENT_NS = "/agent"
VISITOR_NS = "/visitor"


class ChatOffers:
    def __init__(self, app, sio, bus):
        self.app, self.sio, self.bus = app, sio, bus

    def _tell_owner(self, owner_id: int, payload: dict) -> None:
        self.sio.emit("chat:transfer", payload, to=f"user:{owner_id}", namespace=AGENT_NS)

    @staticmethod
    def _who(c: Communication) -> str:
        return c.remote if not c.remote.startswith("#") else _("Visitor") + " " + c.remote

    # -- ChannelPresenter --------------------------------------------------------------------
    def timeout(self, session) -> float:
        return float(svc.get_settings(session)["offer_timeout"])

    def offered(self, session, offer) -> int | None:
        c = session.get(Communication, offer.communication_id)
        u = session.get(User, offer.agent_id)
        if c is None or u is None:
            return None
        transfer = offer.kind == rules.TRANSFER
        owner = session.get(User, offer.from_agent_id) if transfer and offer.from_agent_id else None
        def title() -> str:     # called by the notifier in the agent's language
            if transfer:
                return _("Chat with %(who)s, transferred by %(name)s", who=self._who(c),
                         name=owner.name if owner else "")
            return _("Chat with %(who)s", who=self._who(c))

        first = next((m for m in svc.transcript(session, c.id) if m["sender"] == "visitor"), None)
        body = (offer.note if transfer else "") or (first["body"][:200] if first else "")
        items = notifier.notify(self.app, session, Work(CHAT.key, [u.id], title, link=f"/chat/{c.id}?accept=1",
                                                        body=lambda: body))
        if not items:            # the agent was deactivated meanwhile
            return None
        conv = session.get(ChatConversation, c.id)
        self.sio.emit("chat:offered", {"chat_id": c.id, "origin": conv.origin if conv else "",
                                       **({"transfer": True} if transfer else {})},
                      to=f"user:{u.id}", namespace=AGENT_NS)
        if transfer and offer.from_agent_id:
            self._tell_owner(offer.from_agent_id, {"chat_id": c.id, "state": "pending", "to": u.name,
                                                   "anyone": offer.anyone})
        return items[0].id

    def _take_back(self, session, offer, state: str) -> None:
        if offer.notification_id and offer.agent_id:
            notifications.resolve(session, offer.agent_id, offer.notification_id, state)

    def withdrawn(self, session, offer, reason: str, final: bool) -> None:
        self._take_back(session, offer, "ignored")
        if offer.kind != rules.TRANSFER:
            return
        if offer.agent_id:
            self.sio.emit("chat:offer_withdrawn", {"chat_id": offer.communication_id}, to=f"user:{offer.agent_id}",
                          namespace=AGENT_NS)
        if final and reason != rules.ENDED and offer.from_agent_id:
            target = session.get(User, offer.agent_id) if offer.agent_id else None
            self._tell_owner(offer.from_agent_id, {"chat_id": offer.communication_id, "state": "withdrawn",
                                                   "reason": reason, "to": target.name if target else ""})

    def accepted(self, session, offer) -> None:
        c, _conv, v = svc.conversation(session, offer.communication_id)
        # the visitor sees the "joined" line live (the "accepted" event); kept for reloads and History
        svc.add_message(session, c.id, "system", svc.system_body("joined", to=offer.agent_id))
        session.commit()
        self._take_back(session, offer, "answered")
        card = svc.agent_card(session.get(User, offer.agent_id), svc.get_settings(session)["key"])
        if v is not None:
            self.sio.emit("accepted", {"chat_id": c.id, "agent": card}, to=f"visitor:{v.id}", namespace=VISITOR_NS)
        self.bus.publish(events.CHAT_ACCEPTED, communication_id=c.id, user_id=offer.agent_id,
                         wait_seconds=c.wait_seconds)

    def transferred(self, session, offer) -> None:
        c, _conv, v = svc.conversation(session, offer.communication_id)
        me, old_id = offer.agent_id, offer.from_agent_id
        m = svc.add_message(session, c.id, "system", svc.system_body("transfer", **{"from": old_id, "to": me,
                                                                                     "note": offer.note}), user_id=me)
        session.commit()
        self._take_back(session, offer, "answered")
        old, new = session.get(User, old_id) if old_id else None, session.get(User, me)
        out = svc.message_json(m, {u.id: u.name for u in (old, new) if u is not None})
        if v is not None:
            card = svc.agent_card(new, svc.account_key(session))
            self.sio.emit("accepted", {"chat_id": c.id, "agent": card, "message": svc.public_message(out, v.language)},
                          to=f"visitor:{v.id}", namespace=VISITOR_NS)
        if old_id:
            self._tell_owner(old_id, {"chat_id": c.id, "state": "done", "to": new.name, "entry": out})
        self.bus.publish(events.CHAT_TRANSFERRED, communication_id=c.id, from_user_id=old_id, to_user_id=me)
