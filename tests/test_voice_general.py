"""Settings / Voice / General: ring timeout, wrap-up, recording, voicemail length (VOI-2, VOI-5, BEY-4)."""
import pytest

from agents import events
from centrala.account import effective
from pbx import render
from tests.helpers import EventRecorder

from .web_helpers import post

pytestmark = pytest.mark.db


def test_admin_changes_voice_settings_and_asterisk_config_follows(app, admin, agent, database, web_settings):
    recorder = EventRecorder(app.extensions["centrala.bus"])
    page = admin.get("/settings/voice/general").get_data(as_text=True)
    assert 'value="30"' in page and 'id="record_calls"' in page
    r = post(admin, "/settings/voice/general", {"ring_timeout": "12", "wrapup_seconds": "5",
                                                "voicemail_max_seconds": "60", "record_calls": "1"},
             page="/settings/voice/general")
    assert r.status_code == 302
    recorder.wait(events.SETTINGS_CHANGED, 1, area="voice")
    s = effective(web_settings, database)
    assert (s.ring_timeout, s.wrapup_seconds, s.voicemail_max_seconds, s.record_calls) == (12, 5, 60, True)
    render.render_from_db(web_settings, "/mods", database)
    etc = web_settings.asterisk_dir / "etc"
    queues = (etc / "queues.conf").read_text()
    assert "timeout = 12" in queues and "wrapuptime = 5" in queues
    assert "exten => inbound,1,Set(CENTRALA_RECORD=1)" in (etc / "extensions.conf").read_text()
    # invalid values are refused and change nothing
    r = post(admin, "/settings/voice/general", {"ring_timeout": "2", "wrapup_seconds": "x",
                                                "voicemail_max_seconds": "60"}, page="/settings/voice/general")
    assert r.status_code == 400 and "between 5 and 300" in r.get_data(as_text=True)
    assert effective(web_settings, database).ring_timeout == 12
    # switching recording off
    post(admin, "/settings/voice/general", {"ring_timeout": "12", "wrapup_seconds": "5",
                                            "voicemail_max_seconds": "60"}, page="/settings/voice/general")
    assert effective(web_settings, database).record_calls is False
    render.render_from_db(web_settings, "/mods", database)
    assert "exten => inbound,1,Set(CENTRALA_RECORD=0)" in (etc / "extensions.conf").read_text()
    assert agent.get("/settings/voice/general").status_code == 403
    assert "settings.changed" in admin.get("/settings/audit").get_data(as_text=True)
