"""Email (issue 13: EML-1…5, ACC-6, COM-1): mailboxes, email conversations, messages, attachments,
templates.

An email conversation is a ``Communication`` row (channel "email") like every other one in
History; these tables hold what only email has.  Centrala is a client of the company's mail
servers: mail stays on the server, we keep what we fetched (deduplicated per mailbox) and what we
sent (with its outbox state).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import (JSON, BigInteger, Boolean, DateTime, ForeignKey, Index, Integer, String, Text,
                        UniqueConstraint)
from sqlalchemy.orm import Mapped, mapped_column

from .models import Base, utcnow

SHARED, PERSONAL = "shared", "personal"
SECURITY = ("ssl", "starttls", "none")
# a mailbox's live state (the worker keeps it): why it is down is in ``last_error``
CONNECTED, CONNECTING, ERROR, RECONNECT, DISABLED = "connected", "connecting", "error", "reconnect", "disabled"
# an email message's delivery: inbound ones are "received"; outbound go queued -> sending -> sent | failed
QUEUED, SENDING = "queued", "sending"


class Mailbox(Base):
    __tablename__ = "mailboxes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(10), default=SHARED)          # shared | personal
    label: Mapped[str] = mapped_column(String(100))
    address: Mapped[str] = mapped_column(String(254))
    username: Mapped[str] = mapped_column(String(254))
    password_sealed: Mapped[str | None] = mapped_column(Text, nullable=True)    # SecretBox, write-only
    auth: Mapped[str] = mapped_column(String(10), default="password")       # password | oauth2
    oauth_sealed: Mapped[str | None] = mapped_column(Text, nullable=True)   # SecretBox(JSON tokens)
    imap_host: Mapped[str] = mapped_column(String(255))
    imap_port: Mapped[int] = mapped_column(Integer, default=993)
    imap_security: Mapped[str] = mapped_column(String(10), default="ssl")   # ssl | starttls | none
    smtp_host: Mapped[str] = mapped_column(String(255))
    smtp_port: Mapped[int] = mapped_column(Integer, default=465)
    smtp_security: Mapped[str] = mapped_column(String(10), default="ssl")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=True,
                                                index=True)                 # the owner of a personal mailbox
    signature: Mapped[str] = mapped_column(Text, default="")                # HTML, sanitized (EML-4)
    state: Mapped[str] = mapped_column(String(12), default=CONNECTING)
    last_error: Mapped[str] = mapped_column(Text, default="")
    state_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    uidvalidity: Mapped[int | None] = mapped_column(BigInteger, nullable=True)   # INBOX's, last seen
    last_uid: Mapped[int] = mapped_column(BigInteger, default=0)                 # highest INBOX UID fetched
    sent_folder: Mapped[str] = mapped_column(String(255), default="")           # found by \\Sent; "" = not yet
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class MailboxAgent(Base):
    """An agent who serves a shared mailbox."""
    __tablename__ = "mailbox_agents"

    mailbox_id: Mapped[int] = mapped_column(ForeignKey("mailboxes.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True)


class EmailConversation(Base):
    """What an email Communication has beyond the common columns (``remote`` is the customer's
    address, lower-cased)."""
    __tablename__ = "email_conversations"
    __table_args__ = (Index("ix_email_conversations_customer", "mailbox_id", "customer"),)

    communication_id: Mapped[int] = mapped_column(ForeignKey("communications.id", ondelete="CASCADE"),
                                                  primary_key=True)
    mailbox_id: Mapped[int | None] = mapped_column(ForeignKey("mailboxes.id", ondelete="SET NULL"), nullable=True)
    token: Mapped[str] = mapped_column(String(16), unique=True)      # short token in our replies' subject
    subject: Mapped[str] = mapped_column(String(998), default="")
    customer: Mapped[str] = mapped_column(String(254), default="")   # the customer's address, lower-cased
    reopened_from: Mapped[int | None] = mapped_column(ForeignKey("communications.id", ondelete="SET NULL"),
                                                      nullable=True)


class EmailMessage(Base):
    __tablename__ = "email_messages"
    __table_args__ = (UniqueConstraint("mailbox_id", "dedup_key", name="uq_email_messages_dedup"),
                      Index("ix_email_messages_message_id", "message_id"),
                      Index("ix_email_messages_outbox", "delivery", "next_attempt_at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    communication_id: Mapped[int] = mapped_column(ForeignKey("communications.id", ondelete="CASCADE"), index=True)
    mailbox_id: Mapped[int | None] = mapped_column(ForeignKey("mailboxes.id", ondelete="SET NULL"), nullable=True)
    direction: Mapped[str] = mapped_column(String(10))               # inbound | outbound | internal
    kind: Mapped[str] = mapped_column(String(12), default="message")  # message | bounce | auto_reply
    message_id: Mapped[str] = mapped_column(String(512), default="")     # the Message-ID header, without <>
    dedup_key: Mapped[str] = mapped_column(String(64))                   # sha256(Message-ID) or of the raw message
    in_reply_to: Mapped[str] = mapped_column(String(512), default="")
    references: Mapped[str] = mapped_column(Text, default="")           # Message-IDs, space separated
    subject: Mapped[str] = mapped_column(String(998), default="")
    from_addr: Mapped[str] = mapped_column(String(320), default="")
    from_name: Mapped[str] = mapped_column(String(200), default="")
    to: Mapped[list] = mapped_column(JSON, default=list)                 # ["a@b", …]
    cc: Mapped[list] = mapped_column(JSON, default=list)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)   # Date header
    text: Mapped[str] = mapped_column(Text, default="")                  # plain text (quoted history kept)
    html: Mapped[str | None] = mapped_column(Text, nullable=True)        # sanitized HTML, if the mail had one
    parse_error: Mapped[str] = mapped_column(Text, default="")          # "" or what could not be read
    uid: Mapped[int | None] = mapped_column(BigInteger, nullable=True)   # INBOX UID of an inbound message
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    delivery: Mapped[str] = mapped_column(String(10), default="received")   # received | queued | sending | sent | failed
    error: Mapped[str] = mapped_column(Text, default="")                 # the server's reason of a failed send
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # when the outbox began SMTP DATA for the current attempt: a sender that died after it may have
    # delivered the message, so it is not resent blindly (centrala/emails/outbox.py)
    data_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class EmailAttachment(Base):
    __tablename__ = "email_attachments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("email_messages.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(127), default="application/octet-stream")
    size: Mapped[int] = mapped_column(Integer, default=0)
    stored_name: Mapped[str] = mapped_column(String(64), unique=True)   # file under <data dir>/email/
    content_id: Mapped[str] = mapped_column(String(255), default="")   # inline parts (cid:)


class EmailTemplate(Base):
    """A response template for email (EML-4, Settings / Email), found by name in the composer."""
    __tablename__ = "email_templates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(100))
    body: Mapped[str] = mapped_column(Text)                  # HTML, sanitized
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
