"""Website chat (issue #6): embed, visitor protocol over real Socket.IO clients, routing with
rollover, isolation between visitors, offline form by real SMTP, settings pages, API."""
from __future__ import annotations

import json
import re
import threading

import pytest
import requests
import socketio
from sqlalchemy import select

from centrala.conversations import offers
from centrala.models import Communication, Notification, User
from centrala.models_chat import ChatMessage, ChatPageView, ChatVisitor
from web.chat import services as svc

from agents import events

from .helpers import EventRecorder, wait_for
from .web_helpers import PASSWORD, post

pytestmark = pytest.mark.db


# -- helpers ---------------------------------------------------------------------------
class Peer:
    """A python-socketio client over a real websocket that records what it receives."""

    def __init__(self, url: str, namespace: str, auth=None, headers=None):
        self.ns = namespace
        self.got: list[tuple[str, object]] = []
        self.cond = threading.Condition()
        self.sio = socketio.Client(reconnection=False)
        self.sio.on("*", self._any, namespace=namespace)
        self.sio.connect(url, namespaces=[namespace], auth=auth, headers=headers or {},
                         transports=["websocket"], wait_timeout=5)

    def _any(self, event, *args):
        with self.cond:
            self.got.append((event, args[0] if args else None))
            self.cond.notify_all()

    def emit(self, event, data=None):
        return self.sio.call(event, data, namespace=self.ns, timeout=5)

    def send(self, event, data=None):
        self.sio.emit(event, data, namespace=self.ns)

    def named(self, event):
        with self.cond:
            return [d for e, d in self.got if e == event]

    def wait(self, event, pred=lambda d: True, timeout=5.0):
        return wait_for(lambda: next((d for d in self.named(event) if pred(d)), None), timeout,
                        what=f"{event} on {self.ns}")

    def close(self):
        """Disconnect without waiting: websocket-client waits up to 3 s for the close frame."""
        t = threading.Thread(target=self.sio.disconnect, daemon=True)
        t.start()
        return t


@pytest.fixture
def chat(app, live_server, database, make_user):
    """The live server, the account key, and factories for visitors and logged-in agents."""
    peers: list[Peer] = []
    with database.session() as s:
        key = svc.get_settings(s)["key"]
        svc.save_settings(s, {"offer_timeout": 1})

    class Chat:
        url = live_server.url

        def visitor(self, token=None, url="http://shop.test/", title="Shop", **extra):
            p = Peer(live_server.url, "/visitor", auth={"key": key, "token": token, "url": url, "title": title,
                                                        "lang": "en", **extra})
            peers.append(p)
            return p

        def agent(self, email, online=True, channels=("chat",), role="agent"):
            uid = make_user(email, role=role, channels=channels, name=email.split("@")[0].title() + " Agent")
            http = requests.Session()
            token = __import__("re").search(r'name="csrf_token" value="([^"]+)"',
                                            http.get(live_server.url + "/login").text).group(1)
            r = http.post(live_server.url + "/login", data={"email": email, "password": PASSWORD, "csrf_token": token},
                          allow_redirects=False)
            assert r.status_code == 302
            cookie = "; ".join(f"{c.name}={c.value}" for c in http.cookies)
            p = Peer(live_server.url, "/agent", headers={"Cookie": cookie})
            peers.append(p)
            p.id, p.http = uid, http
            if online:
                assert p.emit("status:set", {"status": "online"})["ok"]
            return p

        def settings(self, **values):
            with database.session() as s:
                svc.save_settings(s, values)

    c = Chat()
    c.key = key
    c.app = app
    c.database = database
    yield c
    for p in peers:
        p.close()


def offered(agent, timeout=5.0):
    return agent.wait("notification", lambda n: n["channel"] == "chat", timeout)


def offered_now(database, cid) -> int | None:
    """The agent a conversation is offered to now (the offer engine's row), or None."""
    with database.session() as s:
        o = offers.open_offer(s, cid)
        return o.agent_id if o else None


