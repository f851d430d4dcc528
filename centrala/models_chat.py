"""Website chat (CHT-1…8): visitors, conversations, messages, page views, templates.

A chat is a ``Communication`` row (channel "chat", inbound) like every other conversation in
History; these tables hold what only chat has.  Widget settings live in ``account_settings``
(keys ``chat.*``, see ``web/chat/services.py``).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .models import Base, utcnow


class ChatVisitor(Base):
    """A website visitor, known from their first interaction on (token's SHA-256 only)."""
    __tablename__ = "chat_visitors"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    language: Mapped[str] = mapped_column(String(5), default="en")
    ip: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    communication_id: Mapped[int | None] = mapped_column(           # the open chat, if any
        ForeignKey("communications.id", ondelete="SET NULL"), nullable=True)


class ChatConversation(Base):
    """What a chat Communication has beyond the common columns."""
    __tablename__ = "chat_conversations"

    communication_id: Mapped[int] = mapped_column(ForeignKey("communications.id", ondelete="CASCADE"),
                                                  primary_key=True)
    visitor_id: Mapped[int] = mapped_column(ForeignKey("chat_visitors.id", ondelete="CASCADE"), index=True)
    origin: Mapped[str] = mapped_column(String(255), default="")    # the website it came from
    kind: Mapped[str] = mapped_column(String(10), default="live")   # live | offline (contact form)


class ChatMessage(Base):
    __tablename__ = "chat_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    communication_id: Mapped[int] = mapped_column(ForeignKey("communications.id", ondelete="CASCADE"), index=True)
    sender: Mapped[str] = mapped_column(String(10))                  # visitor | agent | system
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    body: Mapped[str] = mapped_column(Text, default="")
    attachment: Mapped[str | None] = mapped_column(String(255), nullable=True)   # reserved (files)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ChatPageView(Base):
    """A page of the website the visitor opened (URL and title), shown to the agent live."""
    __tablename__ = "chat_page_views"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    visitor_id: Mapped[int] = mapped_column(ForeignKey("chat_visitors.id", ondelete="CASCADE"), index=True)
    communication_id: Mapped[int | None] = mapped_column(ForeignKey("communications.id", ondelete="SET NULL"),
                                                         nullable=True, index=True)
    url: Mapped[str] = mapped_column(String(1000))
    title: Mapped[str] = mapped_column(String(300), default="")
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ChatTemplate(Base):
    """A canned answer agents insert into a chat (CHT-8, Settings / Chat)."""
    __tablename__ = "chat_templates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(100))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
