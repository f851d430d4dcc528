"""Contacts (CON-1…5) and custom fields (SET-3).

Custom field values live in a JSON column ``custom`` on the owning row (``{key: text}``);
tasks store theirs the same way.  ``Contact.search`` is a lower-case, denormalised copy of
names, organisation, emails and phone digits that the contact search scans
(see :mod:`centrala.contacts`).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from centrala.models import Base, utcnow

EMAIL_KINDS = ("work", "home", "other")
PHONE_KINDS = ("mobile", "work", "home", "fax", "other")


class Contact(Base):
    __tablename__ = "contacts"
    __table_args__ = (
        Index("ix_contacts_last_first", "last_name", "first_name", "id"),
        Index("ix_contacts_first_last", "first_name", "last_name", "id"),
        Index("ix_contacts_org", "organisation", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    first_name: Mapped[str] = mapped_column(String(200), default="")
    last_name: Mapped[str] = mapped_column(String(200), default="")
    organisation: Mapped[str] = mapped_column(String(300), default="")
    address: Mapped[str] = mapped_column(Text, default="")
    note: Mapped[str] = mapped_column(Text, default="")
    custom: Mapped[dict] = mapped_column(JSON, default=dict)          # {custom field key: text}
    search: Mapped[str] = mapped_column(Text, default="")             # lower-case haystack
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    import_id: Mapped[int | None] = mapped_column(ForeignKey("contact_imports.id", ondelete="SET NULL"),
                                                  nullable=True)

    emails: Mapped[list["ContactEmail"]] = relationship(
        back_populates="contact", cascade="all, delete-orphan", order_by="ContactEmail.position",
        passive_deletes=True)
    phones: Mapped[list["ContactPhone"]] = relationship(
        back_populates="contact", cascade="all, delete-orphan", order_by="ContactPhone.position",
        passive_deletes=True)

    @property
    def name(self) -> str:
        return " ".join(p for p in (self.first_name, self.last_name) if p).strip()

    @property
    def display_name(self) -> str:
        return self.name or self.organisation or (self.emails[0].email if self.emails else "") \
            or (self.phones[0].number if self.phones else "") or f"#{self.id}"


class ContactEmail(Base):
    __tablename__ = "contact_emails"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    email: Mapped[str] = mapped_column(String(254), index=True)       # stored lower-case
    kind: Mapped[str] = mapped_column(String(10), default="work")     # EMAIL_KINDS

    contact: Mapped[Contact] = relationship(back_populates="emails")


class ContactPhone(Base):
    __tablename__ = "contact_phones"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    number: Mapped[str] = mapped_column(String(20), index=True)       # E.164
    kind: Mapped[str] = mapped_column(String(10), default="mobile")   # PHONE_KINDS

    contact: Mapped[Contact] = relationship(back_populates="phones")


class CustomField(Base):
    """An extra field on the contact or task forms (Settings / Custom fields)."""
    __tablename__ = "custom_fields"
    __table_args__ = (UniqueConstraint("applies_to", "key", name="uq_custom_fields_applies_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(64))                      # [a-z][a-z0-9_]*
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(10), default="short")    # short | long
    applies_to: Mapped[str] = mapped_column(String(10), default="contact")  # contact | task
    position: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ContactImport(Base):
    """One uploaded CSV and what became of it (the import status list)."""
    __tablename__ = "contact_imports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    filename: Mapped[str] = mapped_column(String(255))                # as uploaded
    stored_name: Mapped[str] = mapped_column(String(64))              # under <uploads>/imports
    size_bytes: Mapped[int] = mapped_column(Integer, default=0)
    encoding: Mapped[str] = mapped_column(String(20), default="utf-8")
    delimiter: Mapped[str] = mapped_column(String(2), default=",")
    has_header: Mapped[bool] = mapped_column(default=True)
    mapping: Mapped[list] = mapped_column(JSON, default=list)         # [{"index", "field", "slot"}]
    # uploaded | verifying | verified | importing | done | failed
    status: Mapped[str] = mapped_column(String(12), default="uploaded")
    total: Mapped[int] = mapped_column(Integer, default=0)            # records in the file
    ok: Mapped[int] = mapped_column(Integer, default=0)               # records without errors / imported
    processed: Mapped[int] = mapped_column(Integer, default=0)        # progress of the running step
    created: Mapped[int] = mapped_column(Integer, default=0)          # new contacts
    updated: Mapped[int] = mapped_column(Integer, default=0)          # matched by email or phone
    error_count: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[list] = mapped_column(JSON, default=list)          # first errors [{record, message}]
    warnings: Mapped[list] = mapped_column(JSON, default=list)        # file-level notes ('+' lost ...)
    verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)  # running step
    message: Mapped[str] = mapped_column(Text, default="")            # why it failed, if it did
