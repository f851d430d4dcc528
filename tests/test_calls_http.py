"""The panel's dial pad (COM-2) asks for a call; the pbx controller (not running here) dials."""
import pytest

from agents import events
from centrala.models import Number, Trunk
from tests.helpers import EventRecorder

from .web_helpers import csrf, login

pytestmark = pytest.mark.db


def test_dial_pad_requests_a_call(app, make_user, database):
    recorder = EventRecorder(app.extensions["centrala.bus"])
    make_user("ann@example.com")
    c = app.test_client()
    login(c, "ann@example.com")
    token = csrf(c, "/")
    assert c.post("/calls", json={"number": "600100200"}).status_code == 400   # no CSRF token
    r = c.post("/calls", json={"number": "600100200"}, headers={"X-CSRFToken": token})
    assert r.status_code == 422 and r.json["error"] == "There is no company number to call from yet."
    with database.session() as s:
        t = Trunk(name="gsm1", host="10.0.0.9", port=5060, enabled=True)
        s.add(t)
        s.flush()
        s.add(Number(number="+48221234567", trunk_id=t.id, kind="gsm", label="", enabled=True))
    r = c.post("/calls", json={"number": "12"}, headers={"X-CSRFToken": token})
    assert r.status_code == 422 and r.json["error"] == "This is not a valid phone number."
    r = c.post("/calls", json={"number": "600 100 200"}, headers={"X-CSRFToken": token})
    assert r.status_code == 202 and r.json["number"] == "+48600100200"
    req = recorder.wait(events.CALL_REQUESTED, 1, communication_id=r.json["communication_id"])
    assert req.data["our_number"] == "+48221234567" and req.data["trunk"] == "gsm1"
    assert req.data["sip_username"].startswith("agent")
    assert app.test_client().post("/calls", json={"number": "1"}).status_code in (302, 400)


def test_history_pages_keep_the_filter(app, make_user, database):
    from centrala.models import Communication

    make_user("ann@example.com")
    c = app.test_client()
    login(c, "ann@example.com")
    with database.session() as s:
        s.add_all([Communication(channel="voice", direction="inbound", outcome="missed", remote=f"+4860010{i:04d}",
                                 agents_rung=[], note="") for i in range(30)])
    html = c.get("/history?outcome=missed").get_data(as_text=True)
    assert "Page 1 of 2" in html and "page=2" in html and "outcome=missed" in html
    assert c.get("/history?outcome=answered").get_data(as_text=True).count("Page ") == 0
