"""email: mailboxes, their agents, email conversations, messages, attachments, templates (issue 13)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04
"""
from alembic import op
import sqlalchemy as sa

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def _now():
    return sa.Column("created_at", sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    op.create_table(
        "mailboxes",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String(10), nullable=False, server_default="shared"),
        sa.Column("label", sa.String(100), nullable=False),
        sa.Column("address", sa.String(254), nullable=False),
        sa.Column("username", sa.String(254), nullable=False),
        sa.Column("password_sealed", sa.Text, nullable=True),
        sa.Column("auth", sa.String(10), nullable=False, server_default="password"),
        sa.Column("oauth_sealed", sa.Text, nullable=True),
        sa.Column("imap_host", sa.String(255), nullable=False),
        sa.Column("imap_port", sa.Integer, nullable=False, server_default="993"),
        sa.Column("imap_security", sa.String(10), nullable=False, server_default="ssl"),
        sa.Column("smtp_host", sa.String(255), nullable=False),
        sa.Column("smtp_port", sa.Integer, nullable=False, server_default="465"),
        sa.Column("smtp_security", sa.String(10), nullable=False, server_default="ssl"),
        sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=True, index=True),
        sa.Column("signature", sa.Text, nullable=False, server_default=""),
        sa.Column("state", sa.String(12), nullable=False, server_default="connecting"),
        sa.Column("last_error", sa.Text, nullable=False, server_default=""),
        sa.Column("state_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("uidvalidity", sa.BigInteger, nullable=True),
        sa.Column("last_uid", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("sent_folder", sa.String(255), nullable=False, server_default=""),
        _now(),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "mailbox_agents",
        sa.Column("mailbox_id", sa.Integer, sa.ForeignKey("mailboxes.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True,
                  index=True),
    )
    op.create_table(
        "email_conversations",
        sa.Column("communication_id", sa.Integer, sa.ForeignKey("communications.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("mailbox_id", sa.Integer, sa.ForeignKey("mailboxes.id", ondelete="SET NULL"), nullable=True),
        sa.Column("token", sa.String(16), nullable=False, unique=True),
        sa.Column("subject", sa.String(998), nullable=False, server_default=""),
        sa.Column("customer", sa.String(254), nullable=False, server_default=""),
        sa.Column("reopened_from", sa.Integer, sa.ForeignKey("communications.id", ondelete="SET NULL"),
                  nullable=True),
    )
    op.create_index("ix_email_conversations_customer", "email_conversations", ["mailbox_id", "customer"])
    op.create_table(
        "email_messages",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("communication_id", sa.Integer, sa.ForeignKey("communications.id", ondelete="CASCADE"),
                  nullable=False, index=True),
        sa.Column("mailbox_id", sa.Integer, sa.ForeignKey("mailboxes.id", ondelete="SET NULL"), nullable=True),
        sa.Column("direction", sa.String(10), nullable=False),
        sa.Column("kind", sa.String(12), nullable=False, server_default="message"),
        sa.Column("message_id", sa.String(512), nullable=False, server_default=""),
        sa.Column("dedup_key", sa.String(64), nullable=False),
        sa.Column("in_reply_to", sa.String(512), nullable=False, server_default=""),
        sa.Column("references", sa.Text, nullable=False, server_default=""),
        sa.Column("subject", sa.String(998), nullable=False, server_default=""),
        sa.Column("from_addr", sa.String(320), nullable=False, server_default=""),
        sa.Column("from_name", sa.String(200), nullable=False, server_default=""),
        sa.Column("to", sa.JSON, nullable=False),
        sa.Column("cc", sa.JSON, nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("text", sa.Text, nullable=False, server_default=""),
        sa.Column("html", sa.Text, nullable=True),
        sa.Column("parse_error", sa.Text, nullable=False, server_default=""),
        sa.Column("uid", sa.BigInteger, nullable=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
        sa.Column("delivery", sa.String(10), nullable=False, server_default="received"),
        sa.Column("error", sa.Text, nullable=False, server_default=""),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        _now(),
        sa.UniqueConstraint("mailbox_id", "dedup_key", name="uq_email_messages_dedup"),
    )
    op.create_index("ix_email_messages_message_id", "email_messages", ["message_id"])
    op.create_index("ix_email_messages_outbox", "email_messages", ["delivery", "next_attempt_at"])
    op.create_table(
        "email_attachments",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("message_id", sa.Integer, sa.ForeignKey("email_messages.id", ondelete="CASCADE"),
                  nullable=False, index=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("content_type", sa.String(127), nullable=False, server_default="application/octet-stream"),
        sa.Column("size", sa.Integer, nullable=False, server_default="0"),
        sa.Column("stored_name", sa.String(64), nullable=False, unique=True),
        sa.Column("content_id", sa.String(255), nullable=False, server_default=""),
    )
    op.create_table(
        "email_templates",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("title", sa.String(100), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        _now(),
    )


def downgrade() -> None:
    op.drop_table("email_templates")
    op.drop_table("email_attachments")
    op.drop_index("ix_email_messages_outbox", table_name="email_messages")
    op.drop_index("ix_email_messages_message_id", table_name="email_messages")
    op.drop_table("email_messages")
    op.drop_index("ix_email_conversations_customer", table_name="email_conversations")
    op.drop_table("email_conversations")
    op.drop_table("mailbox_agents")
    op.drop_table("mailboxes")
