"""The offer engine of text conversations (centrala/conversations/offers.py) against a real
database (SQLite here; PostgreSQL with CENTRALA_TEST_DATABASE_URL): offers, rollover, accept once
only, transfers, and two engines ("web processes") sharing one database never acting twice.

Time is the engine's injected clock (no sleeping through timeouts); "another process" is a second
engine with its own Database (engine, pool, sessions) on the same database URL."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from agents import events
from agents.events import EventBus
from centrala.conversations.offers import OfferEngine, SilentPresenter, open_offer, utc_now
from centrala.db import Database
from centrala.models import Communication, User
from centrala.models_offers import ConversationOffer

from .helpers import EventRecorder

pytestmark = pytest.mark.db
TIMEOUT = 30


class Clock:
    def __init__(self):
        self.now = utc_now()

    def __call__(self):
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class Process:
    """One web process's view: its own pool, bus and engine on the shared database."""

    def __init__(self, url: str, clock: Clock, channel: str = "email"):
        self.db = Database(url)
        self.bus = EventBus()
        self.events = EventRecorder(self.bus)
        self.engine = OfferEngine(self.bus, clock=clock)
        self.engine.register(channel, SilentPresenter(TIMEOUT))

    def named(self, name: str) -> list[dict]:
        return [e.data for e in self.events.events if e.name == name]

    def run(self, fn, *args, **kwargs):
        s = self.db.sessions()
        try:
            return fn(s, *args, **kwargs)
        finally:
            s.close()


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def procs(database, clock):
    made = [Process(database.url, clock), Process(database.url, clock)]
    yield made
    for p in made:
        p.db.dispose()


@pytest.fixture
def people(database, make_user):
    """Three Online agents serving email (the channel under test) and one who does not."""
    ids = {name: make_user(f"{name}@example.com", channels=("email",)) for name in ("anna", "bob", "cyril")}
    ids["vic"] = make_user("vic@example.com", channels=("voice_in",))
    with database.session() as s:
        for uid in ids.values():
            s.get(User, uid).status = "online"
    return ids


def waiting(database, channel="email", started=None) -> int:
    with database.session() as s:
        c = Communication(channel=channel, direction="inbound", remote="jan@example.com", agents_rung=[],
                          started_at=started or utc_now())
        s.add(c)
        s.flush()
        return c.id


def set_status(database, uid: int, status: str) -> None:
    with database.session() as s:
        s.get(User, uid).status = status


def offered_to(database, cid):
    with database.session() as s:
        o = open_offer(s, cid)
        return o.agent_id if o else None


def test_offer_rolls_over_after_the_timeout_and_round_again(database, procs, people, clock):
    p = procs[0]
    cid = waiting(database)
    offer = p.run(p.engine.offer, cid)
    assert offer.agent_id == people["anna"] and offer.kind == "offer"
    assert p.run(p.engine.offer, cid) is None                    # offered once only
    clock.advance(TIMEOUT - 1)
    assert p.run(p.engine.sweep) == 0
    clock.advance(1)
    assert p.run(p.engine.sweep) == 1
    assert offered_to(database, cid) == people["bob"]
    clock.advance(TIMEOUT)
    p.run(p.engine.sweep)
    clock.advance(TIMEOUT)
    p.run(p.engine.sweep)                                        # everyone had a turn: a new round
    assert offered_to(database, cid) == people["anna"]
    assert [e["user_id"] for e in p.named(events.CONVERSATION_OFFERED)] == [
        people["anna"], people["bob"], people["cyril"], people["anna"]]
    assert [(e["user_id"], e["final"]) for e in p.named(events.CONVERSATION_OFFER_WITHDRAWN)] == [
        (people["anna"], False), (people["bob"], False), (people["cyril"], False)]
    with database.session() as s:
        assert s.get(Communication, cid).agents_rung == [people["anna"], people["bob"], people["cyril"]]


def test_least_busy_first_and_only_agents_serving_the_channel(database, procs, people):
    p = procs[0]
    with database.session() as s:
        s.add(Communication(channel="email", direction="inbound", remote="x", agent_id=people["anna"]))
    offer = p.run(p.engine.offer, waiting(database))
    assert offer.agent_id == people["bob"]                       # anna has an open email already
    set_status(database, people["bob"], "break")
    set_status(database, people["cyril"], "break")
    set_status(database, people["anna"], "break")
    assert p.run(p.engine.offer, waiting(database)).agent_id is None   # vic does not serve email


def test_waits_for_someone_to_come_online(database, procs, people, clock):
    p = procs[0]
    for uid in people.values():
        set_status(database, uid, "offline")
    cid = waiting(database)
    assert p.run(p.engine.offer, cid).agent_id is None
    assert p.run(p.engine.sweep) == 0
    set_status(database, people["cyril"], "online")
    assert p.run(p.engine.sweep) == 1
    assert offered_to(database, cid) == people["cyril"]


