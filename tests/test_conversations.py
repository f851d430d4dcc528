"""The conversation core (issue 11): lifecycle events for every channel, and the channel-neutral
REST messages resource (GET/POST /api/v1/communications/{id}/messages)."""
from __future__ import annotations

import pytest
import requests

from agents import events
from centrala.models import Communication, User
from centrala.tokens import create_api_token

from .helpers import EventRecorder
from .test_chat import chat, chat_id_of, offered  # noqa: F401 - the chat fixture and its helpers

pytestmark = pytest.mark.db


def token_for(database, user_id: int) -> dict:
    with database.session() as s:
        return {"Authorization": "Bearer " + create_api_token(s, s.get(User, user_id), "test")}


def test_a_chat_announces_its_lifecycle_as_conversation_events(chat, database):  # noqa: F811
    recorder = EventRecorder(chat.app.extensions["centrala.bus"])
    agent = chat.agent("anna@example.com")
    v = chat.visitor()
    cid = v.emit("message", {"body": "Do you ship abroad?"})["chat_id"]
    opened = recorder.wait(events.CONVERSATION_OPENED, 2, communication_id=cid)
    assert opened.data["channel"] == "chat" and opened.data["direction"] == "inbound"
    first = recorder.wait(events.CONVERSATION_MESSAGE, 2, communication_id=cid)
    assert (first.data["direction"], first.data["author"], first.data["text"]) == \
        ("inbound", "customer", "Do you ship abroad?")
    offered(agent)
    assert agent.emit("chat:accept", {"chat_id": cid}) == {"ok": True}
    assert agent.emit("chat:send", {"chat_id": cid, "body": "Yes, everywhere."})["ok"]
    reply = recorder.wait(events.CONVERSATION_MESSAGE, 2, communication_id=cid, direction="outbound")
    assert reply.data["user_id"] == agent.id and reply.data["text"] == "Yes, everywhere."
    assert v.emit("message", {"body": "Thanks"})["ok"]   # the lean path announces too
    recorder.wait(events.CONVERSATION_MESSAGE, 2, communication_id=cid, text="Thanks")
    assert agent.emit("chat:send", {"chat_id": cid, "body": ""}) == {"ok": False, "error": "required", "field": "message"}
    assert agent.emit("chat:close", {"chat_id": cid}) == {"ok": True}
    closed = recorder.wait(events.CONVERSATION_CLOSED, 2, communication_id=cid)
    assert closed.data["outcome"] == "answered" and closed.data["user_id"] == agent.id
    assert closed.data["talk_seconds"] is not None
    # the old name stays while webhooks subscribe to it
    recorder.wait(events.CHAT_CLOSED, 1, communication_id=cid, outcome="answered", user_id=agent.id)
    assert [e.name for e in recorder.events].count(events.CONVERSATION_CLOSED) == 1


def test_the_offline_form_opens_and_closes_at_once(chat, database):  # noqa: F811
    recorder = EventRecorder(chat.app.extensions["centrala.bus"])
    v = chat.visitor()
    v.wait("state")
    ack = v.emit("offline", {"name": "Jan", "email": "jan@example.com", "message": "Call me"})
    closed = recorder.wait(events.CONVERSATION_CLOSED, 2, communication_id=ack["chat_id"])
    assert closed.data["outcome"] == "offline_form" and closed.data["channel"] == "chat"
    recorder.wait(events.CONVERSATION_MESSAGE, 2, communication_id=ack["chat_id"], text="Call me")
    assert not [e for e in recorder.events if e.name == events.CHAT_CLOSED]   # as before: no chat.closed


