"""Engine and session factory; migrations are applied with Alembic (``centrala db upgrade``)."""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).with_name("migrations")

# The pool is sized for the threads that hold a connection at the same time, not for every thread
# the threaded server runs (a thread per socket): handlers take a connection only for their own
# queries and return it before they publish events or wait (see docs/architecture.md, "Database
# connections").  A burst of 1,000 chats is absorbed by queueing for a connection, not by opening
# 1,000 of them (PostgreSQL's default max_connections is 100).
POOL_SIZE = 20
POOL_OVERFLOW = 30
POOL_TIMEOUT = 60.0


def pool_options(environ=None) -> dict:
    """``pool_size``/``max_overflow``/``pool_timeout`` from ``CENTRALA_DB_POOL_SIZE``,
    ``CENTRALA_DB_POOL_OVERFLOW`` and ``CENTRALA_DB_POOL_TIMEOUT`` (seconds), else the defaults."""
    env = os.environ if environ is None else environ
    return {"pool_size": int(env.get("CENTRALA_DB_POOL_SIZE") or POOL_SIZE),
            "max_overflow": int(env.get("CENTRALA_DB_POOL_OVERFLOW") or POOL_OVERFLOW),
            "pool_timeout": float(env.get("CENTRALA_DB_POOL_TIMEOUT") or POOL_TIMEOUT)}


def make_engine(url: str) -> Engine:
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    # pre-ping: a server restart must not fail the next request (a file database has no server)
    kwargs = {"pool_pre_ping": not url.startswith("sqlite"), "future": True}
    if ":memory:" not in url and url not in ("sqlite://", "sqlite:///"):
        kwargs.update(pool_options())
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 15}
    engine = create_engine(url, **kwargs)
    if url.startswith("sqlite"):
        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # pragma: no cover - trivial
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")  # with WAL: no fsync per commit, still consistent
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=15000")
            cur.close()
    return engine


class Database:
    """One engine and session factory per process and database URL.  ``secret_box``
    (``centrala.secretbox.SecretBox``) seals SIP and trunk passwords written through its
    sessions; ``Database.for_settings`` opens it with the data dir's key."""

    def __init__(self, url: str, secret_box=None):
        self.url = url
        self.engine = make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.secret_box = None
        if secret_box is not None:
            self.use_secret_box(secret_box)

    @classmethod
    def for_settings(cls, settings) -> "Database":
        from .secretbox import SecretBox

        return cls(settings.db_url, secret_box=SecretBox.for_settings(settings))

    def use_secret_box(self, box) -> None:
        from .secretbox import SESSION_KEY

        self.secret_box = box
        self.sessions.configure(info={SESSION_KEY: box})

    @contextmanager
    def session(self) -> Session:
        s = self.sessions()
        try:
            yield s
            s.commit()
        except BaseException:
            s.rollback()
            raise
        finally:
            s.close()

    def ping(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    def upgrade(self) -> None:
        upgrade(self.url, secret_box=self.secret_box)

    def dispose(self) -> None:
        self.engine.dispose()


def alembic_config(url: str):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head", secret_box=None) -> None:
    """Migrate; ``secret_box`` is needed when a migration encrypts stored secrets (0017)."""
    from alembic import command

    cfg = alembic_config(url)
    cfg.attributes["secret_box"] = secret_box
    command.upgrade(cfg, revision)


def current_revision(url: str) -> str | None:
    from alembic.runtime.migration import MigrationContext

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()
