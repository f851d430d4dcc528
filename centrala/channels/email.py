"""The email channel (EML-1…5): not real-time; messages in ``email_messages``.

Mail arrives through the mail worker (``centrala/emails/``: IMAP, parsing, threading) which calls
the conversation core; replies go out through the outbox (SMTP, then a copy in the Sent folder).
This module is what the core needs to know of email."""
from __future__ import annotations

from sqlalchemy import select

from centrala.models import User
from centrala.models_email import EmailAttachment, EmailConversation, EmailMessage

from . import registry
from .base import Channel, Inbound, Message, Sent

_AUTHOR = {"inbound": "customer", "outbound": "agent", "internal": "system"}


def attachment_json(a: EmailAttachment) -> dict:
    """An attachment as panels and the API show it (downloaded by logged-in users only)."""
    return {"id": a.id, "name": a.name, "size": a.size, "content_type": a.content_type,
            "url": f"/email/attachments/{a.id}"}


class EmailChannel(Channel):
    key = "email"
    real_time = False
    text = True

    def store_inbound(self, session, comm, inbound: Inbound) -> Message:
        from centrala.emails import inbound as received     # the receiving side's module

        return received.store(session, comm, inbound)

    def send(self, session, comm, author_id: int, text, attachments=()) -> Sent:
        from centrala.emails import outbox                  # the sending side's module

        return outbox.reply(session, comm, author_id, text, attachments)

    def remote_label(self, comm) -> str:
        return comm.remote or ""

    def messages(self, session, comm) -> list[Message]:
        rows = session.scalars(select(EmailMessage).where(EmailMessage.communication_id == comm.id)
                               .order_by(EmailMessage.id)).all()
        ids = {m.user_id for m in rows if m.user_id}
        names = dict(session.execute(select(User.id, User.name).where(User.id.in_(ids))).all()) if ids else {}
        files: dict[int, list[dict]] = {}
        if rows:
            for a in session.scalars(select(EmailAttachment).where(
                    EmailAttachment.message_id.in_([m.id for m in rows])).order_by(EmailAttachment.id)):
                files.setdefault(a.message_id, []).append(attachment_json(a))
        return [self.message(m, names, files.get(m.id, [])) for m in rows]

    @staticmethod
    def message(m: EmailMessage, names: dict, files: list[dict]) -> Message:
        author = {"kind": _AUTHOR.get(m.direction, "system"), "id": m.user_id,
                  "name": names.get(m.user_id) if m.user_id else (m.from_name or m.from_addr or None)}
        return Message(id=m.id, direction=m.direction, author=author, text=m.text, attachments=files,
                       at=m.created_at, delivery=m.delivery)

    def offer_link(self, comm) -> str:
        return f"/email/{comm.id}?accept=1"

    @staticmethod
    def subject(session, comm) -> str:
        conv = session.get(EmailConversation, comm.id)
        return conv.subject if conv else ""


EMAIL = registry.register(EmailChannel())
