"""Outgoing webhooks (BEY-1): where to POST which domain events, and every delivery of one.

A delivery row is written when the event happens (``web/webhooks/worker.py``) and keeps the exact
JSON body, so its signature and content do not change between attempts or across a restart.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from centrala.models import Base, utcnow

DELIVERY_STATUSES = ("pending", "delivered", "failed")


class Webhook(Base):
    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    events: Mapped[list] = mapped_column(JSON, default=list)         # event names (WEBHOOK_EVENTS)
    secret: Mapped[str] = mapped_column(String(100))                  # HMAC-SHA256 key, never shown again
    secret_revealed: Mapped[bool] = mapped_column(Boolean, default=False)  # shown once after creation
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class WebhookDelivery(Base):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),   # the worker's claim
        Index("ix_webhook_deliveries_webhook", "webhook_id", "id"),        # a webhook's last 20
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)            # X-Centrala-Delivery
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(String(64))
    payload: Mapped[str] = mapped_column(Text)                            # the exact body sent
    status: Mapped[str] = mapped_column(String(10), default="pending")    # DELIVERY_STATUSES
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    response_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(String(500), nullable=True)