def open_chat_offers(database) -> list[int]:
    with database.session() as s:
        return [o.communication_id for o in offers.open_offers(s, "chat")]


def chat_id_of(notification) -> int:
    return int(notification["link"].split("/chat/")[1].split("?")[0])


# -- protocol ------------------------------------------------------------------------------
def test_live_chat_both_ways_with_typing_and_continuation(chat, database):
    recorder = EventRecorder(chat.app.extensions["centrala.bus"])
    agent = chat.agent("anna@example.com")
    v = chat.visitor(url="http://shop.test/offer", title="Our offer")
    assert v.wait("state")["known"] is False
    with database.session() as s:   # nothing about the visitor is kept before the first message
        assert s.scalar(select(ChatVisitor)) is None

    ack = v.emit("message", {"body": "Hello, do you ship to Gdańsk?", "url": "http://shop.test/offer",
                             "title": "Our offer"})
    assert ack["ok"] and len(ack["token"]) > 30
    token, cid = ack["token"], ack["chat_id"]
    item = offered(agent)
    assert chat_id_of(item) == cid and "Hello" in item["body"]

    assert f"/chat/{cid}?accept=1" in agent.http.get(chat.url + "/chat").text   # waiting for Anna
    assert agent.emit("chat:accept", {"chat_id": cid}) == {"ok": True}
    assert v.wait("accepted")["agent"]["name"] == "Anna Agent"
    assert f'href="/chat/{cid}"' in agent.http.get(chat.url + "/chat").text      # now one of her chats
    with database.session() as s:
        c = s.get(Communication, cid)
        assert c.channel == "chat" and c.direction == "inbound" and c.agent_id == agent.id and c.answered_at
        assert s.get(Notification, item["id"]).state == "answered"

    v.send("typing", {"typing": True})
    assert agent.wait("chat:typing")["typing"] is True
    assert agent.emit("chat:typing", {"chat_id": cid, "typing": True}) is None or True
    assert v.wait("typing")["typing"] is True

    assert agent.emit("chat:send", {"chat_id": cid, "body": "Yes, within 2 days."})["ok"]
    assert v.wait("message")["body"] == "Yes, within 2 days."
    assert v.emit("message", {"body": "Great"})["ok"]
    assert agent.wait("chat:message", lambda m: m["body"] == "Great")["chat_id"] == cid

    # a single-page site changes the page without a reload: the loader reports it
    v.send("page", {"url": "http://shop.test/offer#details", "title": "Details"})
    assert agent.wait("chat:page")["page"]["title"] == "Details"

    # the visitor opens another page (or reloads): same conversation, page seen live
    v.close()
    assert agent.wait("chat:visitor", lambda p: p["online"] is False)["chat_id"] == cid
    v2 = chat.visitor(token=token, url="http://shop.test/cart", title="Cart")
    state = v2.wait("state")
    assert state["known"] and state["chat"]["id"] == cid
    # the "joined" line is kept: a reload shows it where it happened
    assert [m["body"] for m in state["chat"]["messages"]] == [
        "Hello, do you ship to Gdańsk?", "Anna Agent joined the chat.", "Yes, within 2 days.", "Great"]
    assert agent.wait("chat:page", lambda p: p["page"]["url"] == "http://shop.test/cart")
    assert agent.wait("chat:visitor", lambda p: p["online"] is True)["chat_id"] == cid
    with database.session() as s:
        assert [p.url for p in s.scalars(select(ChatPageView).where(ChatPageView.communication_id == cid)
                                         .order_by(ChatPageView.id))] == \
            ["http://shop.test/offer", "http://shop.test/offer#details", "http://shop.test/cart"]

    assert agent.emit("chat:close", {"chat_id": cid}) == {"ok": True}
    v2.wait("closed")
    recorder.wait(events.CHAT_STARTED, 1, communication_id=cid)
    recorder.wait(events.CHAT_ACCEPTED, 1, communication_id=cid, user_id=agent.id)
    recorder.wait(events.CHAT_CLOSED, 1, communication_id=cid, outcome="answered")
    with database.session() as s:
        c = s.get(Communication, cid)
        assert c.ended_at is not None and c.outcome == "answered"
    assert agent.emit("chat:send", {"chat_id": cid, "body": "late"})["ok"] is False


