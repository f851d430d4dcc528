"""SQLAlchemy 2.x models.  Schema changes go through Alembic revisions in ``migrations/``."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, false
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def iso(dt: datetime | None) -> str | None:
    """ISO 8601 with the UTC offset, also for the naive values SQLite hands back."""
    if dt is None:
        return None
    return (dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)).isoformat()


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True, index=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20), default="agent")  # admin | agent
    password_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    position: Mapped[str] = mapped_column(String(200), default="")
    avatar: Mapped[str | None] = mapped_column(String(200), nullable=True)   # file name in uploads/avatars
    ringtone: Mapped[str] = mapped_column(String(10), default="long")        # long | short
    language: Mapped[str | None] = mapped_column(String(5), nullable=True)   # pl | en; None: browser's
    status: Mapped[str] = mapped_column(String(10), default="offline")       # agents.status.AgentStatus
    status_changed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    channels: Mapped[list] = mapped_column(JSON, default=list)               # agents.channels.CHANNELS
    password_changed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    sip_username: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    # a Fernet token (centrala.secretbox): opened only to render pjsip.conf and for My profile
    sip_password: Mapped[str | None] = mapped_column(String(512), nullable=True)
    sip_contact: Mapped[str | None] = mapped_column(String(255), nullable=True)  # registered softphone, if any

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    # The four members Flask-Login expects of a user object (plain Python, no Flask import).
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return bool(self.active)

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        """Session identity; it changes with the password, which ends every other session."""
        stamp = (self.password_hash or "")[-10:]
        return f"{self.id}.{stamp}"


class ApiToken(Base):
    """A bearer token for the REST API; only its SHA-256 is stored."""
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class AuthToken(Base):
    """Single-use, expiring link token for password reset and invitations (SHA-256 stored)."""
    __tablename__ = "auth_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    purpose: Mapped[str] = mapped_column(String(10))  # reset | invite
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class LoginFailure(Base):
    """A failed login: counted per address, per account and per account + address pair."""
    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_ip_at", "ip", "at"),
                      Index("ix_login_failures_account_at", "account", "at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ip: Mapped[str] = mapped_column(String(64))
    account: Mapped[str] = mapped_column(String(254), default="", server_default="")   # the email typed, lower-case
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class LoginSession(Base):
    """A panel login (the signed cookie carries its random id; only the SHA-256 is stored).
    Deleting the row ends the session wherever the cookie is: logout, log out everywhere,
    deactivation, a new password."""
    __tablename__ = "login_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    ip: Mapped[str] = mapped_column(String(64), default="")


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    actor_email: Mapped[str] = mapped_column(String(254), default="")
    action: Mapped[str] = mapped_column(String(50))
    target: Mapped[str] = mapped_column(String(254), default="")
    ip: Mapped[str] = mapped_column(String(64), default="")
    details: Mapped[dict] = mapped_column(JSON, default=dict)


class Notification(Base):
    """An item in one agent's notification drawer (INB-1, INB-2, INB-4)."""
    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(20))   # a kind: agents.conversation.DRAWER_KINDS
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text, default="")
    link: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    state: Mapped[str] = mapped_column(String(10), default="new")  # new | answered | ignored