def test_rest_messages_of_a_chat_and_a_reply_reaching_the_widget(chat, database, make_user):  # noqa: F811
    agent = chat.agent("anna@example.com")
    other = chat.agent("olaf@example.com", online=False)
    admin = make_user("boss@example.com", role="admin")
    v = chat.visitor()
    cid = v.emit("message", {"body": "Hello <b>there</b>"})["chat_id"]
    offered(agent)
    agent.emit("chat:accept", {"chat_id": cid})
    url = f"{chat.url}/api/v1/communications/{cid}/messages"
    mine, theirs, boss = token_for(database, agent.id), token_for(database, other.id), token_for(database, admin)

    r = requests.post(url, json={"text": "Sent from our CRM"}, headers=mine)
    assert r.status_code == 201, r.text
    sent = r.json()
    assert (sent["direction"], sent["text"], sent["delivery"]) == ("outbound", "Sent from our CRM", "sent")
    assert sent["author"] == {"kind": "agent", "id": agent.id, "name": "Anna Agent"}
    # live in the widget and in the agent's panel, like a reply typed in the panel
    assert v.wait("message", lambda m: m["body"] == "Sent from our CRM")["sender"] == "agent"
    assert agent.wait("chat:message", lambda m: m["body"] == "Sent from our CRM")["chat_id"] == cid

    items = requests.get(url, headers=mine).json()["items"]
    assert [(m["direction"], m["author"]["kind"], m["text"]) for m in items] == [
        ("inbound", "customer", "Hello <b>there</b>"), ("internal", "system", ""),
        ("outbound", "agent", "Sent from our CRM")]
    assert all(set(m) == {"id", "direction", "author", "text", "attachments", "at", "delivery"} for m in items)
    assert items[0]["delivery"] == "received" and items[0]["attachments"] == []
    assert requests.get(url, headers=boss).status_code == 200                       # an administrator may
    r = requests.get(url, headers=theirs)
    assert r.status_code == 403 and r.json()["error"]["message"] == "This is another agent's conversation."
    assert requests.post(url, json={"text": "mine now"}, headers=theirs).status_code == 403
    assert requests.get(url).status_code == 401
    for body, status, message in (({"text": " "}, 422, "text is required: a string that is not empty."),
                                  ({"text": "x" * 2001}, 422, "text may be at most 2000 characters long."),
                                  ({}, 422, "text is required: a string that is not empty."),
                                  ({"text": 5}, 422, "Invalid request: text: Input should be a valid string"),
                                  ({"body": "hi"}, 422, None)):
        r = requests.post(url, json=body, headers=mine)
        assert r.status_code == status, body
        if message:
            assert r.json()["error"]["message"] == message, body
        else:                                         # an unknown field is named (the API's schema)
            assert "body" in r.json()["error"]["message"], r.json()
    assert requests.get(f"{chat.url}/api/v1/communications/999999/messages", headers=mine).status_code == 404
    assert requests.get(f"{chat.url}/api/v1/communications/{2 ** 63}/messages", headers=mine).status_code == 404

    agent.emit("chat:close", {"chat_id": cid})
    r = requests.post(url, json={"text": "too late"}, headers=mine)
    assert r.status_code == 409 and r.json()["error"]["message"] == "This chat has ended."
    assert len(requests.get(url, headers=mine).json()["items"]) == 3


def test_rest_messages_of_a_call_are_refused_clearly(app, database, make_user):
    ann = make_user("ann@example.com")
    with database.session() as s:
        call = Communication(channel="voice", direction="inbound", outcome="answered", remote="+48500100200",
                             agent_id=ann, agents_rung=[ann], note="")
        s.add(call)
        s.flush()
        cid = call.id
    c = app.test_client()
    h = token_for(database, ann)
    r = c.get(f"/api/v1/communications/{cid}/messages", headers=h)
    assert r.status_code == 422 and r.json["error"]["message"] == "This is a call: it has no written messages."
    r = c.post(f"/api/v1/communications/{cid}/messages", json={"text": "hi"}, headers=h)
    assert r.status_code == 422 and "This is a call" in r.json["error"]["message"]
    doc = c.get("/api/v1/openapi.json").json
    assert {"get", "post"} <= set(doc["paths"]["/communications/{id}/messages"])
    assert "Message" in doc["components"]["schemas"]


