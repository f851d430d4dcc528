"""Trunks that register with the carrier (VOI-1 "inbound identified by address or registration"):
one check in the service layer for Settings, the REST API and the CLI; the state the pbx
controller stores is shown in the Trunks list and in ``GET /api/v1/trunks``."""
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from centrala import telephony
from centrala.cli import main
from centrala.models import Trunk, User
from centrala.tokens import create_api_token
from pbx import render

from .web_helpers import post

pytestmark = pytest.mark.db


def _token(database, email):
    with database.session() as s:
        u = s.scalar(select(User).where(User.email == email))
        return {"Authorization": f"Bearer {create_api_token(s, u, 'test')}"}


def test_service_layer_needs_credentials_to_register(database):
    with database.session() as s:
        for username, password, field in ((None, None, "username"), ("acct", None, "password")):
            with pytest.raises(telephony.TelephonyError) as exc:
                telephony.create_trunk(s, "op", "192.0.2.1", 5060, username, password, register=True)
            assert (exc.value.code, exc.value.field) == ("register_credentials", field)
        t = telephony.create_trunk(s, "op", "192.0.2.1", 5060, "acct", "pw", register=True)
        assert telephony.trunk_json(t)["registration"] == "unregistered"
        # removing the password of a registering trunk is refused; switching registering off is not
        with pytest.raises(telephony.TelephonyError):
            telephony.update_trunk(s, t, password=None)
        telephony.update_trunk(s, t, register=False, password=None)
        assert (t.register, t.password, telephony.trunk_json(t)["registration"]) == (False, None, None)
        # a registering trunk keeps its stored password across edits that leave the field empty
        telephony.update_trunk(s, t, password="pw2", register=True)
        telephony.update_trunk(s, t, password="", host="192.0.2.2")
        assert (database.secret_box.open(t.password), t.host, t.register) == ("pw2", "192.0.2.2", True)


def test_store_registrations_maps_asterisk_states(database):
    with database.session() as s:
        telephony.create_trunk(s, "op", "192.0.2.1", 5060, "acct", "pw", register=True)
        telephony.create_trunk(s, "op2", "192.0.2.2", 5060, "acct", "pw", register=True)
        telephony.create_trunk(s, "gw", "192.0.2.3", 5060)
        telephony.create_trunk(s, "off", "192.0.2.4", 5060, "acct", "pw", register=True, enabled=False)
    assert sorted(telephony.store_registrations(database, {"op": "Registered", "gw": "Registered"})) == ["op", "op2"]
    assert telephony.store_registrations(database, {"op": "Registered"}) == []   # nothing changed, nothing written
    with database.session() as s:
        states = {t.name: telephony.registration_state(t) for t in s.scalars(select(Trunk))}
    assert states == {"op": "registered", "op2": "unregistered", "gw": None, "off": None}
    assert telephony.store_registrations(database, {"op": "Rejected", "op2": "Weird"}) == ["op"]
    with database.session() as s:
        assert s.scalar(select(Trunk).where(Trunk.name == "op")).registration == "rejected"
    # the controller lost AMI (or stops): nothing is vouched for any more
    assert telephony.store_registrations(database, {}) == ["op"]
    with database.session() as s:
        assert {t.name: telephony.registration_state(t) for t in s.scalars(select(Trunk))}["op"] == "unregistered"


def test_registering_trunk_rendered_only_while_enabled(database, web_settings):
    with database.session() as s:
        t = telephony.create_trunk(s, "op", "192.0.2.1", 5070, "48221234567", "pw", register=True)
    render.render_from_db(web_settings, "/mods", database)
    pjsip = (web_settings.asterisk_dir / "etc" / "pjsip.conf").read_text()
    assert "[trunk-op-reg]" in pjsip and "server_uri = sip:192.0.2.1:5070" in pjsip
    assert "endpoint = trunk-op" in pjsip and "match = 192.0.2.1:5070" in pjsip
    with database.session() as s:
        telephony.update_trunk(s, s.get(Trunk, t.id), enabled=False)
    render.render_from_db(web_settings, "/mods", database)
    assert "trunk-op" not in (web_settings.asterisk_dir / "etc" / "pjsip.conf").read_text()


