"""Offers of text conversations and pending transfers (issue 11), stored so that any web process
carries on what another began: one row per conversation, reused by each offer and transfer.

Every change of an open row is a conditional UPDATE guarded by ``version`` (or by state and
agent for an accept), so of two processes acting at once exactly one wins
(``centrala/conversations/offers.py``).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from centrala.models import Base, utcnow


class ConversationOffer(Base):
    __tablename__ = "conversation_offers"
    __table_args__ = (
        Index("ix_conversation_offers_due", "state", "deadline"),      # the sweep
        Index("ix_conversation_offers_agent", "agent_id", "state"),   # an agent's offers
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    communication_id: Mapped[int] = mapped_column(ForeignKey("communications.id", ondelete="CASCADE"), unique=True)
    channel: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(10), default="offer")     # agents.offers.KINDS
    state: Mapped[str] = mapped_column(String(10), default="open")     # agents.offers.STATES
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    from_agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    anyone: Mapped[bool] = mapped_column(Boolean, default=False)       # a transfer to anyone available
    note: Mapped[str] = mapped_column(String(200), default="")         # for the colleague, never the customer
    tried: Mapped[list] = mapped_column(JSON, default=list)            # agents offered in this round
    deadline: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    notification_id: Mapped[int | None] = mapped_column(
        ForeignKey("notifications.id", ondelete="SET NULL"), nullable=True)   # the offered agent's drawer item
    version: Mapped[int] = mapped_column(Integer, default=0)           # bumped by every claimed change
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
