"""Database layer; CI runs this file again on PostgreSQL."""
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import inspect, select

from centrala.db import Database, current_revision
from centrala.models import PbxStatus, Trunk, User
from centrala.pbx_status import read_status, write_status
from centrala.users import UserError, create_user, ensure_first_admin, verify_password
from centrala.pbx_status import health

pytestmark = pytest.mark.db


def test_migrations_create_schema_and_reach_head(database):
    tables = set(inspect(database.engine).get_table_names())
    assert {"users", "trunks", "pbx_status", "alembic_version", "api_tokens", "auth_tokens",
            "login_failures", "audit_log", "notifications"} <= tables
    assert current_revision(database.url) == "0019"
    database.upgrade()  # idempotent
    assert current_revision(database.url) == "0019"


def test_downgrade_to_base_and_back(database_url):
    from alembic import command

    from centrala.db import alembic_config

    db = Database(database_url)
    db.upgrade()
    command.downgrade(alembic_config(database_url), "base")
    assert "users" not in inspect(db.engine).get_table_names()
    db.upgrade()
    assert "users" in inspect(db.engine).get_table_names()
    db.dispose()


def test_users_are_argon2_hashed_and_validated(database):
    with database.session() as s:
        u = create_user(s, " Anna@Example.COM ", "Anna Nowak", "agent", "s3cret-pass")
    with database.session() as s:
        stored = s.scalar(select(User).where(User.email == "anna@example.com"))
        assert stored.password_hash.startswith("$argon2id$")
        assert verify_password(stored.password_hash, "s3cret-pass")
        assert not verify_password(stored.password_hash, "wrong")
        assert not verify_password(None, "")
    for email, role, msg in [("anna@example.com", "agent", "already exists"),
                             ("not-an-email", "agent", "valid email"),
                             ("b@example.com", "boss", "role")]:
        with pytest.raises(UserError, match=msg):
            with database.session() as s:
                create_user(s, email, "B", role, "x")


def test_first_admin_created_once(database):
    first = ensure_first_admin(database, "admin@centrala.local")
    assert first is not None
    admin, password = first
    assert admin.role == "admin" and len(password) >= 12
    assert ensure_first_admin(database, "admin@centrala.local") is None
    with database.session() as s:
        stored = s.scalar(select(User))
        assert verify_password(stored.password_hash, password)


def test_trunk_host_port_unique(database):
    from sqlalchemy.exc import IntegrityError

    with database.session() as s:
        s.add(Trunk(name="a", host="127.0.0.1", port=5099, enabled=True))
    with pytest.raises(IntegrityError):
        with database.session() as s:
            s.add(Trunk(name="b", host="127.0.0.1", port=5099, enabled=True))


def test_health_follows_the_controller_heartbeat(database):
    assert health(database, 6) == {"status": "degraded", "checks": {"db": True, "ami": False, "ari": False},
                                   "asterisk": None}
    write_status(database, True, True, "22.1.0")
    assert health(database, 6) == {"status": "ok", "checks": {"db": True, "ami": True, "ari": True},
                                   "asterisk": "22.1.0"}
    write_status(database, True, False, "22.1.0")
    assert health(database, 6)["checks"] == {"db": True, "ami": True, "ari": False}
    # a controller that stopped writing is not trusted after the stale limit
    with database.session() as s:
        s.get(PbxStatus, 1).heartbeat_at = datetime.now(timezone.utc) - timedelta(seconds=30)
    assert health(database, 6)["checks"] == {"db": True, "ami": False, "ari": False}
    assert read_status(database).asterisk_version == "22.1.0"


def test_health_reports_database_down():
    broken = Database("sqlite:////nonexistent-dir/x.db")
    assert health(broken, 6)["checks"] == {"db": False, "ami": False, "ari": False}
