"""Fixtures.  Databases: SQLite in a temp dir, or the PostgreSQL server named by
CENTRALA_TEST_DATABASE_URL (CI runs the ``db`` tests again that way).  Asterisk: one real
instance per test session, from the system or the cached private root."""
from __future__ import annotations

import os

import pytest
from sqlalchemy import text

from agents.events import EventBus
from centrala.db import Database
from centrala.secretbox import SecretBox
from pbx.controller import Controller, ControllerThread
from pbx.runtime import AsteriskRuntime, asterisks_under, processes_mentioning, stop_process
from web.background import stop as stop_background

from .helpers import EventRecorder, instance_settings, wait_for

PG_URL = os.environ.get("CENTRALA_TEST_DATABASE_URL", "")


def _reset_postgres(url: str) -> None:
    db = Database(url)
    with db.engine.begin() as conn:
        # connections a previous test left behind (background threads, pools of apps it built)
        # would deadlock the DROP; the test role may end its own sessions
        conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE datname = current_database() AND usename = current_user AND pid <> pg_backend_pid()"))
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
def database(database_url, tmp_path):
    # the key of the data dir the settings fixtures use (tmp_path / "data")
    db = Database(database_url, secret_box=SecretBox.for_data_dir(tmp_path / "data"))
    db.upgrade()
    yield db
    db.dispose()


@pytest.fixture
def settings(tmp_path, database_url):
    return instance_settings(tmp_path / "data", database_url)


# -- real Asterisk ---------------------------------------------------------------------
_SESSION_PBX_DIRS: list = []   # the session's Asterisk data dirs (restarted by tests at will)


@pytest.fixture(autouse=True)
def no_stray_asterisk(tmp_path_factory):
    """Every Asterisk a test starts under the test temp root is stopped at its teardown: one
    still running then (a retry, a restart, a ``centrala run`` killed mid-way) is stopped here,
    with a warning naming it.  The session's own Asterisk is left alone."""
    import warnings

    base = tmp_path_factory.getbasetemp()
    before = set(asterisks_under(base))
    yield
    session = {pid for d in _SESSION_PBX_DIRS for pid in processes_mentioning(str(d))}
    strays = sorted(set(asterisks_under(base)) - before - session)
    for pid in strays:
        stop_process(pid, timeout=10)
    if strays:
        warnings.warn(f"stopped {len(strays)} Asterisk process(es) the test left running: {strays}")


@pytest.fixture(scope="session")
def pbx_instance(tmp_path_factory):
    """A real Asterisk for the whole session, with its own data dir, database and ports."""
    from pbx.errors import PbxError

    data = tmp_path_factory.mktemp("pbx")
    _SESSION_PBX_DIRS.append(data)
    runtimes = []
    for attempt in range(3):
        # ports are picked free, but another process may take one before Asterisk binds it
        settings = instance_settings(data / f"data{attempt}", f"sqlite:///{data / f'pbx{attempt}.db'}",
                                     CENTRALA_RING_TIMEOUT=2, CENTRALA_QUEUE_STRATEGY="linear",
                                     CENTRALA_RECORD_CALLS=1)
        db = Database.for_settings(settings)
        db.upgrade()
        runtime = AsteriskRuntime(settings)
        runtimes.append(runtime)
        try:
            runtime.up(db=db)
            break
        except PbxError as exc:
            if attempt == 2 or "in use" not in str(exc) and "exited" not in str(exc):
                raise
            print(f"Asterisk start attempt {attempt + 1} failed, retrying with other ports: {exc}")
    yield settings, db, runtime
    for each in runtimes:   # a failed attempt's Asterisk too: each stops every one of its data dir
        each.down()
    db.dispose()
    assert asterisks_under(data) == [], "an Asterisk of the session's instance is still running"