def test_settings_form_and_live_state_in_the_list(app, admin, agent, database):
    form = "/settings/voice/trunks/new"
    html = admin.get(form).get_data(as_text=True)
    assert 'name="register"' in html and "Register with the carrier" in html
    r = post(admin, form, {"name": "op", "host": "192.0.2.30", "port": "5060", "username": "acct",
                           "register": "1", "enabled": "1"}, page=form)
    assert r.status_code == 400 and "enter the user name and password it gave you" in r.get_data(as_text=True)
    assert 'id="register" checked' in r.get_data(as_text=True)   # nothing the admin typed is lost
    with database.session() as s:
        assert s.scalar(select(Trunk)) is None
    r = post(admin, form, {"name": "op", "host": "192.0.2.30", "port": "5060", "username": "acct",
                           "password": "s3cret", "register": "1", "enabled": "1"}, page=form)
    assert r.status_code == 303
    listing = admin.get("/settings/voice/trunks").get_data(as_text=True)
    assert "pill-reg-unregistered" in listing and "Trying…" in listing and "trunkreg.js" in listing
    telephony.store_registrations(database, {"op": "Registered"})
    listing = admin.get("/settings/voice/trunks").get_data(as_text=True)
    assert "pill-reg-registered" in listing and ">Registered<" in listing
    with database.session() as s:
        trunk_id = s.scalar(select(Trunk.id))
    live = admin.get("/settings/voice/trunks/registrations")
    assert live.json == {str(trunk_id): {"state": "registered", "label": "Registered"}}
    assert agent.get("/settings/voice/trunks/registrations").status_code == 403
    # the edit form keeps the switch; unticking it stops registering
    edit = f"/settings/voice/trunks/{trunk_id}"
    assert 'id="register" checked' in admin.get(edit).get_data(as_text=True)
    assert post(admin, edit, {"name": "op", "host": "192.0.2.30", "port": "5060", "username": "acct",
                              "password": "", "enabled": "1"}, page=edit).status_code == 303
    with database.session() as s:
        t = s.get(Trunk, trunk_id)
        assert (t.register, t.registration, database.secret_box.open(t.password)) == (False, None, "s3cret")


def test_api_register_and_registration_state(app, admin, database):
    api = app.test_client()
    auth = _token(database, "boss@example.com")
    r = api.post("/api/v1/trunks", json={"name": "op", "host": "192.0.2.40", "register": True}, headers=auth)
    assert r.status_code == 422 and r.json["error"]["reason"] == "register_credentials"
    r = api.post("/api/v1/trunks", json={"name": "op", "host": "192.0.2.40", "register": "yes",
                                         "username": "a", "password": "b"}, headers=auth)
    assert r.status_code == 422 and r.json["error"]["field"] == "register"
    r = api.post("/api/v1/trunks", json={"name": "op", "host": "192.0.2.40", "username": "acct", "password": "pw",
                                         "register": True}, headers=auth)
    assert r.status_code == 201 and (r.json["register"], r.json["registration"]) == (True, "unregistered")
    trunk_id = r.json["id"]
    r = api.post("/api/v1/trunks", json={"name": "gw", "host": "192.0.2.41"}, headers=auth)
    assert (r.json["register"], r.json["registration"]) == (False, None)
    telephony.store_registrations(database, {"op": "Rejected"})
    items = {t["name"]: t for t in api.get("/api/v1/trunks", headers=auth).json["items"]}
    assert items["op"]["registration"] == "rejected" and items["gw"]["registration"] is None
    r = api.patch(f"/api/v1/trunks/{trunk_id}", json={"password": None}, headers=auth)
    assert r.status_code == 422 and r.json["error"]["reason"] == "register_credentials"
    r = api.patch(f"/api/v1/trunks/{trunk_id}", json={"password": "new-pw"}, headers=auth)
    assert r.status_code == 200 and r.json["registration"] == "unregistered"   # new credentials, state unknown
    r = api.patch(f"/api/v1/trunks/{trunk_id}", json={"register": False}, headers=auth)
    assert (r.json["register"], r.json["registration"]) == (False, None)
    doc = api.get("/api/v1/openapi.json").json
    props = doc["components"]["schemas"]["Trunk"]["properties"]
    assert "registered" in props["registration"]["enum"] and "register" in doc["components"]["schemas"]["TrunkInput"]["properties"]


def test_cli_trunk_add_register(settings, database):
    env = {"CENTRALA_DATA_DIR": str(settings.data_dir), "CENTRALA_DATABASE_URL": settings.db_url,
           "CENTRALA_LOG_LEVEL": "WARNING"}
    runner = CliRunner()
    r = runner.invoke(main, ["trunk", "add", "op", "--host", "192.0.2.50", "--username", "acct", "--register"], env=env)
    assert r.exit_code == 1 and "needs a user name and a password" in r.output
    r = runner.invoke(main, ["trunk", "add", "op", "--host", "192.0.2.50", "--username", "acct",
                             "--password", "pw", "--register"], env=env)
    assert r.exit_code == 0 and "registering" in r.output, r.output
    with database.session() as s:
        t = s.scalar(select(Trunk))
        assert (t.name, t.register, t.username) == ("op", True, "acct")
