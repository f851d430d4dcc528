"""agent SIP accounts

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""
import secrets

from alembic import op
import sqlalchemy as sa

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as b:
        b.add_column(sa.Column("sip_username", sa.String(64), nullable=True))
        b.add_column(sa.Column("sip_password", sa.String(64), nullable=True))
        b.create_unique_constraint("uq_users_sip_username", ["sip_username"])
    conn = op.get_bind()
    for (uid,) in conn.execute(sa.text("SELECT id FROM users")).fetchall():
        conn.execute(sa.text("UPDATE users SET sip_username = :u, sip_password = :p WHERE id = :id"),
                     {"u": f"agent{uid}", "p": secrets.token_urlsafe(18), "id": uid})


def downgrade() -> None:
    with op.batch_alter_table("users") as b:
        b.drop_constraint("uq_users_sip_username", type_="unique")
        b.drop_column("sip_password")
        b.drop_column("sip_username")