@pytest.fixture
def pooled_number(pbx_instance, request):
    """The company's number +48 22 123 45 67 in the pool (through a trunk named 'carrier')."""
    from agents import events
    from centrala.models import Number, Trunk

    settings, db, runtime = pbx_instance
    with db.session() as s:
        if not s.query(Number).filter_by(number="+48221234567").first():
            trunk = Trunk(name="carrier", host="127.0.0.2", port=5060, enabled=True)
            s.add(trunk)
            s.flush()
            s.add(Number(number="+48221234567", trunk_id=trunk.id, kind="gsm", label="Main", enabled=True))
    if "controller" in request.fixturenames:   # as Settings would: the controller forgets its routing facts
        request.getfixturevalue("controller")[0].bus.publish(events.SETTINGS_CHANGED, area="numbers", keys=[])
    return "+48221234567"


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


# -- mail and web ------------------------------------------------------------------------
class Mailbox:
    """Messages received by a real SMTP server (aiosmtpd) on loopback."""

    def __init__(self):
        import threading

        self.messages = []
        self._cond = threading.Condition()

    async def handle_DATA(self, server, session, envelope):
        from email import message_from_bytes, policy

        msg = message_from_bytes(envelope.content, policy=policy.default)
        with self._cond:
            self.messages.append(msg)
            self._cond.notify_all()
        return "250 OK"

    def wait_for(self, to: str, timeout: float = 10.0, subject_contains: str = ""):
        import time

        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for m in self.messages:
                    if to.lower() in str(m["To"]).lower() and subject_contains in str(m["Subject"]):
                        return m
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"no email to {to} within {timeout} s; got {[str(m['To']) for m in self.messages]}")
                self._cond.wait(remaining)

    def count(self, to: str) -> int:
        with self._cond:
            return sum(1 for m in self.messages if to.lower() in str(m["To"]).lower())


@pytest.fixture
def smtp_server():
    from aiosmtpd.controller import Controller

    from .helpers import free_port

    box = Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    box.port = port
    yield box
    controller.stop()


@pytest.fixture
def dovecot(tmp_path):
    """A real IMAP server (Debian's Dovecot) on free loopback ports: ``tests/mailservers.py``."""
    from .mailservers import Dovecot

    with Dovecot(tmp_path / "dovecot") as server:
        yield server


def mail_link(message) -> str:
    import re

    body = message.get_body(preferencelist=("plain",)).get_content()
    return re.search(r"https?://\S+/password/set#\S+", body).group(0)


@pytest.fixture
def web_settings(tmp_path, database_url, smtp_server):
    return instance_settings(tmp_path / "data", database_url, CENTRALA_SMTP_PORT=smtp_server.port,
                             CENTRALA_MAIL_FROM="Centrala <centrala@example.com>",
                             CENTRALA_PRESENCE_GRACE_SECONDS=1)


@pytest.fixture
def app(web_settings, database):
    from web import create_app

    application = create_app(web_settings, db=database)
    application.config["TESTING"] = True
    yield application
    stop_background(application)   # its sweepers must not act on the next test's data


@pytest.fixture
def live_server(app, web_settings):
    """The app served by a real threaded HTTP server on loopback (for the browser tests)."""
    import threading

    from web.serving import make_server

    server = make_server("127.0.0.1", web_settings.http_port, app)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.url = f"http://127.0.0.1:{web_settings.http_port}"
    yield server
    server.shutdown()


@pytest.fixture
def make_user(database):
    """Create a user directly in the database: make_user(email, role='agent', password=...)."""
    from centrala.users import create_user

    def make(email: str, role: str = "agent", password: str = "correct horse 1", name: str | None = None,
             channels=("chat", "email", "voice_in")):
        with database.session() as s:
            u = create_user(s, email, name or email.split("@")[0].title(), role, password, channels=channels)
            return u.id

    return make


@pytest.fixture
def admin(app, make_user):
    """A logged-in administrator's HTTP client (boss@example.com)."""
    from .web_helpers import login

    make_user("boss@example.com", role="admin", name="Barbara Boss")
    c = app.test_client()
    assert login(c, "boss@example.com").status_code == 302
    return c


@pytest.fixture
def agent(app, make_user):
    """A logged-in agent's HTTP client (agent@example.com)."""
    from .web_helpers import login

    make_user("agent@example.com", name="Adam Agent")
    c = app.test_client()
    assert login(c, "agent@example.com").status_code == 302
    return c