def test_visitors_are_isolated(chat, database):
    agent = chat.agent("anna@example.com")
    a = chat.visitor()
    b = chat.visitor()
    ack_a = a.emit("message", {"body": "secret of A"})
    cid_a = ack_a["chat_id"]
    offered(agent)
    agent.emit("chat:accept", {"chat_id": cid_a})
    ack_b = b.emit("message", {"body": "hello from B"})
    assert ack_b["chat_id"] != cid_a and ack_b["token"] != ack_a["token"]
    agent.emit("chat:send", {"chat_id": cid_a, "body": "reply for A only"})
    a.wait("message", lambda m: m["body"] == "reply for A only")
    # B never sees A's conversation: not live, not with a wrong token, not by guessing
    assert all("A" not in (m or {}).get("body", "") for m in b.named("message"))
    forged = chat.visitor(token="x" * 43)
    assert forged.wait("state")["known"] is False and forged.wait("state")["chat"] is None
    # B's messages never land in A's chat
    with database.session() as s:
        bodies = [m.body for m in s.scalars(select(ChatMessage).where(ChatMessage.communication_id == cid_a))]
    assert "hello from B" not in bodies
    # an agent can only act on chats they accepted
    other = chat.agent("olek@example.com")
    assert other.emit("chat:send", {"chat_id": cid_a, "body": "hijack"})["ok"] is False
    assert other.emit("chat:close", {"chat_id": cid_a})["ok"] is False
    assert other.emit("chat:accept", {"chat_id": cid_a})["ok"] is False
    # an anonymous socket cannot reach /agent at all
    with pytest.raises(socketio.exceptions.ConnectionError):
        Peer(chat.url, "/agent")
    # a wrong account key is refused
    with pytest.raises(socketio.exceptions.ConnectionError):
        Peer(chat.url, "/visitor", auth={"key": "nope"})


def test_unaccepted_chat_rolls_over_to_the_next_agent(chat, database):
    first = chat.agent("anna@example.com")
    second = chat.agent("olek@example.com")
    v = chat.visitor()
    cid = v.emit("message", {"body": "anyone there?"})["chat_id"]
    n1 = offered(first)          # fewest open chats, then id: Anna first
    assert not second.named("notification")
    n2 = offered(second, timeout=4)  # not accepted within 1 s -> Olek
    assert chat_id_of(n2) == cid
    first.wait("notification_resolved", lambda r: r["id"] == n1["id"])
    assert first.emit("chat:accept", {"chat_id": cid})["ok"] is False   # too late
    assert second.emit("chat:accept", {"chat_id": cid})["ok"]
    with database.session() as s:
        c = s.get(Communication, cid)
        assert c.agent_id == second.id and c.agents_rung[:2] == [first.id, second.id]


def test_an_agent_going_on_break_passes_the_offer_on_at_once(chat, database):
    chat.settings(offer_timeout=60)
    first = chat.agent("anna@example.com")
    second = chat.agent("olek@example.com")
    v = chat.visitor()
    cid = v.emit("message", {"body": "hi"})["chat_id"]
    offered(first)
    assert first.emit("status:set", {"status": "break"})["ok"]
    assert chat_id_of(offered(second, timeout=8)) == cid     # not after the 60 s offer timeout