def test_an_agent_who_leaves_loses_their_offers_at_the_next_sweep(database, procs, people):
    p = procs[0]
    cid = waiting(database)
    p.run(p.engine.offer, cid)
    set_status(database, people["anna"], "break")
    assert p.run(p.engine.agent_left, people["anna"]) == 1
    p.run(p.engine.sweep)                                        # not after the 30 s timeout
    assert offered_to(database, cid) == people["bob"]
    assert p.named(events.CONVERSATION_OFFER_WITHDRAWN)[0]["reason"] == "away"


def test_accept_is_once_only_and_rechecks_the_agent(database, procs, people, clock):
    p = procs[0]
    cid = waiting(database, started=clock.now)
    p.run(p.engine.offer, cid)
    assert p.run(p.engine.accept, cid, people["bob"]).error == "taken"       # not offered to bob
    set_status(database, people["anna"], "break")                            # no sweep yet
    assert p.run(p.engine.accept, cid, people["anna"]).error == "unavailable"
    set_status(database, people["anna"], "online")
    clock.advance(5)
    r = p.run(p.engine.accept, cid, people["anna"])
    assert r.ok and r.offer.state == "accepted"
    assert p.run(p.engine.accept, cid, people["anna"]).ok                   # a second click
    assert p.run(p.engine.accept, cid, people["bob"]).error == "taken"
    with database.session() as s:
        c = s.get(Communication, cid)
        assert c.agent_id == people["anna"] and c.answered_at is not None and c.wait_seconds == 5.0
    assert [e["user_id"] for e in p.named(events.CONVERSATION_ACCEPTED)] == [people["anna"]]
    clock.advance(TIMEOUT * 3)
    assert p.run(p.engine.sweep) == 0                            # nothing left to offer


def test_the_agent_whose_offer_moved_on_is_refused(database, procs, people, clock):
    p = procs[0]
    cid = waiting(database)
    p.run(p.engine.offer, cid)
    clock.advance(TIMEOUT)
    p.run(p.engine.sweep)
    assert p.run(p.engine.accept, cid, people["anna"]).error == "taken"
    assert p.run(p.engine.accept, cid, people["bob"]).ok


def test_a_closed_conversation_is_taken_back_once(database, procs, people, clock):
    p = procs[0]
    cid = waiting(database)
    p.run(p.engine.offer, cid)
    assert p.run(p.engine.conversation_ended, cid) is True
    assert p.run(p.engine.conversation_ended, cid) is False
    assert p.named(events.CONVERSATION_OFFER_WITHDRAWN)[-1]["reason"] == "closed"
    assert p.run(p.engine.accept, cid, people["anna"]).error == "taken"
    # ended elsewhere (e.g. by History): the sweep takes the offer back
    cid2 = waiting(database)
    p.run(p.engine.offer, cid2)
    with database.session() as s:
        s.get(Communication, cid2).ended_at = utc_now()
    clock.advance(TIMEOUT)
    assert p.run(p.engine.sweep) == 1 and offered_to(database, cid2) is None


def accepted_by(p, database, cid, uid):
    p.run(p.engine.offer, cid)
    with database.session() as s:   # whoever had it first: hand it to uid directly
        s.get(ConversationOffer, s.query(ConversationOffer).filter_by(communication_id=cid).one().id).agent_id = uid
    assert p.run(p.engine.accept, cid, uid).ok


def test_transfer_to_a_colleague_accept_and_timeout(database, procs, people, clock):
    p = procs[0]
    anna, bob, cyril = people["anna"], people["bob"], people["cyril"]
    cid = waiting(database)
    accepted_by(p, database, cid, anna)
    r = p.run(p.engine.start_transfer, cid, bob, target=cyril)
    assert r.error == "not_owner"
    assert p.run(p.engine.start_transfer, cid, anna, target=people["vic"]).error == "bad_agent"
    assert p.run(p.engine.start_transfer, cid, anna, target=bob, note="x" * 201).error == "too_long"
    r = p.run(p.engine.start_transfer, cid, anna, target=bob, note=" invoice\n12 ")
    assert r.ok and r.offer.kind == "transfer" and r.offer.note == "invoice 12" and r.offer.agent_id == bob
    assert p.run(p.engine.start_transfer, cid, anna, target=cyril).error == "pending"
    assert p.run(p.engine.accept, cid, cyril).error == "taken"
    clock.advance(TIMEOUT)                                       # the deadline passed, no sweep yet
    assert p.run(p.engine.accept, cid, bob).error == "taken"
    assert p.run(p.engine.sweep) == 1
    last = p.named(events.CONVERSATION_OFFER_WITHDRAWN)[-1]
    assert (last["user_id"], last["reason"], last["final"]) == (bob, "timeout", True)
    with database.session() as s:
        assert s.get(Communication, cid).agent_id == anna       # the chat stays with its owner
    assert p.run(p.engine.start_transfer, cid, anna, target=bob).ok
    r = p.run(p.engine.accept, cid, bob)
    assert r.ok and r.offer.kind == "transfer"
    with database.session() as s:
        assert s.get(Communication, cid).agent_id == bob
    assert p.named(events.CONVERSATION_TRANSFERRED) == [
        {"communication_id": cid, "channel": "email", "from_user_id": anna, "to_user_id": bob}]


