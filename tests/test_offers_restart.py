"""Offers and pending transfers outlive a web process, and two web processes sharing one database
never offer one chat twice (issue 11).  Real Socket.IO clients against real servers: the first
web process is the ``chat`` fixture's app; "a restart" stops it and serves a new app (its own
pool, its own background loops) on another port; agents and the visitor reconnect to it."""
from __future__ import annotations

import dataclasses
import threading
import time

import pytest
from sqlalchemy import select

from agents import events
from centrala.db import Database
from centrala.models import Communication, Notification
from web.background import stop as stop_background
from web.offers import offer_waiting, sweep_once

from .helpers import EventRecorder, free_port, wait_for
from .test_chat import Peer, chat, offered, offered_now  # noqa: F401  (the live server, agents, visitors)
from .test_chat_transfer import NOTE, accepted_chat, handed

pytestmark = pytest.mark.db


class LiveApp:
    """Another web process: a new app with its own database pool, served on its own port."""

    def __init__(self, web_settings, database_url: str, key: str):
        from werkzeug.serving import make_server

        from web import create_app

        self.key = key
        self.settings = dataclasses.replace(web_settings, http_port=free_port())
        self.db = Database(database_url)
        self.app = create_app(self.settings, db=self.db)
        self.app.config["TESTING"] = True
        self.events = EventRecorder(self.app.extensions["centrala.bus"])
        self.server = make_server("127.0.0.1", self.settings.http_port, self.app, threaded=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.settings.http_port}"
        self.peers: list[Peer] = []

    def agent(self, peer: Peer) -> Peer:
        """The same logged-in agent (their session cookie) connecting to this process."""
        cookie = "; ".join(f"{c.name}={c.value}" for c in peer.http.cookies)
        p = Peer(self.url, "/agent", headers={"Cookie": cookie})
        p.id, p.http = peer.id, peer.http
        self.peers.append(p)
        return p

    def visitor(self, token: str) -> Peer:
        p = Peer(self.url, "/visitor", auth={"key": self.key, "token": token, "url": "http://shop.test/",
                                             "title": "Shop", "lang": "en"})
        self.peers.append(p)
        return p

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for p in self.peers:
            p.close()
        stop_background(self.app)
        self.server.shutdown()
        self.db.dispose()


def stop_first(chat, live_server, peers) -> None:
    """The first web process goes away: its loops end, its server stops, its sockets close."""
    stop_background(chat.app)
    live_server.shutdown()
    for p in peers:
        p.close()


def items(database, cid: int, state: str | None = None) -> list[Notification]:
    """Drawer items offering chat ``cid`` (to anyone), oldest first."""
    with database.session() as s:
        q = select(Notification).where(Notification.link == f"/chat/{cid}?accept=1")
        if state:
            q = q.where(Notification.state == state)
        return list(s.scalars(q.order_by(Notification.id)))


def test_an_offered_chat_goes_on_being_offered_after_a_restart(chat, database, live_server, web_settings):
    chat.settings(offer_timeout=60)
    anna = chat.agent("anna@example.com")
    v = chat.visitor()
    ack = v.emit("message", {"body": "hello?"})
    cid, token = ack["chat_id"], ack["token"]
    first = offered(anna)
    stop_first(chat, live_server, [anna, v])

    with LiveApp(web_settings, database.url, chat.key) as second:
        anna2, v2 = second.agent(anna), second.visitor(token)
        offer_waiting(second.app)        # what its loop does first, and a sweep: nothing is due
        sweep_once(second.app)
        # still offered to anna, once: the drawer item from before the restart, no second one
        assert offered_now(database, cid) == anna.id
        assert [n.id for n in items(database, cid, "new")] == [first["id"]]

        # anna takes a break and comes back: the new process takes the old item back and offers anew
        assert anna2.emit("status:set", {"status": "break"})["ok"]
        anna2.wait("notification_resolved", lambda r: r["id"] == first["id"])
        assert anna2.emit("status:set", {"status": "online"})["ok"]
        again = anna2.wait("notification", lambda n: n["link"] == f"/chat/{cid}?accept=1")
        assert again["id"] != first["id"]
        anna2.wait("chat:offered", lambda o: o["chat_id"] == cid)
        assert anna2.emit("chat:accept", {"chat_id": cid}) == {"ok": True}
        assert v2.wait("accepted")["chat_id"] == cid
        second.events.wait(events.CONVERSATION_ACCEPTED, 5, communication_id=cid, user_id=anna.id)
        assert [(n.id, n.state) for n in items(database, cid)] == [(first["id"], "ignored"), (again["id"], "answered")]


