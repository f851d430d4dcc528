"""Outgoing webhooks (BEY-1): Settings / Webhooks (administrators only, validation, secret shown
once), deliveries queued from the bus for subscribed events only, POSTed signed to a real local
HTTP server, retried with backoff, failed after the last attempt, claimed once by two workers.

Backoff and the loop interval are configured tiny; tests wait on the receiver with a deadline.
"""
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from agents import events
from centrala import webhooks as wh
from centrala.models import User
from centrala.models_webhooks import Webhook, WebhookDelivery
from web.background import stop as stop_background
from web.webhooks import worker

from .helpers import free_port, wait_for
from .web_helpers import csrf, login

pytestmark = pytest.mark.db


class Receiver:
    """A real HTTP server on loopback recording each POST; answers with ``codes`` in turn (the
    last one repeats)."""

    def __init__(self, codes=(200,), keep_alive=False):
        self.codes = list(codes)
        self.requests = []
        self.cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1" if keep_alive else "HTTP/1.0"

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.cond:
                    n = len(receiver.requests)
                    receiver.requests.append({"headers": dict(self.headers), "body": raw,
                                              "at": time.monotonic(), "path": self.path,
                                              "peer": self.client_address})
                    code = receiver.codes[min(n, len(receiver.codes) - 1)]
                    receiver.cond.notify_all()
                self.send_response(code)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/centrala"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait(self, n: int, timeout: float = 10.0):
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.requests) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"receiver got {len(self.requests)} requests, wanted {n}")
                self.cond.wait(left)
            return list(self.requests)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def _make_app(web_settings, database):
    from web import create_app

    application = create_app(web_settings, db=database, start_background=False)
    application.config.update(TESTING=True, WEBHOOK_BACKOFF=(0.2, 0.4), WEBHOOK_TIMEOUT=2.0)
    return application


@pytest.fixture
def app(web_settings, database):
    """The app without its background loops: a test starts the webhook worker when it wants."""
    application = _make_app(web_settings, database)
    yield application
    stop_background(application)


def add_webhook(client, url, events_=(events.CALL_LOGGED,)) -> int:
    r = client.post("/settings/webhooks/new", data={"csrf_token": csrf(client, "/settings/webhooks/new"),
                                                    "url": url, "events": list(events_)})
    assert r.status_code == 303, r.get_data(as_text=True)
    return int(re.search(r"/settings/webhooks/(\d+)$", r.headers["Location"]).group(1))


def hook(database, hid) -> Webhook:
    with database.session() as s:
        return s.get(Webhook, hid)


def deliveries(database, hid=None):
    with database.session() as s:
        q = select(WebhookDelivery).order_by(WebhookDelivery.id)
        if hid is not None:
            q = q.where(WebhookDelivery.webhook_id == hid)
        return list(s.scalars(q))


def test_signed_post_for_subscribed_events_only(app, admin, database, receiver):
    hid = add_webhook(admin, receiver.url, [events.CALL_LOGGED, events.TASK_CHANGED])
    secret = hook(database, hid).secret
    bus = app.extensions["centrala.bus"]
    bus.publish(events.CHAT_CLOSED, communication_id=7, outcome="resolved", user_id=None)   # not wanted
    bus.publish(events.CALL_LOGGED, communication_id=42, outcome="answered", call_id="pbx-1")
    assert [d.event for d in deliveries(database, hid)] == [events.CALL_LOGGED]   # only what it wants
    worker.start(app, interval=0.05)

    req = receiver.wait(1)[0]
    raw, headers = req["body"], req["headers"]
    assert req["path"] == "/hooks/centrala"
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Centrala-Event"] == "call.logged"
    assert wh.verify(secret, raw, headers["X-Centrala-Signature"])
    assert headers["X-Centrala-Signature"].startswith("sha256=")
    assert not wh.verify("whsec_wrong", raw, headers["X-Centrala-Signature"])
    body = json.loads(raw)
    assert body["id"] == headers["X-Centrala-Delivery"]
    assert body["event"] == "call.logged"
    assert body["data"] == {"communication_id": 42, "outcome": "answered", "call_id": "pbx-1"}
    assert body["created_at"].endswith("+00:00")
    d = wait_for(lambda: [x for x in deliveries(database, hid) if x.status == "delivered"], 5, what="delivered")[0]
    assert (d.attempts, d.response_code, d.uuid) == (1, 200, body["id"])
    assert len(receiver.requests) == 1   # the chat event never went out


