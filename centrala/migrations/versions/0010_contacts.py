"""contacts, their emails and phones, custom fields, contact imports (CON-1…5, SET-3)

Revision ID: 0010
Revises: 0008
Create Date: 2026-11-25
"""
from alembic import op
import sqlalchemy as sa

revision = "0010"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "custom_fields",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("applies_to", sa.String(10), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("applies_to", "key", name="uq_custom_fields_applies_key"),
    )
    op.create_table(
        "contact_imports",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("stored_name", sa.String(64), nullable=False),
        sa.Column("size_bytes", sa.Integer, nullable=False),
        sa.Column("encoding", sa.String(20), nullable=False),
        sa.Column("delimiter", sa.String(2), nullable=False),
        sa.Column("has_header", sa.Boolean, nullable=False),
        sa.Column("mapping", sa.JSON, nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("total", sa.Integer, nullable=False),
        sa.Column("ok", sa.Integer, nullable=False),
        sa.Column("processed", sa.Integer, nullable=False),
        sa.Column("created", sa.Integer, nullable=False),
        sa.Column("updated", sa.Integer, nullable=False),
        sa.Column("error_count", sa.Integer, nullable=False),
        sa.Column("errors", sa.JSON, nullable=False),
        sa.Column("warnings", sa.JSON, nullable=False),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("message", sa.Text, nullable=False),
    )
    op.create_index("ix_contact_imports_created_at", "contact_imports", ["created_at"])
    op.create_table(
        "contacts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("first_name", sa.String(200), nullable=False),
        sa.Column("last_name", sa.String(200), nullable=False),
        sa.Column("organisation", sa.String(300), nullable=False),
        sa.Column("address", sa.Text, nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("custom", sa.JSON, nullable=False),
        sa.Column("search", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
        sa.Column("import_id", sa.Integer, sa.ForeignKey("contact_imports.id", ondelete="SET NULL"),
                  nullable=True),
    )
    op.create_index("ix_contacts_last_first", "contacts", ["last_name", "first_name", "id"])
    op.create_index("ix_contacts_first_last", "contacts", ["first_name", "last_name", "id"])
    op.create_index("ix_contacts_org", "contacts", ["organisation", "id"])
    op.create_table(
        "contact_emails",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("contact_id", sa.Integer, sa.ForeignKey("contacts.id", ondelete="CASCADE"), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
    )
    op.create_index("ix_contact_emails_contact_id", "contact_emails", ["contact_id"])
    op.create_index("ix_contact_emails_email", "contact_emails", ["email"])
    op.create_table(
        "contact_phones",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("contact_id", sa.Integer, sa.ForeignKey("contacts.id", ondelete="CASCADE"), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("number", sa.String(20), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
    )
    op.create_index("ix_contact_phones_contact_id", "contact_phones", ["contact_id"])
    op.create_index("ix_contact_phones_number", "contact_phones", ["number"])
    _search_index_up()


# Contact search looks for substrings of ``contacts.search``; a trigram index makes that fast:
# SQLite: an FTS5 table with the trigram tokenizer, kept in step by triggers;
# PostgreSQL: pg_trgm's GIN index (LIKE '%…%' uses it).  Without them search still works,
# as a scan (centrala.contacts checks what exists).
SQLITE_FTS = [
    "CREATE VIRTUAL TABLE contacts_fts USING fts5(search, content='contacts', content_rowid='id', "
    "tokenize='trigram', detail='none')",
    # rows an import inserts (import_id set) are indexed by the import, a batch at a time (faster)
    "CREATE TRIGGER contacts_fts_ai AFTER INSERT ON contacts WHEN new.import_id IS NULL BEGIN "
    "INSERT INTO contacts_fts(rowid, search) VALUES (new.id, new.search); END",
    "CREATE TRIGGER contacts_fts_ad AFTER DELETE ON contacts BEGIN "
    "INSERT INTO contacts_fts(contacts_fts, rowid, search) VALUES ('delete', old.id, old.search); END",
    "CREATE TRIGGER contacts_fts_au AFTER UPDATE OF search ON contacts BEGIN "
    "INSERT INTO contacts_fts(contacts_fts, rowid, search) VALUES ('delete', old.id, old.search); "
    "INSERT INTO contacts_fts(rowid, search) VALUES (new.id, new.search); END",
]


def _search_index_up() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        if _sqlite_has_trigram():
            for stmt in SQLITE_FTS:
                bind.exec_driver_sql(stmt)
    elif bind.dialect.name == "postgresql":
        available = bind.exec_driver_sql(
            "SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'").scalar()
        if available:
            try:
                with bind.begin_nested():
                    bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
                    bind.exec_driver_sql("CREATE INDEX ix_contacts_search_trgm ON contacts "
                                         "USING gin (search gin_trgm_ops)")
            except Exception:  # noqa: BLE001  (not allowed to create the extension: search scans)
                pass


def _sqlite_has_trigram() -> bool:
    """FTS5 with the trigram tokenizer (SQLite 3.34+), tried on a scratch in-memory database."""
    import sqlite3

    scratch = sqlite3.connect(":memory:")
    try:
        scratch.execute("CREATE VIRTUAL TABLE t USING fts5(x, tokenize='trigram')")
        return True
    except sqlite3.Error:
        return False
    finally:
        scratch.close()


def _search_index_down() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for name in ("contacts_fts_ai", "contacts_fts_ad", "contacts_fts_au"):
            bind.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}")
        bind.exec_driver_sql("DROP TABLE IF EXISTS contacts_fts")
    elif bind.dialect.name == "postgresql":
        bind.exec_driver_sql("DROP INDEX IF EXISTS ix_contacts_search_trgm")


def downgrade() -> None:
    _search_index_down()
    op.drop_table("contact_phones")
    op.drop_table("contact_emails")
    op.drop_table("contacts")
    op.drop_table("contact_imports")
    op.drop_table("custom_fields")
