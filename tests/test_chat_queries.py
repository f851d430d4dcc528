"""What the chat's busy paths read (issue 11's chat regression): the abandoned-visitor sweep that
runs twice a second, its heartbeat, and an accept.  Statements are counted on this thread with
SQLAlchemy's ``before_cursor_execute`` against the real database (no timing).  The app runs
without its background loops; a test calls the sweep itself."""
from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from datetime import timedelta, timezone

import pytest
from sqlalchemy import event

from centrala.models import Communication, User, utcnow
from centrala.models_chat import ChatVisitor
from web.background import stop as stop_background
from web.chat import services as svc
from web.offers import engine as offer_engine

from .test_chat import open_chat_offers

pytestmark = pytest.mark.db
GRACE = 3.0


@pytest.fixture
def app(web_settings, database):
    from web import create_app

    application = create_app(web_settings, db=database, start_background=False)
    application.config.update(TESTING=True, CHAT_VISITOR_GRACE=GRACE)
    yield application
    stop_background(application)


@pytest.fixture
def agent(database, make_user) -> int:
    """An Online agent serving chat."""
    uid = make_user("anna@example.com", channels=("chat",))
    with database.session() as s:
        s.get(User, uid).status = "online"
    return uid


@contextmanager
def statements(database):
    """The SQL statements this thread sends while the block runs (whitespace folded)."""
    seen: list[str] = []
    me = threading.get_ident()

    def record(_conn, _cursor, statement, *_args):
        if threading.get_ident() == me:
            seen.append(" ".join(statement.split()))

    event.listen(database.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(database.engine, "before_cursor_execute", record)


def new_visitor(database, seen_at=None) -> int:
    with database.session() as s:
        v, _token = svc.new_visitor(s, "192.0.2.1", "en")
        v.last_seen_at = seen_at or utcnow()
        s.flush()
        return v.id


def waiting_chat(app, database, seen_at=None) -> tuple[int, int]:
    """A visitor's new chat, offered to the Online agent: (communication id, visitor id)."""
    vid = new_visitor(database, seen_at)
    with app.app_context():
        s = database.sessions()
        try:
            c = svc.open_chat(s, s.get(ChatVisitor, vid), "http://shop.test")
            s.commit()
            cid = c.id
            assert offer_engine(app).offer(s, cid) is not None
        finally:
            s.close()
    return cid, vid


def last_seen(database, vid: int):
    with database.session() as s:
        seen = s.get(ChatVisitor, vid).last_seen_at
        return seen if seen.tzinfo else seen.replace(tzinfo=timezone.utc)


def outcome(database, cid: int) -> str:
    with database.session() as s:
        return s.get(Communication, cid).outcome


def test_a_sweep_pass_reads_the_offered_chats_once_however_many_wait(app, database, agent):
    chats = [waiting_chat(app, database) for _ in range(3)]
    chub = app.extensions["centrala.chat"]
    with statements(database) as seen:
        chub.sweep_once()
    assert len(seen) == 1 and seen[0].startswith("SELECT"), seen
    assert open_chat_offers(database) == [cid for cid, _vid in chats]   # nobody gone yet: all still offered


def test_after_the_grace_only_the_visitor_nobody_has_seen_is_missed(app, database, agent):
    """The pass decides from its one read: a visitor another web process saw lately stays; one
    gone from every process (no socket here for the grace, no stamp for as long) is missed."""
    kept, kept_vid = waiting_chat(app, database, seen_at=utcnow())
    gone, gone_vid = waiting_chat(app, database, seen_at=utcnow() - timedelta(hours=1))
    chub = app.extensions["centrala.chat"]
    with chub.lock:   # both left this process's sockets a while ago
        chub.left.update({kept_vid: time.monotonic() - 2 * GRACE, gone_vid: time.monotonic() - 2 * GRACE})
    with statements(database) as seen:
        chub.sweep_once()
    assert open_chat_offers(database) == [kept]
    assert (outcome(database, kept), outcome(database, gone)) == ("in_progress", "missed")
    per_visitor = [q for q in seen if q.startswith("SELECT") and
                   ("WHERE chat_visitors.id =" in q or "WHERE chat_conversations.communication_id =" in q)]
    assert per_visitor == []        # when they were last seen came with the pass's one read


def test_the_heartbeat_stamps_only_waiting_visitors_with_a_socket_here(app, database, agent):
    """Only the abandoned-visitor sweep reads the stamp, and only for chats being offered: a
    visitor here whose chat is not offered is not written every few seconds."""
    old = utcnow() - timedelta(hours=1)
    cid, waiting_vid = waiting_chat(app, database, seen_at=old)
    idle_vid = new_visitor(database, seen_at=old)      # browsing, no chat offered
    chub = app.extensions["centrala.chat"]
    with chub.lock:
        chub.sids.update({"sid-waiting": waiting_vid, "sid-idle": idle_vid})
    chub.sweep_once()
    assert (utcnow() - last_seen(database, waiting_vid)).total_seconds() < 60
    assert last_seen(database, idle_vid) == old

    with app.app_context():   # accepted: nothing is offered any more
        s = database.sessions()
        try:
            assert offer_engine(app).accept(s, cid, agent).ok
        finally:
            s.close()
    chub.beat_at = float("-inf")   # a heartbeat is due
    with statements(database) as seen:
        chub.sweep_once()
    assert len(seen) == 1 and seen[0].startswith("SELECT"), seen   # one read, no write


def test_an_accept_reads_nothing_twice(app, database, agent):
    """After the accept's commit the chat's presenter works from what the handler loaded (the
    conversation, its visitor, the agent): only the offer row is read back."""
    cid, _vid = waiting_chat(app, database)
    with app.app_context():
        s = database.sessions()
        try:
            loaded = svc.conversation(s, cid), s.get(User, agent)   # as the chat:accept handler holds them
            with statements(database) as seen:
                assert offer_engine(app).accept(s, cid, agent).ok
            assert loaded[1].id == agent
        finally:
            s.close()
    again = [q for q in seen if q.startswith("SELECT") and
             any(f"FROM {table} " in q + " " for table in ("communications", "chat_conversations", "chat_visitors",
                                                           "users"))]
    assert again == []
    assert outcome(database, cid) == "in_progress"
    with database.session() as s:
        assert s.get(Communication, cid).agent_id == agent
