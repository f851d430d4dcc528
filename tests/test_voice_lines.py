"""Settings / Voice / Trunks and Numbers, their REST API, per-number recording and business hours,
inbound/outbound switches (VOI-1, VOI-5, VOI-6, BEY-5)."""
from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from agents import events
from centrala import telephony
from centrala.models import Number, Trunk, User
from centrala.tokens import create_api_token
from pbx import render
from tests.helpers import EventRecorder

from .web_helpers import post

pytestmark = pytest.mark.db


def _token(database, email):
    with database.session() as s:
        u = s.scalar(select(User).where(User.email == email))
        return {"Authorization": f"Bearer {create_api_token(s, u, 'test')}"}


def test_admin_manages_trunks_in_settings_and_asterisk_config_follows(app, admin, agent, database, web_settings):
    recorder = EventRecorder(app.extensions["centrala.bus"])
    page = admin.get("/settings/voice/trunks").get_data(as_text=True)
    assert 'id="no-trunks"' in page and "/settings/voice/trunks/new" in page
    form = "/settings/voice/trunks/new"
    # validation: every field says what is wrong, nothing is stored
    for data, message in [({"name": "bad name", "host": "10.0.0.1", "port": "5060"}, "letters, digits"),
                          ({"name": "gw", "host": "not a host!", "port": "5060"}, "IP address or a host name"),
                          ({"name": "gw", "host": "10.0.0.1", "port": "70000"}, "between 1 and 65535"),
                          ({"name": "gw", "host": "10.0.0.1", "port": "5060", "password": "x"}, "needs a user name"),
                          ({"name": "gw", "host": "10.0.0.1", "port": "5060", "username": "a b"}, "No spaces")]:
        r = post(admin, form, {**data, "enabled": "1"}, page=form)
        assert r.status_code == 400 and message in r.get_data(as_text=True), (data, message)
    with database.session() as s:
        assert s.scalar(select(Trunk)) is None
    r = post(admin, form, {"name": "gsm-gw", "host": "192.0.2.10", "port": "5062", "username": "centrala",
                           "password": "s3cret-pass", "enabled": "1"}, page=form)
    assert r.status_code == 303
    recorder.wait(events.SETTINGS_CHANGED, 1, area="trunks")
    listing = admin.get("/settings/voice/trunks").get_data(as_text=True)
    assert "gsm-gw" in listing and "192.0.2.10:5062" in listing and "s3cret-pass" not in listing
    # the same address and port cannot be a second trunk
    r = post(admin, form, {"name": "other", "host": "192.0.2.10", "port": "5062", "enabled": "1"}, page=form)
    assert r.status_code == 400 and "already uses 192.0.2.10:5062" in r.get_data(as_text=True)
    with database.session() as s:
        trunk_id = s.scalar(select(Trunk.id).where(Trunk.name == "gsm-gw"))
    edit = f"/settings/voice/trunks/{trunk_id}"
    html = admin.get(edit).get_data(as_text=True)
    assert "s3cret-pass" not in html and "leave empty to keep it" in html
    # an edit with an empty password keeps the saved one
    assert post(admin, edit, {"name": "gsm-gw", "host": "192.0.2.11", "port": "5062", "username": "centrala",
                              "password": "", "enabled": "1"}, page=edit).status_code == 303
    with database.session() as s:
        t = s.get(Trunk, trunk_id)
        assert (t.host, database.secret_box.open(t.password)) == ("192.0.2.11", "s3cret-pass")
    render.render_from_db(web_settings, "/mods", database)
    pjsip = (web_settings.asterisk_dir / "etc" / "pjsip.conf").read_text()
    assert "match = 192.0.2.11:5062" in pjsip and "password = s3cret-pass" in pjsip
    assert agent.get("/settings/voice/trunks").status_code == 403
    assert agent.post(f"/settings/voice/trunks/{trunk_id}/delete").status_code in (400, 403)
    # deleting: refused while a number uses the trunk
    with database.session() as s:
        telephony.create_number(s, "+48221234567", trunk_id)
    r = post(admin, f"/settings/voice/trunks/{trunk_id}/delete", page="/settings/voice/trunks")
    assert "still has numbers" in admin.get("/settings/voice/trunks").get_data(as_text=True)
    with database.session() as s:
        s.delete(s.scalar(select(Number)))
    r = post(admin, f"/settings/voice/trunks/{trunk_id}/delete", page="/settings/voice/trunks")
    assert r.status_code == 303
    with database.session() as s:
        assert s.get(Trunk, trunk_id) is None
    render.render_from_db(web_settings, "/mods", database)
    assert "192.0.2.11" not in (web_settings.asterisk_dir / "etc" / "pjsip.conf").read_text()
    assert "trunk.gsm-gw" in admin.get("/settings/audit").get_data(as_text=True)


