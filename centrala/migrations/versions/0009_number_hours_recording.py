"""per-number recording switch and business hours (VOI-5, BEY-5)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25
"""
from alembic import op
import sqlalchemy as sa

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("numbers") as batch:
        batch.add_column(sa.Column("record_calls", sa.Boolean, nullable=True))
        batch.add_column(sa.Column("hours", sa.JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("numbers") as batch:
        batch.drop_column("hours")
        batch.drop_column("record_calls")
