"""Settings / Voice / Users (VOI-6): who is in the inbound and the outbound calls channel."""
import pytest

from agents import events
from centrala.models import AuditEntry, User
from tests.helpers import EventRecorder

from .web_helpers import csrf, login

pytestmark = pytest.mark.db


def test_admin_puts_users_into_voice_channels(app, make_user, database):
    recorder = EventRecorder(app.extensions["centrala.bus"])
    make_user("boss@example.com", role="admin", name="Ada Boss", channels=("chat",))
    ann = make_user("ann@example.com", name="Ann Inbound", channels=("chat", "voice_in"))
    bob = make_user("bob@example.com", name="Bob Nobody", channels=("email",))
    c = app.test_client()
    login(c, "boss@example.com")
    page = c.get("/settings/voice/users").get_data(as_text=True)
    assert "Inbound calls" in page and "Outbound calls" in page and "(1/3)" in page
    assert f'name="voice_in" value="{ann}" checked' in page and f'name="voice_out" value="{ann}" checked' not in page
    token = csrf(c, "/settings/voice/users")
    assert c.post("/settings/voice/users", data={"voice_in": [str(bob)]}).status_code == 400   # CSRF
    r = c.post("/settings/voice/users", data={"csrf_token": token, "voice_in": [str(bob)],
                                              "voice_out": [str(ann), str(bob), "x"]}, follow_redirects=True)
    assert "Saved. 2 user(s) changed." in r.get_data(as_text=True)
    with database.session() as s:
        assert sorted(s.get(User, ann).channels) == ["chat", "voice_out"]   # other channels kept
        assert sorted(s.get(User, bob).channels) == ["email", "voice_in", "voice_out"]
        assert s.query(AuditEntry).filter_by(target="ann@example.com").one().details["voice_channels"] == \
            "voice_in -> voice_out"
    assert {e.data["user_id"] for e in recorder.events if e.name == events.USERS_CHANGED} == {ann, bob}
    r = c.post("/settings/voice/users", data={"csrf_token": token, "voice_in": [str(bob)],
                                              "voice_out": [str(ann), str(bob)]}, follow_redirects=True)
    assert "Nothing to change." in r.get_data(as_text=True)


def test_agents_may_not_change_voice_channels(app, make_user):
    make_user("ann@example.com")
    c = app.test_client()
    login(c, "ann@example.com")
    assert c.get("/settings/voice/users").status_code == 403
    assert c.post("/settings/voice/users", data={"csrf_token": csrf(c, "/"), "voice_in": ["1"]}).status_code == 403