def test_admin_manages_numbers_with_hours_and_recording(app, admin, database, web_settings):
    numbers = admin.get("/settings/voice/numbers").get_data(as_text=True)
    assert "Add a trunk first" in numbers
    with database.session() as s:
        trunk_id = telephony.create_trunk(s, "carrier", "192.0.2.20", 5060).id
    form = "/settings/voice/numbers/new"
    assert 'id="no-numbers"' in admin.get("/settings/voice/numbers").get_data(as_text=True)
    base = {"number": "22 123 45 67", "trunk_id": str(trunk_id), "kind": "tdm", "label": "Sales", "enabled": "1",
            "record": "off"}
    hours = {"use_hours": "1", "mon_on": "1", "mon_open": "08:00", "mon_close": "16:00",
             "sat_on": "1", "sat_open": "10:00", "sat_close": "09:00"}
    r = post(admin, form, {**base, **hours}, page=form)
    assert r.status_code == 400 and "Saturday: the closing time must be after the opening time" in r.get_data(as_text=True)
    r = post(admin, form, {**base, "number": "12"}, page=form)
    assert r.status_code == 400 and "not a valid phone number" in r.get_data(as_text=True)
    hours["sat_close"] = "13:00"
    assert post(admin, form, {**base, **hours}, page=form).status_code == 303
    with database.session() as s:
        n = s.scalar(select(Number))
        assert (n.number, n.kind, n.label, n.record_calls) == ("+48221234567", "tdm", "Sales", False)
        assert n.hours["mon"] == ["08:00", "16:00"] and n.hours["sat"] == ["10:00", "13:00"] and n.hours["tue"] is None
        number_id = n.id
    listing = admin.get("/settings/voice/numbers").get_data(as_text=True)
    assert "+48221234567" in listing and "Mon 08:00–16:00, Sat 10:00–13:00" in listing and "Do not record" in listing
    r = post(admin, form, {**base, "number": "+48 22 123 45 67"}, page=form)
    assert r.status_code == 400 and "already in the pool" in r.get_data(as_text=True)
    edit = f"/settings/voice/numbers/{number_id}"
    assert post(admin, edit, {**base, "record": "account"}, page=edit).status_code == 303
    with database.session() as s:
        n = s.get(Number, number_id)
        assert n.record_calls is None and n.hours is None
    assert "Always open" in admin.get("/settings/voice/numbers").get_data(as_text=True)
    assert post(admin, f"/settings/voice/numbers/{number_id}/delete", page="/settings/voice/numbers").status_code == 303
    with database.session() as s:
        assert s.scalar(select(Number)) is None


