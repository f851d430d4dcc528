"""The panel's dial pad (COM-2) asks for a call; the pbx controller (not running here) dials."""
import pytest

from agents import events
from centrala.models import Number, Trunk
from tests.helpers import EventRecorder

from .web_helpers import csrf, login

pytestmark = pytest.mark.db


def test_dial_pad_requests_a_call(app, make_user, database):
    recorder = EventRecorder(app.extensions["centrala.bus"])
    make_user("ann@example.com", channels=("voice_in", "voice_out"))
    make_user("ian@example.com", channels=("voice_in",))   # inbound only (VOI-6)
    c = app.test_client()
    login(c, "ian@example.com")
    r = c.post("/calls", json={"number": "600100200"}, headers={"X-CSRFToken": csrf(c, "/")})
    assert r.status_code == 422 and r.json["error"].startswith("You do not take part in outbound calls.")
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


def test_call_card_actions_follow_the_rules_and_reach_the_pbx(app, make_user, database):
    """VOI-9 from the call card: hold, attended transfer and its steps are asked of the PBX for
    the agent's own answered call only, with clear refusals (in the panel's language)."""
    from datetime import datetime, timezone

    from centrala.models import Communication, User

    recorder = EventRecorder(app.extensions["centrala.bus"])
    ann_id, bob_id = make_user("ann@example.com"), make_user("bob@example.com", name="Bob Second")
    with database.session() as s:
        mine = Communication(channel="voice", direction="inbound", outcome="in_progress", remote="+48600100200",
                             agent_id=ann_id, agents_rung=[ann_id], note="", pbx_id="pbx-1",
                             answered_at=datetime.now(timezone.utc))
        ringing = Communication(channel="voice", direction="inbound", outcome="in_progress", remote="+48600100201",
                                agent_id=None, agents_rung=[ann_id], note="", pbx_id="pbx-2")
        theirs = Communication(channel="voice", direction="inbound", outcome="in_progress", remote="+48600100202",
                               agent_id=bob_id, agents_rung=[bob_id], note="", pbx_id="pbx-3",
                               answered_at=datetime.now(timezone.utc))
        done = Communication(channel="voice", direction="inbound", outcome="answered", remote="+48600100203",
                             agent_id=ann_id, agents_rung=[ann_id], note="", pbx_id="pbx-4")
        s.add_all([mine, ringing, theirs, done])
        s.flush()
        ids = mine.id, ringing.id, theirs.id, done.id
        bob_sip = s.get(User, bob_id).sip_username
    c = app.test_client()
    login(c, "ann@example.com")
    h = {"X-CSRFToken": csrf(c, "/")}
    assert c.post(f"/calls/{ids[0]}/hold").status_code == 400  # no CSRF token
    assert c.post(f"/calls/{ids[0]}/hold", headers=h).status_code == 202
    assert recorder.wait(events.CALL_HOLD_REQUESTED, 1, communication_id=ids[0]).data == {
        "communication_id": ids[0], "pbx_id": "pbx-1", "hold": True}
    assert c.post(f"/calls/{ids[0]}/unhold", headers=h).status_code == 202
    recorder.wait(events.CALL_HOLD_REQUESTED, 1, communication_id=ids[0], hold=False)
    r = c.post(f"/calls/{ids[0]}/transfer", json={"user_id": bob_id, "attended": True}, headers=h)
    assert r.status_code == 202 and r.json["to"] == "Bob Second"
    start = recorder.wait(events.CALL_CONSULT_REQUESTED, 1, communication_id=ids[0], step="start")
    assert start.data["target"] == bob_sip
    for step in ("complete", "cancel"):
        assert c.post(f"/calls/{ids[0]}/{step}", headers=h).status_code == 202
        recorder.wait(events.CALL_CONSULT_REQUESTED, 1, communication_id=ids[0], step=step)
    r = c.post(f"/calls/{ids[0]}/transfer", json={"number": "12"}, headers=h)
    assert r.status_code == 422 and r.json["error"] == "Choose an agent or type a valid phone number."
    r = c.post(f"/calls/{ids[1]}/hold", headers=h)
    assert r.status_code == 409 and "answered" in r.json["error"]
    assert c.post(f"/calls/{ids[1]}/hangup", headers=h).status_code == 202  # ringing for me: I may end it
    r = c.post(f"/calls/{ids[2]}/hold", headers=h)
    assert r.status_code == 403 and r.json["error"] == "This is another agent's call."
    r = c.post(f"/calls/{ids[3]}/hangup", headers=h)
    assert r.status_code == 409 and r.json["error"] == "This call has already ended."
    assert c.post("/calls/99999/hold", headers=h).status_code == 404
    targets = c.get("/calls/transfer-targets").json["items"]
    assert [t["name"] for t in targets] == ["Bob Second"]  # not myself
    assert not [e for e in recorder.events if e.data.get("communication_id") in ids[2:]]


def test_notes_on_a_call_from_the_history_page_and_the_api(app, make_user, database):
    from centrala.models import Communication, User
    from centrala.tokens import create_api_token

    ann_id, bob_id = make_user("ann@example.com"), make_user("bob@example.com")
    with database.session() as s:
        c = Communication(channel="voice", direction="inbound", outcome="answered", remote="+48600100200",
                          agent_id=ann_id, agents_rung=[ann_id], note="Transferred to Ola")
        s.add(c)
        s.flush()
        comm_id = c.id
        bob_token = create_api_token(s, s.get(User, bob_id), "t")
        ann_token = create_api_token(s, s.get(User, ann_id), "t")
    c = app.test_client()
    login(c, "ann@example.com")
    page = c.get(f"/history/{comm_id}").get_data(as_text=True)
    assert "Transferred to Ola</textarea>" in page
    assert 'data-outcome="answered">Answered</span>' in page  # a label, not the code
    assert '<dd id="agents-rung">Ann</dd>' in page
    token = csrf(c, f"/history/{comm_id}")
    assert c.post(f"/history/{comm_id}/note", data={"note": "x"}).status_code == 400  # CSRF
    r = c.post(f"/history/{comm_id}/note", data={"note": " Call back <script>1</script> \r\n", "csrf_token": token},
               follow_redirects=True)
    assert "Note saved." in r.get_data(as_text=True)
    assert "&lt;script&gt;1&lt;/script&gt;</textarea>" in r.get_data(as_text=True)
    r = c.post(f"/history/{comm_id}/note", data={"note": "y" * 4001, "csrf_token": token}, follow_redirects=True)
    assert "The note may be at most 4000 characters long." in r.get_data(as_text=True)
    with database.session() as s:
        assert s.get(Communication, comm_id).note == "Call back <script>1</script>"
    api = app.test_client()
    r = api.patch(f"/api/v1/communications/{comm_id}", json={"note": "by bob"},
                  headers={"Authorization": f"Bearer {bob_token}"})
    assert r.status_code == 403
    r = api.patch(f"/api/v1/communications/{comm_id}", json={"outcome": "missed"},
                  headers={"Authorization": f"Bearer {ann_token}"})
    assert r.status_code == 422
    r = api.patch(f"/api/v1/communications/{comm_id}", json={"note": "from the CRM"},
                  headers={"Authorization": f"Bearer {ann_token}"})
    assert r.status_code == 200 and r.json["note"] == "from the CRM" and r.json["outcome"] == "answered"
    login(c2 := app.test_client(), "bob@example.com")
    assert "note-text" in c2.get(f"/history/{comm_id}").get_data(as_text=True)  # read-only for Bob
