"""website chat: visitors, conversations, messages, page views, templates

Revision ID: 0012
Revises: 0008
Create Date: 2026-11-25
"""
from alembic import op
import sqlalchemy as sa

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "chat_visitors",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("language", sa.String(5), nullable=False),
        sa.Column("ip", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("communication_id", sa.Integer, sa.ForeignKey("communications.id", ondelete="SET NULL"),
                  nullable=True),
    )
    op.create_table(
        "chat_conversations",
        sa.Column("communication_id", sa.Integer, sa.ForeignKey("communications.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("visitor_id", sa.Integer, sa.ForeignKey("chat_visitors.id", ondelete="CASCADE"),
                  nullable=False, index=True),
        sa.Column("origin", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
    )
    op.create_table(
        "chat_messages",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("communication_id", sa.Integer, sa.ForeignKey("communications.id", ondelete="CASCADE"),
                  nullable=False, index=True),
        sa.Column("sender", sa.String(10), nullable=False),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("attachment", sa.String(255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "chat_page_views",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("visitor_id", sa.Integer, sa.ForeignKey("chat_visitors.id", ondelete="CASCADE"),
                  nullable=False, index=True),
        sa.Column("communication_id", sa.Integer, sa.ForeignKey("communications.id", ondelete="SET NULL"),
                  nullable=True, index=True),
        sa.Column("url", sa.String(1000), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "chat_templates",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("title", sa.String(100), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    for table in ("chat_templates", "chat_page_views", "chat_messages", "chat_conversations", "chat_visitors"):
        op.drop_table(table)