def test_trunks_and_numbers_api(app, admin, agent, database):
    recorder = EventRecorder(app.extensions["centrala.bus"])
    api = app.test_client()
    auth, agent_auth = _token(database, "boss@example.com"), _token(database, "agent@example.com")
    assert api.get("/api/v1/trunks", headers=agent_auth).status_code == 403
    assert api.post("/api/v1/numbers", json={}, headers=agent_auth).status_code == 403
    assert api.get("/api/v1/trunks").status_code == 401
    r = api.post("/api/v1/trunks", json={"name": "gw1", "host": "127.0.0.1", "port": 5070, "username": "u",
                                         "password": "p4ss"}, headers=auth)
    assert r.status_code == 201, r.json
    trunk = r.json
    assert trunk["has_password"] is True and "password" not in trunk and trunk["numbers"] == 0
    recorder.wait(events.SETTINGS_CHANGED, 1, area="trunks", trunk="gw1")
    r = api.post("/api/v1/trunks", json={"name": "gw2", "host": "127.0.0.1", "port": 5070}, headers=auth)
    assert r.status_code == 409 and r.json["error"]["field"] == "host"
    r = api.post("/api/v1/trunks", json={"name": "gw2", "host": "127.0.0.1", "port": "x"}, headers=auth)
    assert r.status_code == 422 and r.json["error"]["field"] == "port"
    for body in ({"name": "gw3", "host": ["x"]}, {"name": 5}, {"name": "gw3", "host": "h", "enabled": "yes"}):
        r = api.post("/api/v1/trunks", json=body, headers=auth)
        assert r.status_code == 422 and r.json["error"]["field"] in ("name", "host", "enabled"), (body, r.json)
    assert api.post("/api/v1/trunks", data="x", headers=auth).status_code == 400
    r = api.patch(f"/api/v1/trunks/{trunk['id']}", json={"port": 5071}, headers=auth)
    assert r.status_code == 200 and r.json["port"] == 5071 and r.json["has_password"] is True
    r = api.patch(f"/api/v1/trunks/{trunk['id']}", json={"password": None}, headers=auth)
    assert r.json["has_password"] is False
    # numbers
    r = api.post("/api/v1/numbers", json={"number": "48221234567", "trunk": "gw1", "record_calls": True,
                                          "hours": {"mon": ["08:00", "16:00"], "sun": None}}, headers=auth)
    assert r.status_code == 201, r.json
    num = r.json
    assert (num["number"], num["trunk"], num["kind"], num["record_calls"]) == ("+48221234567", "gw1", "gsm", True)
    assert num["hours"]["mon"] == ["08:00", "16:00"] and num["hours"]["tue"] is None
    recorder.wait(events.SETTINGS_CHANGED, 1, area="numbers", number="+48221234567")
    for body, field in [({"number": "+48221234567", "trunk": "gw1"}, "number"),
                        ({"number": "+48221234568", "trunk": "nope"}, "trunk"),
                        ({"number": "+48221234568", "trunk": "gw1", "kind": "voip"}, "kind"),
                        ({"number": "+48221234568", "trunk": "gw1", "hours": {"mon": ["9", "17"]}}, "hours"),
                        ({"number": "+48221234568", "trunk": "gw1", "record_calls": "yes"}, "record_calls")]:
        r = api.post("/api/v1/numbers", json=body, headers=auth)
        assert r.status_code in (409, 422) and r.json["error"]["field"] == field, (body, r.json)
    r = api.patch(f"/api/v1/numbers/{num['id']}", json={"hours": None, "record_calls": None, "label": "Main"},
                  headers=auth)
    assert r.status_code == 200 and (r.json["hours"], r.json["record_calls"], r.json["label"]) == (None, None, "Main")
    assert [n["number"] for n in api.get("/api/v1/numbers", headers=auth).json["items"]] == ["+48221234567"]
    assert api.get("/api/v1/trunks", headers=auth).json["items"][0]["numbers"] == 1
    r = api.delete(f"/api/v1/trunks/{trunk['id']}", headers=auth)
    assert r.status_code == 409 and r.json["error"]["reason"] == "trunk_in_use"
    assert api.delete(f"/api/v1/numbers/{num['id']}", headers=auth).status_code == 204
    assert api.delete(f"/api/v1/trunks/{trunk['id']}", headers=auth).status_code == 204
    assert api.get(f"/api/v1/trunks/{trunk['id']}", headers=auth).status_code == 404
    paths = api.get("/api/v1/openapi.json").json["paths"]
    assert {"/trunks", "/trunks/{trunk_id}", "/numbers", "/numbers/{number_id}"} <= set(paths)


