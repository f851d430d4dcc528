"""Rows the email sending tests start from: a mailbox on the tests' real servers (Dovecot for
IMAP, aiosmtpd for SMTP) and an inbound conversation, written directly (the receiving side and
the settings screens are other parts)."""
from __future__ import annotations

import hashlib

from centrala.conversations import lifecycle
from centrala.emails import ids
from centrala.models import utcnow
from centrala.models_email import EmailConversation, EmailMessage, Mailbox, MailboxAgent
from centrala.secretbox import of_session

OFFICE = "office@example.com"


def make_mailbox(s, dovecot, smtp_port: int, *, address: str = OFFICE, agents=(), kind: str = "shared",
                 user_id: int | None = None, signature: str = "") -> Mailbox:
    if address not in dovecot.users:
        dovecot.add_user(address, "secret")
    mb = Mailbox(kind=kind, label="Biuro Obsługi", address=address, username=address,
                 password_sealed=of_session(s).seal("secret"), imap_host="127.0.0.1", imap_port=dovecot.port,
                 imap_security="none", smtp_host="127.0.0.1", smtp_port=smtp_port, smtp_security="none",
                 user_id=user_id, signature=signature)
    s.add(mb)
    s.flush()
    for uid in agents:
        s.add(MailboxAgent(mailbox_id=mb.id, user_id=uid))
    s.flush()
    return mb


def inbound_conversation(s, mailbox: Mailbox, *, customer: str = "klient@example.net", agent_id: int | None = None,
                         subject: str = "Zamówienie 17", text: str = "Dzień dobry, gdzie jest paczka?",
                         message_id: str = "abc123@mail.example.net", html: str | None = None):
    """A received email opening a conversation (as the receiving side would store it)."""
    c = lifecycle.open(s, "email", remote=customer, direction="inbound", agent_id=agent_id)
    if agent_id is not None:
        c.answered_at = utcnow()
    s.add(EmailConversation(communication_id=c.id, mailbox_id=mailbox.id, token=ids.new_token(), subject=subject,
                            customer=customer))
    m = EmailMessage(communication_id=c.id, mailbox_id=mailbox.id, direction="inbound", message_id=message_id,
                     dedup_key=hashlib.sha256(message_id.encode()).hexdigest(), subject=subject,
                     from_addr=customer, from_name="Klient", to=[mailbox.address], sent_at=utcnow(), text=text,
                     html=html, delivery="received", references="older1@mail.example.net")
    s.add(m)
    s.flush()
    lifecycle.discard_events(s)
    return c, m
