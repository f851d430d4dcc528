"""Trunks and numbers added through the REST API reach Asterisk; per-number recording; business
hours and the inbound switch send callers to the answering machine (VOI-1, VOI-5, VOI-6, BEY-5).

Real Asterisk, real SIP: the caller is a SIPp behind the trunk, agents are SIPp softphones
(see test_queue.py).
"""
from __future__ import annotations

import subprocess
from datetime import datetime, timedelta

import pytest

from agents import events
from agents.inbound import DAYS, zone
from centrala.models import User
from centrala.tokens import create_api_token
from centrala.users import create_user

from ..helpers import free_media_port, free_port, wait_for
from .test_queue import SIPP, agents, ami_command, communication, write_caller_audio  # noqa: F401 (fixture)

pytestmark = pytest.mark.asterisk


def call_from(settings, tmp_path, port: int, number: str, talk_ms: int):
    """A caller on the trunk at 127.0.0.1:<port> dials ``number`` (as the carrier sends it)."""
    write_caller_audio(tmp_path / "caller.alaw")
    return subprocess.Popen(
        ["sipp", "-sf", str(SIPP / "uac_talk.xml"), "-s", number, f"127.0.0.1:{settings.sip_port}",
         "-i", "127.0.0.1", "-p", str(port), "-mi", "127.0.0.1", "-mp", str(free_media_port()), "-m", "1",
         "-d", str(talk_ms), "-nostdin", "-timeout", "25", "-timeout_error", "-trace_err",
         "-error_file", str(tmp_path / "caller.err")],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.fixture
def admin_api(pbx_instance, controller):
    """An HTTP client of the web app on the controller's event bus, and an admin's bearer header."""
    from web import create_app

    settings, db, runtime = pbx_instance
    ctl, recorder = controller
    app = create_app(settings, db=db, bus=ctl.bus, start_background=False)
    with db.session() as s:
        u = s.query(User).filter_by(email="numbers-admin@example.com").first() or create_user(
            s, "numbers-admin@example.com", "Nina Numbers", "admin", "admin password", channels=[])
        token = create_api_token(s, u, "test")
    return app.test_client(), {"Authorization": f"Bearer {token}"}


def api_trunk_and_number(pbx_instance, admin_api, number: str, **number_fields) -> tuple[int, str]:
    """Add a trunk at a fresh loopback port and a number on it through the API; wait until the
    controller (woken by SETTINGS_CHANGED) has loaded the trunk into Asterisk."""
    settings = pbx_instance[0]
    api, auth = admin_api
    port = free_port()
    name = f"api{port}"
    r = api.post("/api/v1/trunks", json={"name": name, "host": "127.0.0.1", "port": port}, headers=auth)
    assert r.status_code == 201, r.json
    r = api.post("/api/v1/numbers", json={"number": number, "trunk": name, **number_fields}, headers=auth)
    assert r.status_code == 201, r.json
    wait_for(lambda: f"trunk-{name}" in ami_command(settings, "pjsip show identifies"), 10, interval=0.1,
             what="trunk added through the API loaded by Asterisk")
    return port, name


def test_trunk_added_through_the_api_carries_calls_to_the_queue(pbx_instance, controller, agents, admin_api,
                                                                 tmp_path):
    """The trunk and number exist only through the API; the number's own switch turns recording
    off although the account records every call (CENTRALA_RECORD_CALLS=1 in these tests)."""
    settings, db, runtime = pbx_instance
    assert settings.record_calls is True
    ctl, recorder = controller
    port, name = api_trunk_and_number(pbx_instance, admin_api, "+48221234580", record_calls=False)
    ann = agents("api-trunk-ann@example.com", "Ann Trunk")
    ann.set_status("online")
    wait_for(lambda: ctl.members.get(f"PJSIP/{ann.username}") is False, 2, what="Ann in the queue")
    caller = call_from(settings, tmp_path, port, "48221234580", talk_ms=5000)
    out, _ = caller.communicate(timeout=60)
    assert caller.returncode == 0, out[-2000:]
    assert ann.finish() == 0, "the agent's softphone did not answer"
    entered = recorder.wait(events.CALL_ENTERED, 5, number="48221234580")
    logged = recorder.wait(events.CALL_LOGGED, 10, call_id=entered.data["call_id"])
    row = communication(pbx_instance, logged.data["communication_id"])
    assert (row.outcome, row.agent_id, row.our_number, row.trunk) == ("answered", ann.user_id, "+48221234580", name)
    assert row.recording is None
    assert not (settings.recordings_dir / "calls" / f"{entered.data['call_id']}.wav").exists()


def test_number_closed_now_sends_the_caller_to_the_answering_machine(pbx_instance, controller, agents, admin_api,
                                                                     tmp_path):
    settings, db, runtime = pbx_instance
    ctl, recorder = controller
    # open only on the weekday three days from now (Europe/Warsaw): closed at this moment
    day = DAYS[(datetime.now(zone("Europe/Warsaw")) + timedelta(days=3)).weekday()]
    port, _ = api_trunk_and_number(pbx_instance, admin_api, "+48221234581", hours={day: ["08:00", "16:00"]})
    bob = agents("closed-bob@example.com", "Bob Online", answer=False)
    bob.set_status("online")
    wait_for(lambda: ctl.members.get(f"PJSIP/{bob.username}") is False, 2, what="Bob in the queue")
    caller = call_from(settings, tmp_path, port, "48221234581", talk_ms=10000)
    out, _ = caller.communicate(timeout=60)
    assert caller.returncode == 0, out[-2000:]
    vm = recorder.wait(events.VOICEMAIL_RECEIVED, 15)
    row = communication(pbx_instance, vm.data["communication_id"])
    assert (row.outcome, row.our_number, row.agents_rung) == ("voicemail", "+48221234581", [])
    assert (settings.data_dir / row.recording).stat().st_size > 44
    assert bob.uas.poll() is None, "an agent was rung outside business hours"


def test_inbound_channel_switched_off_goes_to_the_answering_machine(pbx_instance, controller, agents, admin_api,
                                                                     tmp_path):
    from centrala import account

    settings, db, runtime = pbx_instance
    ctl, recorder = controller
    port, _ = api_trunk_and_number(pbx_instance, admin_api, "+48221234582")
    cid = agents("off-cid@example.com", "Cid Online", answer=False)
    cid.set_status("online")
    wait_for(lambda: ctl.members.get(f"PJSIP/{cid.username}") is False, 2, what="Cid in the queue")
    with db.session() as s:
        account.save(s, {"voice_inbound": "0"})
    ctl.bus.publish(events.SETTINGS_CHANGED, area="voice", keys=["voice_inbound"])   # as Settings does
    try:
        caller = call_from(settings, tmp_path, port, "48221234582", talk_ms=10000)
        out, _ = caller.communicate(timeout=60)
        assert caller.returncode == 0, out[-2000:]
        vm = recorder.wait(events.VOICEMAIL_RECEIVED, 15)
        row = communication(pbx_instance, vm.data["communication_id"])
        assert (row.outcome, row.our_number, row.agents_rung) == ("voicemail", "+48221234582", [])
        assert cid.uas.poll() is None, "an agent was rung with inbound calls switched off"
    finally:
        with db.session() as s:
            account.save(s, {"voice_inbound": "1"})
        ctl.bus.publish(events.SETTINGS_CHANGED, area="voice", keys=["voice_inbound"])


def test_click_to_call_from_a_number_that_records(pbx_instance, controller, agents, admin_api, tmp_path):
    """VOI-5 outbound: the number's own switch travels with the Originate (CENTRALA_RECORD) and
    the customer sees that number (uas_customer_83.xml checks the From header)."""
    import wave

    from centrala.models import Communication

    settings, db, runtime = pbx_instance
    ctl, recorder = controller
    cust_port, _ = api_trunk_and_number(pbx_instance, admin_api, "+48221234583", record_calls=True)
    ann = agents("rec-ann@example.com", "Ann Records")
    with db.session() as s:
        token = create_api_token(s, s.get(User, ann.user_id), "test")
    customer = subprocess.Popen(
        ["sipp", "-sf", str(SIPP / "uas_customer_83.xml"), "-i", "127.0.0.1", "-p", str(cust_port),
         "-mi", "127.0.0.1", "-mp", str(free_media_port()), "-m", "1", "-nostdin", "-timeout", "30", "-timeout_error",
         "-trace_err", "-error_file", str(tmp_path / "customer.err")],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    api, _ = admin_api
    r = api.post("/api/v1/calls", json={"number": "+48 600 100 201", "from": "+48221234583"},
                 headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 202, r.json
    comm_id = r.json["id"]
    assert ann.finish(30) == 0, "the agent's softphone was not rung first"
    out, _ = customer.communicate(timeout=30)
    assert customer.returncode == 0, out[-2000:]
    logged = recorder.wait(events.CALL_LOGGED, 10, communication_id=comm_id)
    assert logged.data["outcome"] == "answered"
    with db.session() as s:
        row = s.get(Communication, comm_id)
        assert row.our_number == "+48221234583" and row.recording, row.recording
        with wave.open(str(settings.data_dir / row.recording)) as w:
            assert w.getnframes() / w.getframerate() > 0.5


def test_default_region_changed_in_the_panel_reaches_inbound_calls_at_once(pbx_instance, controller, admin_api,
                                                                          tmp_path):
    """CON-4: a number the carrier sends without a country code is read in Settings / General's
    region. The controller caches its routing facts; saving the region in the panel publishes
    SETTINGS_CHANGED and the very next call uses it — no restart."""
    from ..web_helpers import csrf, login

    settings, db, runtime = pbx_instance
    ctl, recorder = controller
    port, name = api_trunk_and_number(pbx_instance, admin_api, "+4930901820")      # a Berlin number
    web, _ = admin_api
    login(web, "numbers-admin@example.com", "admin password")

    def inbound(scenario_number: str):
        proc = subprocess.run(
            ["sipp", "-sf", str(SIPP / "uac_inbound.xml"), "-s", scenario_number, f"127.0.0.1:{settings.sip_port}",
             "-i", "127.0.0.1", "-p", str(port), "-mi", "127.0.0.1", "-mp", str(free_media_port()), "-m", "1",
             "-nostdin", "-timeout", "30", "-timeout_error", "-trace_err", "-error_file", str(tmp_path / "c.err")],
            cwd=tmp_path, capture_output=True, text=True, timeout=60)
        return proc

    try:
        # Poland (the default): 030901820 is no Polish number, so not ours -> "service unavailable"
        ctl._load_facts()                       # the facts are cached before the change
        assert inbound("030901820").returncode == 0
        entered = recorder.wait(events.CALL_ENTERED, 5, number="030901820")
        logged = recorder.wait(events.CALL_LOGGED, 10, call_id=entered.data["call_id"])
        row = communication(pbx_instance, logged.data["communication_id"])
        assert (row.outcome, row.our_number) == ("failed", "030901820")
        # Germany, saved in the panel: the same digits are our Berlin number now
        r = web.post("/settings/general/region", data={"csrf_token": csrf(web, "/settings/general"),
                                                       "default_region": "DE"})
        assert r.status_code == 302
        recorder.wait(events.SETTINGS_CHANGED, 5, area="general")
        caller = call_from(settings, tmp_path, port, "030901820", talk_ms=10000)
        out, _ = caller.communicate(timeout=60)
        assert caller.returncode == 0, out[-2000:]
        vm = recorder.wait(events.VOICEMAIL_RECEIVED, 15)     # nobody Online: the answering machine
        row = communication(pbx_instance, vm.data["communication_id"])
        assert (row.outcome, row.our_number, row.trunk) == ("voicemail", "+4930901820", name)
    finally:
        web.post("/settings/general/region", data={"csrf_token": csrf(web, "/settings/general"),
                                                   "default_region": "PL"})