def test_failing_receiver_is_retried_with_backoff_then_failed(app, admin, database):
    r = Receiver(codes=(500,))
    try:
        hid = add_webhook(admin, r.url)
        app.extensions["centrala.bus"].publish(events.CALL_LOGGED, communication_id=1, outcome="missed", call_id=None)
        worker.start(app, interval=0.05)
        reqs = r.wait(3)   # the first try and the two retries of WEBHOOK_BACKOFF=(0.2, 0.4)
        d = wait_for(lambda: [x for x in deliveries(database, hid) if x.status == "failed"], 5, what="failed")[0]
        assert (d.attempts, d.response_code, d.error) == (3, 500, "HTTP 500")
        assert reqs[1]["at"] - reqs[0]["at"] >= 0.2
        assert reqs[2]["at"] - reqs[1]["at"] >= 0.4
        assert len({q["headers"]["X-Centrala-Delivery"] for q in reqs}) == 1   # the same delivery
        assert len({q["body"] for q in reqs}) == 1                              # the same bytes
        app.extensions["centrala.stop"].wait(0.6)   # nothing more after failed (bounded wait)
        assert len(r.requests) == 3
    finally:
        r.close()


def test_retry_succeeds_and_unreachable_receiver_is_recorded(app, admin, database):
    r = Receiver(codes=(503, 204))
    dead = f"http://127.0.0.1:{free_port()}/nobody"
    try:
        hid = add_webhook(admin, r.url)
        gone = add_webhook(admin, dead)
        app.extensions["centrala.bus"].publish(events.CALL_LOGGED, communication_id=2, outcome="answered", call_id="x")
        worker.start(app, interval=0.05)
        r.wait(2)
        d = wait_for(lambda: [x for x in deliveries(database, hid) if x.status == "delivered"], 5, what="delivered")[0]
        assert (d.attempts, d.response_code, d.error) == (2, 204, None)
        e = wait_for(lambda: [x for x in deliveries(database, gone) if x.status == "failed"], 10, what="failed")[0]
        assert e.response_code is None and "ConnectError" in e.error
    finally:
        r.close()


