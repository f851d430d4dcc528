"""web security (issue 12): revocable login sessions, login failures per account, SIP and
trunk passwords encrypted at rest (Fernet, key from the data dir's secrets.json)

Revision ID: 0017
Revises: 0015
Create Date: 2026-12-04
"""
from alembic import context, op
import sqlalchemy as sa

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

SECRET_COLUMNS = (("users", "sip_password", 64), ("trunks", "password", 128))


def _box():
    box = context.config.attributes.get("secret_box")
    if box is None:
        raise RuntimeError("migration 0017 encrypts stored SIP and trunk passwords and needs the data "
                           "dir's key: run it with `centrala db upgrade` (Database.for_settings)")
    return box


def _stored(column_pairs) -> list:
    """(table, column, rows) of the stored secrets, read before any change: a missing key
    stops the migration before it alters anything (SQLite's DDL is not transactional)."""
    conn = op.get_bind()
    found = [(t, c, conn.execute(sa.text(f"SELECT id, {c} FROM {t} WHERE {c} IS NOT NULL")).all())
             for t, c, _old in column_pairs]
    if any(rows for _t, _c, rows in found):
        _box()
    return found


def _rewrite(found, convert) -> None:
    conn = op.get_bind()
    for table, column, rows in found:
        for row_id, value in rows:
            box = _box()
            conn.execute(sa.text(f"UPDATE {table} SET {column} = :v WHERE id = :id"),
                         {"v": convert(box, value), "id": row_id})


def upgrade() -> None:
    found = _stored(SECRET_COLUMNS)
    op.create_table(
        "login_sessions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ip", sa.String(64), nullable=False, server_default=""),
    )
    op.create_index("ix_login_sessions_user_id", "login_sessions", ["user_id"])
    with op.batch_alter_table("login_failures") as b:
        b.add_column(sa.Column("account", sa.String(254), nullable=False, server_default=""))
    op.create_index("ix_login_failures_account_at", "login_failures", ["account", "at"])
    for table, column, old in SECRET_COLUMNS:
        with op.batch_alter_table(table) as b:
            b.alter_column(column, type_=sa.String(512), existing_type=sa.String(old), existing_nullable=True)
    _rewrite(found, lambda box, plain: box.seal(plain))


def downgrade() -> None:
    _rewrite(_stored(SECRET_COLUMNS), lambda box, token: box.open(token))
    for table, column, old in SECRET_COLUMNS:
        with op.batch_alter_table(table) as b:
            b.alter_column(column, type_=sa.String(old), existing_type=sa.String(512), existing_nullable=True)
    op.drop_index("ix_login_failures_account_at", "login_failures")
    with op.batch_alter_table("login_failures") as b:
        b.drop_column("account")
    op.drop_index("ix_login_sessions_user_id", "login_sessions")
    op.drop_table("login_sessions")
