"""task due-date reminders (TSK-1): the choice, when it goes, when it was sent, the zone

Revision ID: 0014
Revises: 0012
Create Date: 2026-11-26

Tasks that existed before get no reminder ("none"): arming them all at once would remind of
every overdue task on the first start.  New tasks default to 15 minutes before.
"""
from alembic import op
import sqlalchemy as sa

revision = "0014"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("remind", sa.String(8), nullable=False, server_default="none"))
        batch.add_column(sa.Column("remind_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("time_zone", sa.String(64), nullable=True))
    op.create_index("ix_tasks_reminder", "tasks", ["reminded_at", "remind_at"])


def downgrade() -> None:
    op.drop_index("ix_tasks_reminder", table_name="tasks")
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("time_zone")
        batch.drop_column("reminded_at")
        batch.drop_column("remind_at")
        batch.drop_column("remind")