def test_labels_of_the_vocabulary_follow_the_reader_language(app, database, make_user):
    """One place for the labels (web/labels.py), evaluated per request: History's types, a row's
    kind, an outcome, and the drawer kinds the panel's script gets."""
    from .web_helpers import csrf, login

    make_user("ann@example.com")
    with database.session() as s:
        s.add(Communication(channel="chat", direction="inbound", outcome="offline_form", remote="Ola",
                            agents_rung=[], note=""))
    c = app.test_client()
    login(c, "ann@example.com")
    html = c.get("/history").get_data(as_text=True)
    assert '<option value="voicemail" >Voicemail</option>' in html and "Offline message" in html
    assert '"voicemail": "Voicemail"' in c.get("/").get_data(as_text=True)
    assert c.post("/language", data={"lang": "pl", "csrf_token": csrf(c, "/history")}).status_code == 302
    html = c.get("/history").get_data(as_text=True)
    assert '<option value="voicemail" >Poczta głosowa</option>' in html and "Wiadomość z formularza" in html
    assert '<option value="chat" >Chaty</option>' in html
    assert '"task": "Zadanie"' in c.get("/").get_data(as_text=True)


def test_one_duration_rule_for_calls_and_chats(database):
    """Calls were rounded to 2 decimals and chats to 1: both follow agents.conversation now."""
    from datetime import datetime, timedelta, timezone

    from centrala.conversations import lifecycle
    from pbx import history as call_history

    t = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)
    with database.session() as s:
        call = Communication(channel="voice", direction="inbound", outcome="in_progress", remote="+48500100200",
                             agents_rung=[], note="", started_at=t, answered_at=t + timedelta(seconds=1.234),
                             ended_at=t + timedelta(seconds=5.678))
        chat = Communication(channel="chat", direction="inbound", outcome="in_progress", remote="Ola",
                             agents_rung=[], note="", started_at=t - timedelta(seconds=0.04))
        s.add_all([call, chat])
        s.flush()
        ids = call.id, chat.id
    call_history.finish(database, ids[0])
    with database.session() as s:
        c = s.get(Communication, ids[1])
        c.answered_at = datetime.now(timezone.utc) - timedelta(seconds=2.345)
        lifecycle.close(s, c, "answered")
    with database.session() as s:
        call, chat = s.get(Communication, ids[0]), s.get(Communication, ids[1])
        assert call.talk_seconds == 4.4                      # was 4.44
        assert chat.talk_seconds == round(chat.talk_seconds, 1) and 2.3 <= chat.talk_seconds <= 3.0


def test_one_notifier_writes_incoming_work_for_the_agents_serving_it(app, database, make_user):
    """Voicemail (and the ringing call card) go through web/notifications/notifier.py: a drawer
    item for every active agent with the channel's inbound skill, in the agent's language."""
    from sqlalchemy import select

    from centrala.models import Notification
    from web.notifications import notifier

    from .web_helpers import login

    vera = make_user("vera@example.com", channels=("voice_in",))
    chad = make_user("chad@example.com", channels=("chat",))
    gone = make_user("gone@example.com", channels=("voice_in", "voice_out"))
    with database.session() as s:
        s.get(User, vera).language = "pl"
        s.get(User, gone).active = False
    http = app.test_client()
    login(http, "chad@example.com")
    panel = app.extensions["socketio"].test_client(app, namespace="/agent", flask_test_client=http)
    panel.get_received("/agent")
    bus = app.extensions["centrala.bus"]
    bus.publish(events.VOICEMAIL_RECEIVED, communication_id=77, caller="+48500100200")
    with database.session() as s:
        items = s.scalars(select(Notification)).all()
        assert [(n.user_id, n.channel, n.title, n.link) for n in items] == [
            (vera, "voicemail", "Wiadomość głosowa od +48500100200", "/history/77")]
    bus.publish(events.AGENT_RINGING, user_id=chad, call_id="pbx-1", caller="+48500100200", communication_id=78)
    rang = [e["args"][0] for e in panel.get_received("/agent") if e["name"] == "call"]
    assert rang and rang[0]["state"] == "ringing" and rang[0]["communication_id"] == 78
    with pytest.raises(ValueError):
        notifier.Work("fax", [vera], lambda: "x")