def test_a_pending_transfer_survives_a_restart(chat, database, live_server, web_settings):
    chat.settings(offer_timeout=60)
    anna = chat.agent("anna@example.com")
    olek = chat.agent("olek@example.com")
    v = chat.visitor()
    cid, token = accepted_chat(chat, anna, v, "Where is my invoice?")
    assert anna.emit("chat:transfer", {"chat_id": cid, "user_id": olek.id, "note": NOTE})["ok"]
    item = handed(olek, cid)
    stop_first(chat, live_server, [anna, olek, v])

    with LiveApp(web_settings, database.url, chat.key) as second:
        anna2, olek2, v2 = second.agent(anna), second.agent(olek), second.visitor(token)
        sweep_once(second.app)
        assert anna2.emit("chat:targets", {"chat_id": cid})["pending"]["to"] == "Olek Agent"
        page = olek2.http.get(second.url + f"/chat/{cid}")
        assert page.status_code == 200 and NOTE in page.text        # the colleague's offer, with the note
        assert olek2.emit("chat:accept", {"chat_id": cid}) == {"ok": True, "transferred": True}
        assert anna2.wait("chat:transfer", lambda t: t["state"] == "done")["to"] == "Olek Agent"
        assert v2.wait("accepted")["agent"]["name"] == "Olek Agent"
        second.events.wait(events.CONVERSATION_TRANSFERRED, 5, communication_id=cid, from_user_id=anna.id,
                           to_user_id=olek.id)
        with database.session() as s:
            assert s.get(Communication, cid).agent_id == olek.id
            assert s.get(Notification, item["id"]).state == "answered"


def test_two_web_processes_on_one_database_offer_a_chat_once(chat, database, live_server, web_settings):
    first_events = EventRecorder(chat.app.extensions["centrala.bus"])
    anna = chat.agent("anna@example.com")
    bob = chat.agent("bob@example.com")
    v = chat.visitor()
    cid = v.emit("message", {"body": "anyone there?"})["chat_id"]       # offer timeout 1 s (the fixture)
    offered(anna)

    with LiveApp(web_settings, database.url, chat.key) as second:      # started while the chat is offered
        anna2, bob2 = second.agent(anna), second.agent(bob)

        def offers_made():
            return sorted((e for rec in (first_events, second.events) for e in rec.events
                           if e.name == events.CONVERSATION_OFFERED and e.data["communication_id"] == cid),
                          key=lambda e: e.at)

        # both processes sweep the same rows for a few rollovers
        wait_for(lambda: len(offers_made()) >= 5, 15, what="five offers")
        stop_background(chat.app)
        stop_background(second.app)
        made = offers_made()
        assert len(items(database, cid)) == len(made)                  # one drawer item per offer, no more
        assert len(items(database, cid, "new")) == 1                   # offered to one agent at a time
        assert {e.data["user_id"] for e in made} == {anna.id, bob.id}
        assert all(a.data["user_id"] != b.data["user_id"] for a, b in zip(made, made[1:]))   # taking turns

        # both click "accept" at once, each through a different process: one wins, one is told
        results = [None, None]
        barrier = threading.Barrier(2)

        def click(i, peer):
            barrier.wait()
            results[i] = peer.emit("chat:accept", {"chat_id": cid})

        threads = [threading.Thread(target=click, args=(0, anna)), threading.Thread(target=click, args=(1, bob2))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        assert sorted(r["ok"] for r in results) == [False, True]
        assert next(r for r in results if not r["ok"])["error"] == "taken"
        winner = anna.id if results[0]["ok"] else bob.id
        with database.session() as s:
            assert s.get(Communication, cid).agent_id == winner
        accepted = [e for rec in (first_events, second.events) for e in rec.events
                    if e.name == events.CONVERSATION_ACCEPTED]
        assert [e.data["user_id"] for e in accepted] == [winner]


def test_a_visitor_connected_to_another_web_process_is_not_taken_for_gone(chat, database, web_settings):
    """Each web process sweeps every open offer, but sees only its own sockets: a visitor
    connected to the first process is kept alive for the second by chat_visitors.last_seen_at;
    once they really leave, the chat is missed."""
    chat.settings(offer_timeout=60)
    chat.app.config["CHAT_VISITOR_GRACE"] = 1.0
    anna = chat.agent("anna@example.com")
    v = chat.visitor()
    cid = v.emit("message", {"body": "anyone?"})["chat_id"]
    offered(anna)
    with LiveApp(web_settings, database.url, chat.key) as second:
        second.app.config["CHAT_VISITOR_GRACE"] = 1.0
        # the second process has no socket of this visitor: its own clock for them starts
        wait_for(lambda: second.app.extensions["centrala.chat"].left, 5, what="second process swept")
        deadline = time.monotonic() + 3.0   # three graces: the second process has judged many times
        while time.monotonic() < deadline:
            assert offered_now(database, cid) == anna.id, "a live visitor's chat was closed by the other process"
            time.sleep(0.2)
        v.close()

        def outcome():
            with database.session() as s:
                return s.get(Communication, cid).outcome
        wait_for(lambda: outcome() == "missed", 8, what="the chat missed after the visitor left")
        assert offered_now(database, cid) is None
