"""trunks may register at the carrier (VOI-1: inbound identified by registration)

Revision ID: 0013
Revises: 0009
Create Date: 2026-11-25
"""
from alembic import op
import sqlalchemy as sa

revision = "0013"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("trunks") as batch:
        batch.add_column(sa.Column("register", sa.Boolean, nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("registration", sa.String(20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("trunks") as batch:
        batch.drop_column("registration")
        batch.drop_column("register")