def test_a_logged_call_is_a_closed_conversation_too(app, database, make_user):
    from datetime import datetime, timedelta, timezone

    ann = make_user("ann@example.com")
    t = datetime.now(timezone.utc) - timedelta(seconds=30)
    with database.session() as s:
        call = Communication(channel="voice", direction="inbound", outcome="missed", remote="+48500100200",
                             agents_rung=[ann], note="", started_at=t, ended_at=t + timedelta(seconds=12),
                             wait_seconds=12.0)
        s.add(call)
        s.flush()
        cid = call.id
    bus = app.extensions["centrala.bus"]
    recorder = EventRecorder(bus)
    bus.publish(events.CALL_LOGGED, communication_id=cid, outcome="missed", call_id="pbx-9")
    closed = recorder.wait(events.CONVERSATION_CLOSED, 2, communication_id=cid)
    assert (closed.data["channel"], closed.data["outcome"], closed.data["wait_seconds"]) == ("voice", "missed", 12.0)


def test_files_both_ways_are_messages_of_the_conversation(chat, database):  # noqa: F811
    """Uploads go through the lifecycle too: announced, and listed with their attachment."""
    import re

    from .test_chat import _png

    recorder = EventRecorder(chat.app.extensions["centrala.bus"])
    agent = chat.agent("anna@example.com")
    v = chat.visitor()
    ack = v.emit("message", {"body": "photo coming"})
    token, cid = ack["token"], ack["chat_id"]
    offered(agent)
    agent.emit("chat:accept", {"chat_id": cid})
    ok = requests.post(f"{chat.url}/widget/{chat.key}/upload", files={"file": ("photo.png", _png())},
                       headers={"X-Visitor-Token": token})
    assert ok.status_code == 200
    got = recorder.wait(events.CONVERSATION_MESSAGE, 2, communication_id=cid, text="photo.png")
    assert got.data["direction"] == "inbound" and got.data["attachments"][0]["name"] == "photo.png"
    page = agent.http.get(chat.url + f"/chat/{cid}").text
    csrf_token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    r = agent.http.post(chat.url + f"/chat/{cid}/upload", files={"file": ("offer.pdf", b"%PDF-1.4\n%%EOF\n")},
                        headers={"X-CSRFToken": csrf_token})
    assert r.status_code == 200 and r.json()["message"]["file"]["name"] == "offer.pdf"
    recorder.wait(events.CONVERSATION_MESSAGE, 2, communication_id=cid, direction="outbound", text="offer.pdf")
    items = requests.get(f"{chat.url}/api/v1/communications/{cid}/messages", headers=token_for(database, agent.id)).json()["items"]
    files = [(m["direction"], m["attachments"][0]["name"], m["attachments"][0]["image"]) for m in items if m["attachments"]]
    assert files == [("inbound", "photo.png", True), ("outbound", "offer.pdf", False)]
    assert items[-1]["attachments"][0]["url"].startswith(f"/widget/{chat.key}/files/")


def test_the_pbx_opens_inbound_calls_through_the_core(app, database):
    from pbx import history as call_history

    bus = app.extensions["centrala.bus"]
    recorder = EventRecorder(bus)
    cid = call_history.open_call(database, "pbx-7", "48500100200", "+48221234567", "gsm", bus=bus)
    opened = recorder.wait(events.CONVERSATION_OPENED, 1, communication_id=cid)
    assert (opened.data["channel"], opened.data["direction"], opened.data["remote"]) == ("voice", "inbound", "48500100200")
    quiet = call_history.open_call(database, "pbx-8", "48500100201", None, None)   # no bus: nothing announced
    with database.session() as s:
        row = s.get(Communication, quiet)
        assert (row.channel, row.outcome, row.pbx_id, row.agents_rung) == ("voice", "in_progress", "pbx-8", [])
    assert not [e for e in recorder.events if e.data.get("communication_id") == quiet]
