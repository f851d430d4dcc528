"""voice prompts: welcome, hold music, answering machine (VOI-4)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26
"""
from alembic import op
import sqlalchemy as sa

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "prompts",
        sa.Column("kind", sa.String(20), primary_key=True),          # welcome | hold | answering
        sa.Column("mode", sa.String(10), nullable=False),            # off | default | custom
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_by", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    )
    op.create_table(
        "prompt_files",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String(20), sa.ForeignKey("prompts.kind", ondelete="CASCADE"), nullable=False),
        sa.Column("stored_name", sa.String(64), nullable=False, unique=True),
        sa.Column("original_name", sa.String(255), nullable=False),
        sa.Column("size_bytes", sa.Integer, nullable=False),
        sa.Column("duration", sa.Float, nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("uploaded_by", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    )
    op.create_index("ix_prompt_files_kind", "prompt_files", ["kind"])


def downgrade() -> None:
    op.drop_table("prompt_files")
    op.drop_table("prompts")
