"""What email shows its agents (the email presenter of centrala/conversations/offers.py), and the
routing of received mail to them (the worker's events → offers and drawer items).

- A new conversation of a **shared** mailbox (``conversation.opened``, no agent) is offered like a
  chat: to one Online agent serving email (skill "email") and this mailbox (its agents; a shared
  mailbox without a list of agents is served by everyone serving email), the next one after
  ``EMAIL_OFFER_TIMEOUT`` seconds.  The offered agent gets a drawer item (badge, sound and desktop
  notification come with it, as for chats) and ``email:offered`` {communication_id}.
- A new message in a conversation that has its agent (a **personal** mailbox's owner, or whoever
  accepted it) is a drawer item for that agent only.
- Mail received by ``centrala mail worker`` in another process reaches these handlers through the
  Redis event bridge; without it, the offer sweep of every web process still offers waiting
  conversations (``web/offers.py``).
"""
from __future__ import annotations

import logging

from flask_babel import gettext as _
from sqlalchemy import select

from agents import conversation, events
from centrala.channels.email import EMAIL
from centrala.contacts import find_by_email
from centrala.models import Communication
from centrala.models_email import SHARED, EmailConversation, EmailMessage, Mailbox, MailboxAgent

from ..notifications import notifier
from ..notifications import services as notifications
from ..notifications.notifier import Work
from ..offers import engine as offer_engine
from ..offers import take_back

log = logging.getLogger(__name__)
DEFAULT_TIMEOUT = 120.0          # s an offered email waits for its agent before the next one
PREVIEW = 200


class EmailOffers:
    def __init__(self, app, sio, bus):
        self.app, self.sio, self.bus = app, sio, bus

    # -- ChannelPresenter --------------------------------------------------------------------
    def timeout(self, session) -> float:
        return float(self.app.config.get("EMAIL_OFFER_TIMEOUT", DEFAULT_TIMEOUT))

    def serving(self, session, communication_id: int) -> set[int] | None:
        """The agents of the conversation's shared mailbox (None: anyone serving email)."""
        conv = session.get(EmailConversation, communication_id)
        if conv is None or conv.mailbox_id is None:
            return None
        agents = set(session.scalars(select(MailboxAgent.user_id).where(MailboxAgent.mailbox_id == conv.mailbox_id)))
        return agents or None

    def offered(self, session, offer) -> int | None:
        c = session.get(Communication, offer.communication_id)
        if c is None or offer.agent_id is None:
            return None
        items = notifier.notify(self.app, session, self.work(session, c, [offer.agent_id], EMAIL.offer_link(c)))
        if not items:
            return None
        self.sio.emit("email:offered", {"communication_id": c.id}, to=f"user:{offer.agent_id}",
                      namespace=notifications.NAMESPACE)
        return items[0].id

    def withdrawn(self, session, offer, reason: str, final: bool) -> None:
        take_back(session, offer, "ignored")

    def accepted(self, session, offer) -> None:
        take_back(session, offer, "answered")

    def transferred(self, session, offer) -> None:
        take_back(session, offer, "answered")

    # -- drawer items ------------------------------------------------------------------------------
    @staticmethod
    def work(session, c: Communication, user_ids, link: str, message: EmailMessage | None = None) -> Work:
        conv = session.get(EmailConversation, c.id)
        m = message or session.scalar(select(EmailMessage).where(EmailMessage.communication_id == c.id,
                                                                 EmailMessage.direction == "inbound")
                                      .order_by(EmailMessage.id.desc()).limit(1))
        contact = find_by_email(session, c.remote) if c.remote else None
        who = contact.display_name if contact else ((m.from_name if m else "") or c.remote)
        subject = (m.subject if m else "") or (conv.subject if conv else "")
        preview = " ".join(((m.text if m else "") or "").split())[:PREVIEW]
        kind = m.kind if m else "message"

        def title() -> str:
            if kind == "bounce":
                return _("Email not delivered: %(subject)s", subject=subject)
            return _("Email from %(who)s", who=who)

        return Work(conversation.EMAIL, list(user_ids), title, link=link,
                    body=lambda: f"{subject}\n{preview}".strip())


def register(app) -> None:
    """The presenter in the app's offer engine, and the routing of the worker's events."""
    sio, bus, db = app.extensions["socketio"], app.extensions["centrala.bus"], app.extensions["centrala.db"]
    presenter = EmailOffers(app, sio, bus)
    offer_engine(app).register(EMAIL.key, presenter)

    def opened(event) -> None:
        d = event.data
        if d.get("channel") != EMAIL.key or d.get("agent_id") is not None:
            return
        with app.app_context():
            s = db.sessions()
            try:
                conv = s.get(EmailConversation, d["communication_id"])
                mb = s.get(Mailbox, conv.mailbox_id) if conv and conv.mailbox_id else None
                if mb is not None and mb.kind == SHARED:
                    offer_engine(app).offer(s, d["communication_id"])
            except Exception:
                s.rollback()
                log.exception("email %s not offered", d.get("communication_id"))
            finally:
                s.close()

    def message(event) -> None:
        d = event.data
        if d.get("channel") != EMAIL.key or d.get("direction") != "inbound":
            return
        with app.app_context():
            s = db.sessions()
            try:
                c = s.get(Communication, d["communication_id"])
                if c is None or c.agent_id is None:
                    return                       # waiting: its offer is the agents' drawer item
                m = s.get(EmailMessage, d["message_id"])
                notifier.notify(app, s, presenter.work(s, c, [c.agent_id], f"/email/{c.id}", m))
            except Exception:
                s.rollback()
                log.exception("email message %s not notified", d.get("message_id"))
            finally:
                s.close()

    bus.subscribe(events.CONVERSATION_OPENED, opened)
    bus.subscribe(events.CONVERSATION_MESSAGE, message)