def test_inbound_number_policy_reads_hours_recording_and_switches(database, web_settings):
    from centrala import account

    with database.session() as s:
        t = telephony.create_trunk(s, "carrier", "192.0.2.30", 5060)
        telephony.create_number(s, "+48221234567", t, record_calls=False,
                                hours={"wed": ["08:00", "16:00"]})
        telephony.create_number(s, "+48221234568", t)
    wed_noon = datetime(2026, 1, 14, 11, 0, tzinfo=timezone.utc)
    wed_night = datetime(2026, 1, 14, 20, 0, tzinfo=timezone.utc)
    p = telephony.inbound_number(database, web_settings, "48221234567", wed_noon)
    assert (p.accepted, p.e164, p.open_now, p.record, p.inbound_enabled) == (True, "+48221234567", True, False, True)
    assert telephony.inbound_number(database, web_settings, "221234567", wed_night).open_now is False
    other = telephony.inbound_number(database, web_settings, "+48221234568", wed_night)
    assert other.open_now is True and other.record is None
    assert telephony.inbound_number(database, web_settings, "+48221234569").accepted is False
    with database.session() as s:
        account.save(s, {"voice_inbound": "", "timezone": "America/New_York"})
    p = telephony.inbound_number(database, web_settings, "48221234567", wed_night)  # 15:00 in New York
    assert p.inbound_enabled is False and p.open_now is True


def test_per_number_recording_is_rendered_as_dialplan_choices(database, web_settings):
    render.render_from_db(web_settings, "/mods", database)
    ext = (web_settings.asterisk_dir / "etc" / "extensions.conf").read_text()
    assert "exten => inbound,1,Set(CENTRALA_RECORD=0)" in ext   # the account-wide default: off
    assert "exten => inbound-record,1,Set(CENTRALA_RECORD=1)" in ext
    assert "exten => inbound-norecord,1,Set(CENTRALA_RECORD=0)" in ext
    from pbx.stasis import queue_extension

    assert [queue_extension(v) for v in (None, True, False)] == ["inbound", "inbound-record", "inbound-norecord"]


def test_general_switches_and_time_zone(app, admin, database, web_settings, make_user):
    from centrala.account import effective

    page = admin.get("/settings/voice/general").get_data(as_text=True)
    assert 'id="voice_inbound"' in page and 'value="Europe/Warsaw" selected' in page
    base = {"ring_timeout": "30", "wrapup_seconds": "0", "voicemail_max_seconds": "120", "voice_inbound": "1"}
    r = post(admin, "/settings/voice/general", {**base, "timezone": "Mars/Olympus"}, page="/settings/voice/general")
    assert r.status_code == 400 and "Choose a time zone from the list." in r.get_data(as_text=True)
    assert post(admin, "/settings/voice/general", {**base, "timezone": "Europe/London"},
                page="/settings/voice/general").status_code == 302
    s = effective(web_settings, database)
    assert (s.voice_inbound, s.voice_outbound, s.timezone) == (True, False, "Europe/London")
    # outbound off: click-to-call is refused with a clear error, in the API and in the panel
    with database.session() as ses:
        t = telephony.create_trunk(ses, "carrier", "192.0.2.40", 5060)
        telephony.create_number(ses, "+48221234567", t)
    r = app.test_client().post("/api/v1/calls", json={"number": "+48600100200"},
                               headers=_token(database, "boss@example.com"))
    assert r.status_code == 422 and "outbound calls are switched off" in r.json["error"]["message"]
    r = admin.post("/calls", json={"number": "+48600100200"},
                   headers={"X-CSRFToken": _csrf(admin)})
    assert r.status_code == 422 and r.json["error"] == "Outbound calls are switched off in Settings / Voice."


def _csrf(client):
    from .web_helpers import csrf

    return csrf(client, "/settings/voice/general")