def test_a_visitor_who_leaves_before_anyone_accepts_is_a_missed_chat(chat, database):
    chat.settings(offer_timeout=60)
    agent = chat.agent("anna@example.com")
    v = chat.visitor()
    cid = v.emit("message", {"body": "quick question"})["chat_id"]
    item = offered(agent)
    seen_at_withdrawal = []      # the chat is missed by the time anyone hears the offer is gone

    def outcome_then(event):
        with database.session() as s:
            seen_at_withdrawal.append(s.get(Communication, event.data["communication_id"]).outcome)

    chat.app.extensions["centrala.bus"].subscribe(events.CONVERSATION_OFFER_WITHDRAWN, outcome_then)
    chat.app.config["CHAT_VISITOR_GRACE"] = 1.0
    v.close()
    wait_for(lambda: not open_chat_offers(database), 8, what="offers stopped")
    agent.wait("notification_resolved", lambda r: r["id"] == item["id"])
    with database.session() as s:
        c = s.get(Communication, cid)
        assert c.outcome == "missed" and c.ended_at is not None and c.agent_id is None
    wait_for(lambda: seen_at_withdrawal, 5, what="offer withdrawn event")
    assert seen_at_withdrawal == ["missed"]
    assert agent.emit("chat:accept", {"chat_id": cid})["ok"] is False


def test_only_online_chat_agents_are_offered(chat):
    chat.agent("voice@example.com", channels=("voice_in",))
    on_break = chat.agent("break@example.com", online=False)
    on_break.emit("status:set", {"status": "break"})
    v = chat.visitor()
    assert v.emit("message", {"body": "hi"}) == {"ok": False, "error": "offline"}


def test_offline_form_sends_email_and_is_stored(chat, smtp_server, database):
    chat.settings(default_email="office@example.com")
    v = chat.visitor(url="http://shop.test/contact", title="Contact")
    assert v.wait("state")
    assert v.emit("offline", {"name": "Jan Kowalski", "email": "bad", "message": "x"}) == \
        {"ok": False, "error": "invalid", "field": "email"}
    ack = v.emit("offline", {"name": "Jan Kowalski", "email": "jan@example.com",
                             "message": "Please call me back <b>tomorrow</b>", "url": "http://shop.test/contact"})
    assert ack["ok"]
    mail = smtp_server.wait_for("office@example.com")
    body = mail.get_body(preferencelist=("plain",)).get_content()
    assert "Jan Kowalski" in str(mail["Subject"]) and "jan@example.com" in body
    assert "Please call me back <b>tomorrow</b>" in body and "http://shop.test/contact" in body
    with database.session() as s:
        c = s.get(Communication, ack["chat_id"])
        assert c.channel == "chat" and c.direction == "inbound" and c.outcome == "offline_form"
        assert c.remote == "Jan Kowalski <jan@example.com>"


def test_force_and_ask_data(chat, database):
    chat.agent("anna@example.com")
    chat.settings(ask_data=True, force_data=True)
    v = chat.visitor()
    assert v.emit("message", {"body": "hi"}) == {"ok": False, "error": "data_required"}
    assert v.emit("message", {"body": "hi", "name": "Jan", "email": "not-an-email"})["field"] == "email"
    assert v.emit("message", {"body": "hi", "name": " ", "email": "jan@example.com"})["field"] == "name"
    ack = v.emit("message", {"body": "hi", "name": "Jan  Kowalski", "email": "jan@example.com"})
    assert ack["ok"]
    with database.session() as s:
        vis = s.scalar(select(ChatVisitor))
        assert (vis.name, vis.email) == ("Jan Kowalski", "jan@example.com")
        assert s.get(Communication, ack["chat_id"]).remote == "Jan Kowalski <jan@example.com>"
    chat.settings(force_data=False)   # ask only: "No, thanks" sends the message without data
    w = chat.visitor()
    assert w.emit("message", {"body": "no data from me"})["ok"]


