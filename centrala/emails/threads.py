"""Which conversation a received email belongs to.

In order:
1. In-Reply-To, then References (newest first) naming a Message-ID of ours: it carries its
   conversation and an HMAC keyed with the data dir's secret (``ids.conversation_of``), so it is
   trusted whoever replies (a customer's colleague answering our mail joins the thread);
2. the same headers naming a message we received or sent in this mailbox — trusted only when the
   sender is the conversation's customer (another person quoting a customer's Message-ID, e.g. a
   forwarded or CC'd copy, does not join it);
3. the token in the subject (``[#ab12cd34]``) — only for the conversation's customer address and
   mailbox.
Nothing else: a subject alone ("Re: Newsletter") never merges mail into a thread.

A conversation that has ended is not reopened: ``follow`` leads to the newest conversation opened
from it (``reopened_from``), and when that one has ended too, the caller opens a new conversation
linked to it (see docs/architecture.md, "Email: receiving").
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from centrala.models import Communication
from centrala.models_email import EmailConversation, EmailMessage

from . import ids


@dataclass(frozen=True)
class Match:
    communication_id: int
    how: str          # "ours" | "seen" | "token"


def find(session, mailbox_id: int, key: str, *, sender: str, in_reply_to: str, references: list[str],
         subject: str) -> Match | None:
    sender = (sender or "").lower()
    named = [m for m in [in_reply_to, *reversed(references)] if m]
    for mid in named:
        comm_id = ids.conversation_of(key, mid)
        if comm_id is not None and session.get(EmailConversation, comm_id) is not None:
            return Match(comm_id, "ours")
    for mid in named:
        row = session.execute(
            select(EmailMessage.communication_id, EmailConversation.customer)
            .join(EmailConversation, EmailConversation.communication_id == EmailMessage.communication_id)
            .where(EmailMessage.message_id == mid, EmailMessage.mailbox_id == mailbox_id)
            .order_by(EmailMessage.id.desc()).limit(1)).first()
        if row is not None and row.customer == sender:
            return Match(row.communication_id, "seen")
    token = ids.token_in(subject)
    if token:
        conv = session.scalar(select(EmailConversation).where(EmailConversation.token == token))
        if conv is not None and conv.customer == sender and conv.mailbox_id == mailbox_id:
            return Match(conv.communication_id, "token")
    return None


def original_of(session, mailbox_id: int, key: str, message_id: str) -> EmailMessage | None:
    """The message a delivery report is about (one we sent, or any we keep in this mailbox)."""
    if not message_id:
        return None
    rows = session.scalars(select(EmailMessage).where(EmailMessage.message_id == message_id)
                           .order_by(EmailMessage.id)).all()
    ours = ids.conversation_of(key, message_id)
    for m in rows:
        if m.mailbox_id == mailbox_id or m.communication_id == ours:
            return m
    return None


def follow(session, comm_id: int) -> Communication | None:
    """The newest conversation in the chain opened from ``comm_id`` (itself if none)."""
    c = session.get(Communication, comm_id)
    seen = {comm_id}
    while c is not None:
        nxt = session.scalar(select(EmailConversation.communication_id)
                             .where(EmailConversation.reopened_from == c.id)
                             .order_by(EmailConversation.communication_id.desc()).limit(1))
        if nxt is None or nxt in seen:
            return c
        seen.add(nxt)
        c = session.get(Communication, nxt)
    return c
