"""Live status over Socket.IO (STA-1) and the notification drawer (DSH-4, INB-4)."""
import time

import pytest
from sqlalchemy import select

from agents import events
from centrala.models import User
from web.notifications.services import push

from .helpers import EventRecorder, wait_for
from .web_helpers import login

pytestmark = pytest.mark.db
NS = "/agent"


def logged_in(app, make_user, email, role="agent"):
    uid = make_user(email, role=role)
    http = app.test_client()
    assert login(http, email).status_code == 302
    return uid, http


def socket_for(app, http):
    sio = app.extensions["socketio"]
    return sio.test_client(app, namespace=NS, flask_test_client=http)


def events_named(client, name):
    return [e["args"][0] for e in client.get_received(NS) if e["name"] == name]


def test_anonymous_socket_refused(app):
    sio = app.extensions["socketio"]
    client = sio.test_client(app, namespace=NS)
    assert not client.is_connected(NS)


def test_status_change_reaches_other_panels(app, make_user, database):
    recorder = EventRecorder(app.extensions["centrala.bus"])
    admin_id, admin_http = logged_in(app, make_user, "boss@example.com", "admin")
    agent_id, agent_http = logged_in(app, make_user, "agent@example.com")
    admin_sock = socket_for(app, admin_http)
    agent_sock = socket_for(app, agent_http)
    snap = events_named(agent_sock, "snapshot")[0]
    assert snap["me"]["status"] == "offline" and {p["id"] for p in snap["presence"]} == {admin_id, agent_id}
    admin_sock.get_received(NS)
    started = time.monotonic()
    ack = agent_sock.emit("status:set", {"status": "online"}, namespace=NS, callback=True)
    assert ack == {"ok": True, "status": "online"}
    seen = wait_for(lambda: [p for p in events_named(admin_sock, "presence") if p["id"] == agent_id], 1.0,
                    what="presence event in the admin's panel")
    assert seen[0]["status"] == "online" and time.monotonic() - started < 1.0
    recorder.wait(events.AGENT_STATUS_CHANGED, 1, user_id=agent_id, status="online")
    with database.session() as s:
        assert s.get(User, agent_id).status == "online"
    assert agent_sock.emit("status:set", {"status": "asleep"}, namespace=NS, callback=True)["ok"] is False


def test_admin_socket_events_refused_for_agents(app, make_user, database):
    admin_id, admin_http = logged_in(app, make_user, "boss@example.com", "admin")
    agent_id, agent_http = logged_in(app, make_user, "agent@example.com")
    agent_sock = socket_for(app, agent_http)
    r = agent_sock.emit("presence:set", {"user_id": admin_id, "status": "offline"}, namespace=NS, callback=True)
    assert r == {"ok": False, "error": "forbidden"}
    admin_sock = socket_for(app, admin_http)
    r = admin_sock.emit("presence:set", {"user_id": agent_id, "status": "break"}, namespace=NS, callback=True)
    assert r == {"ok": True, "status": "break"}
    with database.session() as s:
        assert s.get(User, agent_id).status == "break"


def test_agent_goes_offline_when_every_panel_is_gone(app, make_user, database, web_settings):
    assert web_settings.presence_grace_seconds == 1
    admin_id, admin_http = logged_in(app, make_user, "boss@example.com", "admin")
    agent_id, agent_http = logged_in(app, make_user, "agent@example.com")
    admin_sock = socket_for(app, admin_http)
    tab1, tab2 = socket_for(app, agent_http), socket_for(app, agent_http)
    tab1.emit("status:set", {"status": "online"}, namespace=NS, callback=True)
    tab1.disconnect(NS)
    # one panel is still open: the agent stays online past the grace period
    with pytest.raises(AssertionError):
        wait_for(lambda: [p for p in events_named(admin_sock, "presence") if p["status"] == "offline"], 1.6)
    tab2.disconnect(NS)
    offline = wait_for(lambda: [p for p in events_named(admin_sock, "presence")
                                if p["id"] == agent_id and p["status"] == "offline"], 4,
                       what="agent set offline after the grace period")
    assert offline
    with database.session() as s:
        assert s.get(User, agent_id).status == "offline"


def test_reconnect_resyncs(app, make_user):
    agent_id, agent_http = logged_in(app, make_user, "agent@example.com")
    sock = socket_for(app, agent_http)
    sock.emit("status:set", {"status": "break"}, namespace=NS, callback=True)
    sock.disconnect(NS)
    again = socket_for(app, agent_http)
    snap = events_named(again, "snapshot")[0]
    assert snap["me"]["status"] == "break"
    assert again.emit("resync", namespace=NS, callback=True)["me"]["status"] == "break"


def test_notifications_drawer_push_and_ignore(app, make_user, database):
    agent_id, agent_http = logged_in(app, make_user, "agent@example.com")
    other_id, other_http = logged_in(app, make_user, "other@example.com")
    sock = socket_for(app, agent_http)
    other = socket_for(app, other_http)
    sock.get_received(NS)
    with app.test_request_context():
        from web.extensions import dbs

        (item,) = push(dbs(), [agent_id], "chat", "Visitor asks about prices", link="/history")
    received = sock.get_received(NS)
    got = [e["args"][0] for e in received if e["name"] == "notification"]
    assert got and got[0]["title"] == "Visitor asks about prices" and got[0]["actions"] == ["answer", "ignore"]
    assert [e["args"][0] for e in received if e["name"] == "badges"][-1]["incoming"] == 1
    # someone else's item cannot be touched
    assert other.emit("notification:ignore", {"id": item.id}, namespace=NS, callback=True) == {"ok": False}
    assert sock.emit("notification:ignore", {"id": item.id}, namespace=NS, callback=True) == {"ok": True}
    assert events_named(sock, "badges")[-1]["incoming"] == 0
    snap = sock.emit("resync", namespace=NS, callback=True)
    assert snap["notifications"] == [] and snap["badges"]["incoming"] == 0