def test_transfer_to_anyone_goes_round_once_and_can_be_cancelled(database, procs, people, clock):
    p = procs[0]
    anna, bob, cyril = people["anna"], people["bob"], people["cyril"]
    cid = waiting(database)
    accepted_by(p, database, cid, anna)
    assert p.run(p.engine.start_transfer, cid, anna, anyone=True).offer.agent_id == bob
    clock.advance(TIMEOUT)
    p.run(p.engine.sweep)
    assert offered_to(database, cid) == cyril
    clock.advance(TIMEOUT)
    p.run(p.engine.sweep)
    assert offered_to(database, cid) is None
    assert p.named(events.CONVERSATION_OFFER_WITHDRAWN)[-1]["reason"] == "nobody"
    assert p.run(p.engine.start_transfer, cid, anna, anyone=True).ok
    assert p.run(p.engine.cancel_transfer, cid, bob).error == "not_pending"
    assert p.run(p.engine.cancel_transfer, cid, anna).ok
    assert p.named(events.CONVERSATION_OFFER_WITHDRAWN)[-1]["reason"] == "cancelled"
    assert p.run(p.engine.accept, cid, bob).error == "taken"


def _at_once(*calls):
    """Run the calls in threads released together; their results in order."""
    barrier = threading.Barrier(len(calls))
    out = [None] * len(calls)

    def run(i, fn):
        barrier.wait()
        out[i] = fn()

    threads = [threading.Thread(target=run, args=(i, fn)) for i, fn in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return out


def test_two_processes_never_offer_one_conversation_twice(database, procs, people, clock):
    a, b = procs
    for _round in range(5):
        cid = waiting(database)
        got = _at_once(lambda: a.run(a.engine.offer, cid), lambda: b.run(b.engine.offer, cid))
        assert sum(o is not None for o in got) == 1
        with database.session() as s:
            assert s.query(ConversationOffer).filter_by(communication_id=cid).count() == 1
    offered = a.named(events.CONVERSATION_OFFERED) + b.named(events.CONVERSATION_OFFERED)
    assert len(offered) == 5
    for _round in range(3):                                  # both sweep every due offer at once
        clock.advance(TIMEOUT)
        moved = _at_once(lambda: a.run(a.engine.sweep), lambda: b.run(b.engine.sweep))
        assert sum(moved) == 5
    offered = a.named(events.CONVERSATION_OFFERED) + b.named(events.CONVERSATION_OFFERED)
    assert len(offered) == 5 * 4


def test_two_processes_one_accept_wins(database, procs, people, clock):
    a, b = procs
    anna = people["anna"]
    for _round in range(5):
        cid = waiting(database)
        a.run(a.engine.offer, cid)                                       # to anna (least busy)
        # anna clicks in two tabs served by two processes: one accept, one answer each
        got = _at_once(lambda: a.run(a.engine.accept, cid, anna), lambda: b.run(b.engine.accept, cid, anna))
        assert all(r.ok for r in got)
        with database.session() as s:
            s.get(Communication, cid).ended_at = utc_now()
    accepted = a.named(events.CONVERSATION_ACCEPTED) + b.named(events.CONVERSATION_ACCEPTED)
    assert len(accepted) == 5
    # the sweep moving the offer on (one process) while the offered agent accepts (the other)
    for _round in range(5):
        cid = waiting(database)
        first = a.run(a.engine.offer, cid).agent_id
        clock.advance(TIMEOUT)
        r, moved = _at_once(lambda: a.run(a.engine.accept, cid, first), lambda: b.run(b.engine.sweep))
        with database.session() as s:
            owner = s.get(Communication, cid).agent_id
        if r.ok:
            assert owner == first and offered_to(database, cid) is None
        else:
            assert r.error == "taken" and owner is None and offered_to(database, cid) not in (None, first)
        with database.session() as s:
            s.get(Communication, cid).ended_at = utc_now()
        a.run(a.engine.conversation_ended, cid)


def test_waiting_conversations_without_an_offer_are_offered_once_at_start(database, procs, people):
    """E.g. opened while no web process ran the engine (or before this table existed)."""
    a, b = procs
    cid = waiting(database)
    other = waiting(database, channel="chat")                    # a channel this engine does not serve
    with database.session() as s:
        s.add(Communication(channel="email", direction="inbound", remote="x", ended_at=utc_now()))
    assert a.run(a.engine.offer_waiting, "email") == [cid]
    assert b.run(b.engine.offer_waiting, "email") == []           # the row exists: the sweep carries it on
    assert offered_to(database, cid) == people["anna"] and offered_to(database, other) is None
