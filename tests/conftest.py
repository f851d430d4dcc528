"""Fixtures.  Databases: SQLite in a temp dir, or the PostgreSQL server named by
CENTRALA_TEST_DATABASE_URL (CI runs the ``db`` tests again that way).  Asterisk: one real
instance per test session, from the system or the cached private root."""
from __future__ import annotations

import os

import pytest
from sqlalchemy import text

from agents.events import EventBus
from centrala.db import Database
from pbx.controller import Controller, ControllerThread
from pbx.runtime import AsteriskRuntime

from .helpers import EventRecorder, instance_settings, wait_for

PG_URL = os.environ.get("CENTRALA_TEST_DATABASE_URL", "")


def _reset_postgres(url: str) -> None:
    db = Database(url)
    with db.engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    db.dispose()


@pytest.fixture
def database_url(tmp_path):
    if PG_URL:
        _reset_postgres(PG_URL)
        return PG_URL
    return f"sqlite:///{tmp_path / 'test.db'}"


@pytest.fixture
def database(database_url):
    db = Database(database_url)
    db.upgrade()
    yield db
    db.dispose()


@pytest.fixture
def settings(tmp_path, database_url):
    return instance_settings(tmp_path / "data", database_url)


# -- real Asterisk ---------------------------------------------------------------------
@pytest.fixture(scope="session")
def pbx_instance(tmp_path_factory):
    """A real Asterisk for the whole session, with its own data dir, database and ports."""
    data = tmp_path_factory.mktemp("pbx")
    settings = instance_settings(data / "data", f"sqlite:///{data / 'pbx.db'}")
    db = Database(settings.db_url)
    db.upgrade()
    runtime = AsteriskRuntime(settings)
    runtime.up(db=db)
    yield settings, db, runtime
    runtime.down()
    db.dispose()


@pytest.fixture
def controller(pbx_instance):
    settings, db, runtime = pbx_instance
    if not runtime.is_running():  # a previous test may have stopped it
        runtime.up(db=db)
    bus = EventBus()
    recorder = EventRecorder(bus)
    ctl = Controller(settings, db, bus)
    thread = ControllerThread(ctl).start()
    wait_for(lambda: ctl.ami_up and ctl.ari_up, 15, what="controller connected to AMI and ARI")
    yield ctl, recorder
    thread.stop()