def test_limits(chat, app):
    chat.agent("anna@example.com")
    v = chat.visitor()
    assert v.emit("message", {"body": "x" * 2001}) == {"ok": False, "error": "too_long", "field": "message"}
    assert v.emit("message", {"body": "   "})["error"] == "required"
    results = [v.emit("message", {"body": f"m{i}"})["ok"] for i in range(12)]
    assert results[:10] == [True] * 10 and results[10:] == [False, False]


# -- HTTP: embed, settings, API ------------------------------------------------------------
def test_embed_snippet_settings_and_indicator(admin, app, database):
    from centrala.tokens import create_api_token

    page = admin.get("/settings/general").get_data(as_text=True)
    with database.session() as s:
        key = svc.get_settings(s)["key"]
        boss = s.scalar(select(User).where(User.email == "boss@example.com"))
        token = create_api_token(s, boss)
        s.commit()
    snippet = f'/widget/{key}/loader.js'
    assert snippet in page and 'id="embed-copy"' in page and "Enter your website address" in page
    assert snippet in admin.get("/").get_data(as_text=True)   # the start screen too
    api = app.test_client().get("/api/v1/widget/embed", headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 200 and snippet in api.get_json()["snippet"] and api.get_json()["snippet"].startswith("<script")

    r = post(admin, "/settings/general", {"company": "Sklep", "website": "not a url", "color": "#112233",
                                          "corner": "bottom-left", "offset_x": "30", "offset_y": "40",
                                          "origins": "", "default_email": ""}, page="/settings/general")
    assert r.status_code == 400 and "Enter the address of your website" in r.get_data(as_text=True)
    r = post(admin, "/settings/general", {"company": "Sklep", "website": "https://shop.example.com/start",
                                          "color": "#112233", "corner": "bottom-left", "offset_x": "30",
                                          "offset_y": "40", "origins": "https://shop.example.com\nhttps://www.example.com",
                                          "default_email": "office@example.com"}, page="/settings/general")
    assert r.status_code == 302
    c = app.test_client()
    assert c.get(f"/widget/{key}/loader.js", headers={"Referer": "https://evil.example/"}).get_data(as_text=True) \
        .startswith("/* Centrala: this website is not allowed")
    assert "Not seen on your website yet" in admin.get("/settings/general").get_data(as_text=True)
    js = c.get(f"/widget/{key}/loader.js", headers={"Referer": "https://shop.example.com/products"})
    assert js.status_code == 200 and "iframe" in js.get_data(as_text=True) and '"h": "left"' in js.get_data(as_text=True)
    assert "Embedded correctly" in admin.get("/settings/general").get_data(as_text=True)
    assert c.get("/widget/wrong-key/loader.js").status_code == 404
    frame = c.get(f"/widget/{key}/frame?o=https://shop.example.com&lang=pl-PL",
                  headers={"Referer": "https://shop.example.com/"})
    assert frame.status_code == 200
    assert "frame-ancestors https://shop.example.com https://www.example.com" in frame.headers["Content-Security-Policy"]
    conf = json.loads(re.search(r'id="widget-config" type="application/json">(.*?)</script>',
                                frame.get_data(as_text=True)).group(1))
    assert conf["lang"] == "pl" and conf["texts"]["title"] == "Masz pytania? Napisz do nas"
    assert c.get(f"/widget/{key}/frame?o=https://evil.example", headers={"Referer": "https://evil.example/"}).status_code == 403
    with database.session() as s:
        assert svc.get_settings(s)["offset_y"] == 40


def test_settings_pages_are_admin_only_and_validate(admin, agent, database):
    for path in ("/settings/general", "/settings/chat", "/settings/triggers"):
        assert agent.get(path).status_code == 403
        assert admin.get(path).status_code == 200
    r = post(admin, "/settings/triggers", {"triggers_enabled": "1", "pl_message": "x" * 251, "pl_delay": "5",
                                           "en_message": "Hi!", "en_delay": "3"}, page="/settings/triggers")
    assert r.status_code == 400 and "Up to 250 characters" in r.get_data(as_text=True)
    r = post(admin, "/settings/triggers", {"triggers_enabled": "1", "pl_message": "Dzień dobry, w czym mogę pomóc? :)",
                                           "pl_delay": "15", "en_message": "Hi!", "en_delay": "3"},
             page="/settings/triggers")
    assert r.status_code == 302
    r = post(admin, "/settings/chat", {"form": "template", "title": "Greeting", "body": "Good morning!"},
             page="/settings/chat")
    assert r.status_code == 302
    r = post(admin, "/settings/chat", {"enabled": "1", "ask_data": "1", "offer_timeout": "0"}, page="/settings/chat")
    assert r.status_code == 400
    r = post(admin, "/settings/chat", {"enabled": "1", "ask_data": "1", "offer_timeout": "20"}, page="/settings/chat")
    assert r.status_code == 302
    with database.session() as s:
        cfg = svc.get_settings(s)
        assert cfg["triggers"]["pl"] == {"message": "Dzień dobry, w czym mogę pomóc? :)", "delay": 15}
        assert cfg["triggers_enabled"] and cfg["ask_data"] and not cfg["force_data"] and cfg["offer_timeout"] == 20
        assert [t.title for t in svc.templates(s)] == ["Greeting"]
    assert "Greeting" in admin.get("/settings/chat").get_data(as_text=True)


def test_history_entry_shows_transcript_and_pages(chat, database, app):
    agent = chat.agent("anna@example.com")
    v = chat.visitor(url="http://shop.test/a", title="Page A")
    cid = v.emit("message", {"body": "<script>alert(1)</script>", "url": "http://shop.test/a", "title": "Page A",
                             "name": "Jan", "email": "jan@example.com"})["chat_id"]
    offered(agent)
    agent.emit("chat:accept", {"chat_id": cid})
    agent.emit("chat:send", {"chat_id": cid, "body": "Hello Jan"})
    agent.emit("chat:close", {"chat_id": cid})
    html = agent.http.get(chat.url + f"/history/{cid}").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert(1)" not in html
    assert "Hello Jan" in html and "http://shop.test/a" in html and "jan@example.com" in html
    listing = agent.http.get(chat.url + "/history").text
    assert "Jan &lt;jan@example.com&gt;" in listing


def test_widget_weight_budgets(app, database):
    """Loader < 10 KB and the whole widget < 60 KB, gzipped (bench/widget_size.py prints the table)."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("widget_size", Path(__file__).parents[1] / "bench" / "widget_size.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    with database.session() as s:
        key = svc.get_settings(s)["key"]
    rows = mod.measure(app, key)
    names = [r[0] for r in rows]
    assert any("socket.io" in n for n in names) and any("widget.js" in n for n in names)
    assert rows[0][2] < mod.LOADER_BUDGET
    assert sum(r[2] for r in rows) < mod.WIDGET_BUDGET


def _png() -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


def test_attachments_both_ways(chat, database):
    agent = chat.agent("anna@example.com")
    v = chat.visitor()
    ack = v.emit("message", {"body": "photo coming"})
    token, cid = ack["token"], ack["chat_id"]
    offered(agent)
    agent.emit("chat:accept", {"chat_id": cid})
    up = f"{chat.url}/widget/{chat.key}/upload"

    assert requests.post(up, files={"file": ("a.png", _png())}).status_code == 403            # no token
    assert requests.post(up, files={"file": ("a.png", _png())},
                         headers={"X-Visitor-Token": "y" * 43}).status_code == 403              # not a visitor
    bad = requests.post(up, files={"file": ("evil.html", b"<script>alert(1)</script>")},
                        headers={"X-Visitor-Token": token})
    assert bad.status_code == 400 and bad.json()["error"] == "bad_type"
    big = requests.post(up, files={"file": ("big.pdf", b"%PDF-" + b"0" * (5 * 1024 * 1024))},
                        headers={"X-Visitor-Token": token})
    assert big.status_code == 400 and big.json()["error"] == "too_large"
    from .test_bad_uploads import huge_png_header
    flood = requests.post(up, files={"file": ("flood.png", huge_png_header(100_000, 100_000))},
                          headers={"X-Visitor-Token": token})     # 10 gigapixels declared in a tiny file
    assert flood.status_code == 400 and flood.json()["error"] == "too_large"
    ok = requests.post(up, files={"file": ("photo <1>.png", _png())}, headers={"X-Visitor-Token": token})
    assert ok.status_code == 200
    f = ok.json()["message"]["file"]
    assert f["image"] and f["name"] == "photo <1>.png"
    got = agent.wait("chat:message", lambda m: m.get("file"))
    assert got["file"]["url"] == f["url"]
    img = requests.get(chat.url + f["url"])
    assert img.status_code == 200 and img.headers["Content-Type"] == "image/png" and img.content == _png()
    assert img.headers["X-Content-Type-Options"] == "nosniff" and "sandbox" in img.headers["Content-Security-Policy"]
    assert requests.get(chat.url + f"/widget/{chat.key}/files/../../secrets.json").status_code == 404

    # the agent sends a PDF back (session + CSRF); the visitor receives it as a download
    page = agent.http.get(chat.url + f"/chat/{cid}").text
    csrf_token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    r = agent.http.post(chat.url + f"/chat/{cid}/upload", files={"file": ("offer.pdf", b"%PDF-1.4\n%%EOF\n")},
                        headers={"X-CSRFToken": csrf_token})
    assert r.status_code == 200
    pdf = v.wait("message", lambda m: m.get("file") and m["sender"] == "agent")["file"]
    assert pdf["name"] == "offer.pdf" and not pdf["image"]
    dl = requests.get(chat.url + pdf["url"])
    assert dl.headers["Content-Type"] == "application/pdf" and "attachment" in dl.headers["Content-Disposition"]
    # without the CSRF token, or for someone else's chat: refused
    assert agent.http.post(chat.url + f"/chat/{cid}/upload", files={"file": ("x.pdf", b"%PDF-1.4")}).status_code == 400
    other = chat.agent("olek@example.com")
    page = other.http.get(chat.url + "/").text
    t2 = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    assert other.http.post(chat.url + f"/chat/{cid}/upload", files={"file": ("x.pdf", b"%PDF-1.4")},
                           headers={"X-CSRFToken": t2}).status_code == 403


def test_company_logo_is_the_widget_avatar_when_nobody_is_online(admin, app, database):
    import io

    from .web_helpers import csrf

    token = csrf(admin, "/settings/general")
    r = admin.post("/settings/general/logo", data={"csrf_token": token, "logo": (io.BytesIO(b"not an image"), "x.png")},
                   content_type="multipart/form-data", follow_redirects=True)
    assert "not an image we can read" in r.get_data(as_text=True)
    r = admin.post("/settings/general/logo", data={"csrf_token": token, "logo": (io.BytesIO(_png()), "logo.png")},
                   content_type="multipart/form-data")
    assert r.status_code == 302
    with database.session() as s:
        cfg = svc.get_settings(s)
    c = app.test_client()
    frame = c.get(f"/widget/{cfg['key']}/frame?o=https://shop.example.com").get_data(as_text=True)
    conf = json.loads(re.search(r'id="widget-config" type="application/json">(.*?)</script>', frame).group(1))
    assert conf["agent"] is None and conf["logo"].startswith(f"/widget/{cfg['key']}/logo")
    img = c.get(conf["logo"])
    assert img.status_code == 200 and img.mimetype == "image/png"
    assert admin.post("/settings/general/logo/delete", data={"csrf_token": token}).status_code == 302
    assert c.get(f"/widget/{cfg['key']}/logo").status_code == 404