class Trunk(Base):
    """A PJSIP trunk to a GSM/TDM gateway or carrier; inbound is identified by address and port,
    and, when ``register`` is on, also by the registration Centrala keeps at the carrier."""
    __tablename__ = "trunks"
    __table_args__ = (UniqueConstraint("host", "port", name="uq_trunks_host_port"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    host: Mapped[str] = mapped_column(String(255))
    port: Mapped[int] = mapped_column(Integer, default=5060)
    username: Mapped[str | None] = mapped_column(String(128), nullable=True)
    password: Mapped[str | None] = mapped_column(String(512), nullable=True)   # a Fernet token
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # VOI-1 "identified by registration": REGISTER at the carrier with username/password
    register: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # live state written by the pbx controller: registered | rejected | unregistered | stopped
    registration: Mapped[str | None] = mapped_column(String(20), nullable=True)


class PbxStatus(Base):
    """Single row (id=1) the pbx controller keeps current; web reads it for /healthz."""
    __tablename__ = "pbx_status"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ami_connected: Mapped[bool] = mapped_column(Boolean, default=False)
    ari_connected: Mapped[bool] = mapped_column(Boolean, default=False)
    asterisk_version: Mapped[str | None] = mapped_column(String(100), nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    queue: Mapped[dict | None] = mapped_column(JSON, nullable=True)   # live queue view (BEY-3)


class Number(Base):
    """A phone number from the pool (VOI-1), E.164, reached through its trunk."""
    __tablename__ = "numbers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    trunk_id: Mapped[int] = mapped_column(ForeignKey("trunks.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10), default="gsm")   # gsm | tdm | own
    label: Mapped[str] = mapped_column(String(100), default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    record_calls: Mapped[bool | None] = mapped_column(Boolean, nullable=True)  # VOI-5; None: account-wide
    hours: Mapped[dict | None] = mapped_column(JSON, nullable=True)  # BEY-5 (agents.inbound); None: always open


class Communication(Base):
    """One conversation in History (HIS-1): for voice, one call and what became of it."""
    __tablename__ = "communications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))                 # agents.conversation.CHANNELS
    direction: Mapped[str] = mapped_column(String(10))               # inbound | outbound
    outcome: Mapped[str] = mapped_column(String(12), default="in_progress")
    remote: Mapped[str] = mapped_column(String(64), default="")      # the customer's number/address
    our_number: Mapped[str | None] = mapped_column(String(20), nullable=True)
    trunk: Mapped[str | None] = mapped_column(String(64), nullable=True)
    pbx_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)  # Asterisk channel id
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    agents_rung: Mapped[list] = mapped_column(JSON, default=list)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    wait_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    talk_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    recording: Mapped[str | None] = mapped_column(String(255), nullable=True)   # file under the data dir
    note: Mapped[str] = mapped_column(Text, default="")


class Prompt(Base):
    """One of the voice prompts (VOI-4) and whether it is Off, Asterisk's Default or Custom.
    A kind without a row is in its initial mode (``centrala.prompts.INITIAL_MODE``)."""
    __tablename__ = "prompts"

    kind: Mapped[str] = mapped_column(String(20), primary_key=True)   # welcome | hold | answering
    mode: Mapped[str] = mapped_column(String(10), default="default")   # off | default | custom
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)


class PromptFile(Base):
    """An uploaded recording, converted for Asterisk (files under ``Settings.prompts_dir``)."""
    __tablename__ = "prompt_files"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(ForeignKey("prompts.kind", ondelete="CASCADE"), index=True)
    stored_name: Mapped[str] = mapped_column(String(64), unique=True)    # <kind>/<stored>.wav, .wav16
    original_name: Mapped[str] = mapped_column(String(255))             # as uploaded, for download
    size_bytes: Mapped[int] = mapped_column(Integer)                    # of the original
    duration: Mapped[float] = mapped_column(Float)                      # seconds, as converted
    uploaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    uploaded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)

    @property
    def original_file(self) -> str:
        """The original's file name under ``<prompts>/originals``."""
        from pathlib import PurePath

        return self.stored_name + PurePath(self.original_name).suffix.lower()


class AccountSetting(Base):
    """A setting an administrator changed in the panel; it overrides the CENTRALA_* default."""
    __tablename__ = "account_settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[object] = mapped_column(JSON, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


from centrala import models_contacts  # noqa: E402,F401
from centrala import models_files, models_tasks  # noqa: E402,F401
from centrala import models_chat  # noqa: E402,F401
from centrala import models_webhooks  # noqa: E402,F401
from centrala import models_offers  # noqa: E402,F401
from centrala import models_email  # noqa: E402,F401
