"""Tasks (TSK-1…4): who does what by when, with related communication, contact and files.

Custom field values (Settings / Custom fields, ``applies_to='task'``) live in ``custom`` as
``{key: text}``, the way contacts keep theirs.
"""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import JSON, Column, DateTime, ForeignKey, Index, Integer, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from centrala.models import Base, utcnow

if TYPE_CHECKING:   # the model module imports this one at its end: no import cycle at runtime
    from .models_files import StoredFile

PRIORITIES = ("low", "normal", "urgent", "critical")
STATUSES = ("new", "in_progress", "done")

task_files = Table(
    "task_files", Base.metadata,
    Column("task_id", ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True),
    Column("file_id", ForeignKey("files.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Task(Base):
    __tablename__ = "tasks"
    __table_args__ = (
        Index("ix_tasks_assignee_status", "assignee_id", "status"),
        Index("ix_tasks_status_due", "status", "due_at"),
        Index("ix_tasks_reminder", "reminded_at", "remind_at"),   # the reminder sweeper's query
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    priority: Mapped[str] = mapped_column(String(10), default="normal")     # PRIORITIES
    status: Mapped[str] = mapped_column(String(12), default="new")          # STATUSES
    communication_id: Mapped[int | None] = mapped_column(ForeignKey("communications.id", ondelete="SET NULL"),
                                                         nullable=True, index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"),
                                                   nullable=True, index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    custom: Mapped[dict] = mapped_column(JSON, default=dict)               # {custom field key: text}
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # due-date reminder (agents/reminders.py): the choice, the moment it goes (None: nothing to
    # remind of), when it was sent (the sweeper's once-only claim), the zone the due date was set in
    remind: Mapped[str] = mapped_column(String(8), default="15m")            # agents.reminders.CHOICES
    remind_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    reminded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    time_zone: Mapped[str | None] = mapped_column(String(64), nullable=True)   # IANA, e.g. Europe/Warsaw

    files: Mapped[list["StoredFile"]] = relationship("StoredFile", secondary=task_files,
                                                     order_by="StoredFile.name", passive_deletes=True)