def test_two_workers_claim_each_delivery_once(app, admin, database, web_settings, receiver):
    hid = add_webhook(admin, receiver.url, [events.TASK_CHANGED])
    for i in range(12):
        app.extensions["centrala.bus"].publish(events.TASK_CHANGED, task_id=i, action="updated", user_ids=[])
    other = _make_app(web_settings, database)   # a second web process on the same database
    try:
        results = []
        barrier = threading.Barrier(2)

        def run(a):
            barrier.wait()
            results.append(worker.deliver_due(a))

        threads = [threading.Thread(target=run, args=(a,)) for a in (app, other)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        sent = [u for part in results for u in part]
        assert len(sent) == 12 and len(set(sent)) == 12
        reqs = receiver.wait(12)
        assert sorted(q["headers"]["X-Centrala-Delivery"] for q in reqs) == sorted(sent)
        assert all(d.status == "delivered" and d.attempts == 1 for d in deliveries(database, hid))
    finally:
        stop_background(other)


def test_deliveries_share_the_senders_connection(app, admin, database):
    """The sender keeps one HTTP client: a sweep's deliveries to a receiver that keeps connections
    alive go over one connection (a new client per delivery cost a TCP and TLS setup each time)."""
    r = Receiver(keep_alive=True)
    try:
        hid = add_webhook(admin, r.url, [events.TASK_CHANGED])
        for i in range(3):
            app.extensions["centrala.bus"].publish(events.TASK_CHANGED, task_id=i, action="updated", user_ids=[])
        assert len(worker.deliver_due(app)) == 3
        reqs = r.wait(3)
        assert len({q["peer"] for q in reqs}) == 1
        assert all(d.status == "delivered" for d in deliveries(database, hid))
    finally:
        r.close()


def test_settings_pages_secret_once_test_ping_disable_delete(app, admin, database, receiver):
    r = admin.get("/settings/webhooks/")
    assert r.status_code == 200 and "No webhooks yet" in r.get_data(as_text=True)
    hid = add_webhook(admin, receiver.url)
    secret = hook(database, hid).secret
    first = admin.get(f"/settings/webhooks/{hid}").get_data(as_text=True)
    assert secret in first and "it will not be shown again" in first
    again = admin.get(f"/settings/webhooks/{hid}").get_data(as_text=True)
    assert secret not in again and wh.mask(secret) in again
    assert receiver.url in admin.get("/settings/webhooks/").get_data(as_text=True)

    # Send test: a ping to this webhook even though it does not subscribe to "ping"
    r = admin.post(f"/settings/webhooks/{hid}/test", data={"csrf_token": csrf(admin, f"/settings/webhooks/{hid}")})
    assert r.status_code == 303
    worker.deliver_due(app)
    req = receiver.wait(1)[0]
    assert req["headers"]["X-Centrala-Event"] == "ping"
    assert json.loads(req["body"])["data"] == {"webhook_id": hid}
    page = admin.get(f"/settings/webhooks/{hid}").get_data(as_text=True)
    assert "Delivered" in page and "<code>200</code>" in page

    # Regenerate: a new secret, shown once, the old one gone
    admin.post(f"/settings/webhooks/{hid}/secret", data={"csrf_token": csrf(admin, f"/settings/webhooks/{hid}")})
    new = hook(database, hid).secret
    assert new != secret and new in admin.get(f"/settings/webhooks/{hid}").get_data(as_text=True)

    # Disabled: events are not queued for it, and nothing pending is sent
    admin.post(f"/settings/webhooks/{hid}/active", data={"csrf_token": csrf(admin, f"/settings/webhooks/{hid}"),
                                                        "active": "0"})
    assert hook(database, hid).active is False
    app.extensions["centrala.bus"].publish(events.CALL_LOGGED, communication_id=3, outcome="answered", call_id="y")
    assert len(deliveries(database, hid)) == 1

    # Edit keeps the secret; delete removes it with its deliveries
    r = admin.post(f"/settings/webhooks/{hid}/edit", data={"csrf_token": csrf(admin, f"/settings/webhooks/{hid}/edit"),
                                                           "url": receiver.url + "?v=2", "events": [events.CHAT_CLOSED],
                                                           "active": "1"})
    assert r.status_code == 303
    h = hook(database, hid)
    assert (h.url, h.events, h.active, h.secret) == (receiver.url + "?v=2", [events.CHAT_CLOSED], True, new)
    r = admin.post(f"/settings/webhooks/{hid}/delete", data={"csrf_token": csrf(admin, f"/settings/webhooks/{hid}")})
    assert r.status_code == 303 and hook(database, hid) is None and deliveries(database, hid) == []


@pytest.mark.parametrize("url,message", [
    ("", "Enter the address to send events to."),
    ("ftp://example.com/x", "The address must start with http:// or https://."),
    ("https://user:pass@example.com/hook", "must not contain a user name or password"),
    ("https://token@example.com/hook", "must not contain a user name or password"),
    ("https:///nohost", "Enter a valid web address"),
    ("https://example.com/" + "a" * 2000, "at most 2000 characters"),
])
def test_validation_messages_keep_the_input(admin, database, url, message):
    r = admin.post("/settings/webhooks/new", data={"csrf_token": csrf(admin, "/settings/webhooks/new"),
                                                   "url": url, "events": [events.CHAT_CLOSED]})
    html = r.get_data(as_text=True)
    assert r.status_code == 400 and message in html
    assert 'value="chat.closed" checked' in html
    with database.session() as s:
        assert s.scalars(select(Webhook)).all() == []


def test_at_least_one_event_and_polish(admin, app, database):
    r = admin.post("/settings/webhooks/new", data={"csrf_token": csrf(admin, "/settings/webhooks/new"),
                                                   "url": "https://example.com/hook"})
    assert r.status_code == 400 and "Choose at least one event." in r.get_data(as_text=True)
    assert 'value="https://example.com/hook"' in r.get_data(as_text=True)
    with database.session() as s:
        s.scalars(select(User).where(User.email == "boss@example.com")).one().language = "pl"
    r = admin.post("/settings/webhooks/new", data={"csrf_token": csrf(admin, "/settings/webhooks/new"),
                                                   "url": "https://a:b@example.com/"})
    html = r.get_data(as_text=True)
    assert "Wybierz co najmniej jedno zdarzenie." in html and "Webhooki" in html


def test_agents_get_403(agent, admin, database):
    hid = add_webhook(admin, "https://example.com/hook")
    token = csrf(agent, "/")
    for path in ("/settings/webhooks/", "/settings/webhooks/new", f"/settings/webhooks/{hid}",
                 f"/settings/webhooks/{hid}/edit"):
        assert agent.get(path).status_code == 403, path
    for path in ("/settings/webhooks/new", f"/settings/webhooks/{hid}/edit", f"/settings/webhooks/{hid}/delete",
                 f"/settings/webhooks/{hid}/secret", f"/settings/webhooks/{hid}/test", f"/settings/webhooks/{hid}/active"):
        assert agent.post(path, data={"csrf_token": token, "url": "https://evil.example/", "events": ["call.logged"],
                                      "active": "0"}).status_code == 403, path
    h = hook(database, hid)
    assert h.url == "https://example.com/hook" and h.active and deliveries(database) == []
    # and without the CSRF token an administrator's form is refused
    assert admin.post("/settings/webhooks/new", data={"url": "https://example.com/x",
                                                      "events": ["call.logged"]}).status_code == 400


def _starved_database(database_url, monkeypatch):
    """A second engine on the same database whose one connection the test can hold."""
    from centrala.db import Database

    monkeypatch.setenv("CENTRALA_DB_POOL_SIZE", "1")
    monkeypatch.setenv("CENTRALA_DB_POOL_OVERFLOW", "0")
    monkeypatch.setenv("CENTRALA_DB_POOL_TIMEOUT", "0.2")
    return Database(database_url)


def test_unwanted_events_take_no_connection(admin, app, database, database_url, web_settings, monkeypatch):
    """A burst of events nobody subscribes to (a 1,000-chat burst) never waits for the pool."""
    add_webhook(admin, "http://127.0.0.1:9/x", [events.CALL_LOGGED])
    small = _starved_database(database_url, monkeypatch)
    starved = _make_app(web_settings, small)
    try:
        bus = starved.extensions["centrala.bus"]
        bus.publish(events.CHAT_CLOSED, communication_id=1, outcome="answered", user_id=None)  # reads once
        held = small.engine.connect()     # the pool's only connection is busy from now on
        try:
            t0 = time.monotonic()
            for i in range(200):
                bus.publish(events.CHAT_CLOSED, communication_id=i, outcome="answered", user_id=None)
            assert time.monotonic() - t0 < 0.5          # no pool wait (one would take 0.2 s)
            assert len(starved.extensions["centrala.webhook_backlog"]) == 0
        finally:
            held.close()
    finally:
        stop_background(starved)
        small.dispose()


def test_event_is_kept_when_no_connection_is_free_and_written_later(admin, app, database, database_url,
                                                                     web_settings, monkeypatch):
    """'never lose an event because a connection was late': the pool times out, the delivery is
    written by the sender's next sweep."""
    hid = add_webhook(admin, "http://127.0.0.1:9/x", [events.CALL_LOGGED])
    small = _starved_database(database_url, monkeypatch)
    starved = _make_app(web_settings, small)
    try:
        bus = starved.extensions["centrala.bus"]
        bus.publish(events.CHAT_CLOSED, communication_id=0, outcome="answered", user_id=None)  # warm the cache
        held = small.engine.connect()
        try:
            bus.publish(events.CALL_LOGGED, communication_id=5, outcome="answered", call_id="x")
            backlog = starved.extensions["centrala.webhook_backlog"]
            assert len(backlog) == 1
            assert deliveries(database, hid) == []
            assert backlog.flush(small) == 0            # still no connection: kept, not dropped
            assert len(backlog) == 1
        finally:
            held.close()
        assert backlog.flush(small) == 1
        [d] = deliveries(database, hid)
        assert (d.event, json.loads(d.payload)["data"]["communication_id"]) == (events.CALL_LOGGED, 5)
    finally:
        stop_background(starved)
        small.dispose()
def test_conversation_events_are_offered_and_queued_for_any_channel(app, admin, database, receiver):
    """Issue 11: conversation.message and conversation.closed in Settings / Webhooks, fed by the
    conversation core after its commit."""
    from centrala.channels import Inbound
    from centrala.conversations import lifecycle

    html = admin.get("/settings/webhooks/new").get_data(as_text=True)
    assert 'value="conversation.message"' in html and "Message in a conversation (any channel)" in html
    assert 'value="conversation.closed"' in html and "Conversation closed (any channel)" in html
    hid = add_webhook(admin, receiver.url, [events.CONVERSATION_MESSAGE, events.CONVERSATION_CLOSED])
    bus = app.extensions["centrala.bus"]
    with database.session() as s:
        c = lifecycle.open(s, "chat", remote="Ola")
        lifecycle.add_inbound(s, c, Inbound(remote="Ola", text="Is my parcel on its way?"))
        lifecycle.discard(s)          # rolled back: nothing was announced
    assert deliveries(database, hid) == []
    with database.session() as s:
        c = lifecycle.open(s, "chat", remote="Ola")
        lifecycle.add_inbound(s, c, Inbound(remote="Ola", text="Is my parcel on its way?"))
        lifecycle.close(s, c, "missed")
        lifecycle.commit(s, bus)
        cid = c.id
    sent = [(d.event, json.loads(d.payload)["data"]) for d in deliveries(database, hid)]
    assert [e for e, _d in sent] == ["conversation.message", "conversation.closed"]
    assert sent[0][1]["text"] == "Is my parcel on its way?" and sent[0][1]["direction"] == "inbound"
    assert sent[1][1]["communication_id"] == cid and sent[1][1]["outcome"] == "missed"
    assert sent[1][1]["channel"] == "chat" and sent[1][1]["wait_seconds"] is not None
