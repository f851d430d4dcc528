"""live queue statistics kept by the pbx controller

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25
"""
from alembic import op
import sqlalchemy as sa

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("pbx_status") as b:
        b.add_column(sa.Column("queue", sa.JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("pbx_status") as b:
        b.drop_column("queue")
