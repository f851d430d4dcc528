"""offers of text conversations and pending transfers, stored (issue 11)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04
"""
from alembic import op
import sqlalchemy as sa

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "conversation_offers",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("communication_id", sa.Integer, sa.ForeignKey("communications.id", ondelete="CASCADE"),
                  nullable=False, unique=True),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False, server_default="offer"),
        sa.Column("state", sa.String(10), nullable=False, server_default="open"),
        sa.Column("agent_id", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
        sa.Column("from_agent_id", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
        sa.Column("anyone", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("note", sa.String(200), nullable=False, server_default=""),
        sa.Column("tried", sa.JSON, nullable=False),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=False),
        sa.Column("notification_id", sa.Integer, sa.ForeignKey("notifications.id", ondelete="SET NULL"),
                  nullable=True),
        sa.Column("version", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_conversation_offers_due", "conversation_offers", ["state", "deadline"])
    op.create_index("ix_conversation_offers_agent", "conversation_offers", ["agent_id", "state"])


def downgrade() -> None:
    op.drop_index("ix_conversation_offers_agent", table_name="conversation_offers")
    op.drop_index("ix_conversation_offers_due", table_name="conversation_offers")
    op.drop_table("conversation_offers")
