"""Trunks that register with the carrier (VOI-1: inbound identified by address or registration).

Real Asterisk, real SIP: the carrier's registrar is a SIPp (tests/sipp/registrar.xml) on a loopback
port; it challenges Asterisk's REGISTER, checks the digest with the account it expects and answers
200 OK (or 403 with wrong credentials).  The trunk is added through the REST API; its state is read
back through the REST API, as the pbx controller stores it.
"""
from __future__ import annotations

import re
import subprocess

import pytest

from ..helpers import free_media_port, free_port, wait_for
from .test_numbers import admin_api  # noqa: F401 (fixture)
from .test_queue import SIPP, agents, ami_command, communication, write_caller_audio  # noqa: F401 (fixture)

pytestmark = pytest.mark.asterisk


def registrar(tmp_path, port: int, user: str, secret: str) -> subprocess.Popen:
    """The carrier's registrar on 127.0.0.1:<port>, expecting ``user``/``secret``."""
    return subprocess.Popen(
        ["sipp", "-sf", str(SIPP / "registrar.xml"), "-i", "127.0.0.1", "-p", str(port), "-m", "1",
         "-key", "user", user, "-key", "secret", secret, "-nostdin", "-timeout", "20", "-timeout_error",
         "-trace_err", "-error_file", str(tmp_path / f"registrar{port}.err"),
         "-trace_logs", "-log_file", str(tmp_path / f"registrar{port}.log")],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def registration_of(api, auth, name: str):
    items = {t["name"]: t for t in api.get("/api/v1/trunks", headers=auth).json["items"]}
    return items[name]["registration"]


def add_registering_trunk(api, auth, name: str, port: int, username: str, password: str) -> int:
    r = api.post("/api/v1/trunks", json={"name": name, "host": "127.0.0.1", "port": port, "username": username,
                                         "password": password, "register": True}, headers=auth)
    assert r.status_code == 201, r.json
    assert r.json["registration"] == "unregistered"
    return r.json["id"]


def test_trunk_registers_with_the_carrier_and_shows_registered(pbx_instance, controller, admin_api, tmp_path):
    settings, db, runtime = pbx_instance
    api, auth = admin_api
    port = free_port()
    carrier = registrar(tmp_path, port, "48221234590", "carrier-s3cret")
    trunk_id = add_registering_trunk(api, auth, f"reg{port}", port, "48221234590", "carrier-s3cret")
    try:
        out, _ = carrier.communicate(timeout=30)
        assert carrier.returncode == 0, out[-2000:]   # challenged, digest verified, 200 OK sent
        wait_for(lambda: registration_of(api, auth, f"reg{port}") == "registered", 10, interval=0.1,
                 what="trunk shown registered through the API")
        # the registration carries the "line" parameter inbound calls are identified by, and the
        # trunk is still identified by its address and port too
        log = (tmp_path / f"registrar{port}.log").read_text()
        assert re.search(r"CONTACT sip:48221234590@127\.0\.0\.1:\d+;line=\w+", log), log
        assert f"127.0.0.1:{port}" in ami_command(settings, f"pjsip show identify trunk-reg{port}")
        assert "Registered" in ami_command(settings, f"pjsip show registration trunk-reg{port}-reg")
    finally:
        if carrier.poll() is None:
            carrier.kill()
        api.delete(f"/api/v1/trunks/{trunk_id}", headers=auth)


def call_over(settings, tmp_path, number: str, line: str | None, talk_ms: int) -> subprocess.Popen:
    """The carrier sends a call from 127.0.0.1 at a port that is no trunk's address, to the
    registered Contact (with its line parameter, when given)."""
    write_caller_audio(tmp_path / "caller.alaw")
    scenario = ["-sf", str(SIPP / "uac_line.xml"), "-key", "line", line] if line else ["-sf", str(SIPP / "uac_talk.xml")]
    return subprocess.Popen(
        ["sipp", *scenario, "-s", number, f"127.0.0.1:{settings.sip_port}", "-i", "127.0.0.1", "-p", str(free_port()),
         "-mi", "127.0.0.1", "-mp", str(free_media_port()), "-m", "1", "-d", str(talk_ms), "-nostdin", "-timeout", "25",
         "-timeout_error", "-trace_err", "-error_file", str(tmp_path / f"caller-{line}.err")],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_call_over_the_registration_is_identified_as_the_trunk(pbx_instance, controller, agents, admin_api,
                                                                tmp_path):
    """The call comes from an address no trunk has: only the registration's line parameter tells
    Asterisk it is the trunk's.  Without it the same call is not taken (nobody is rung)."""
    from agents import events

    settings, db, runtime = pbx_instance
    ctl, recorder = controller
    api, auth = admin_api
    port, number = free_port(), "48221234592"
    name = f"line{port}"
    carrier = registrar(tmp_path, port, number, "line-s3cret")
    trunk_id = add_registering_trunk(api, auth, name, port, number, "line-s3cret")
    r = api.post("/api/v1/numbers", json={"number": "+" + number, "trunk": name}, headers=auth)
    assert r.status_code == 201, r.json
    try:
        out, _ = carrier.communicate(timeout=30)
        assert carrier.returncode == 0, out[-2000:]
        wait_for(lambda: registration_of(api, auth, name) == "registered", 10, interval=0.1, what="registered")
        line = re.search(r"CONTACT sip:\d+@[\d.]+:\d+;line=(\w+)", (tmp_path / f"registrar{port}.log").read_text())[1]
        ann = agents("line-ann@example.com", "Ann Line")
        ann.set_status("online")
        wait_for(lambda: ctl.members.get(f"PJSIP/{ann.username}") is False, 2, what="Ann in the queue")
        stranger = call_over(settings, tmp_path, number, None, talk_ms=1000)
        out, _ = stranger.communicate(timeout=40)
        assert stranger.returncode != 0, "a call from an unknown address without the line was accepted"
        assert not [e for e in recorder.events if e.name == events.CALL_ENTERED and e.data.get("number") == number]
        caller = call_over(settings, tmp_path, number, line, talk_ms=4000)
        out, _ = caller.communicate(timeout=60)
        assert caller.returncode == 0, out[-2000:]
        assert ann.finish() == 0, "the agent's softphone did not answer"
        entered = recorder.wait(events.CALL_ENTERED, 5, number=number)
        logged = recorder.wait(events.CALL_LOGGED, 10, call_id=entered.data["call_id"])
        row = communication(pbx_instance, logged.data["communication_id"])
        assert (row.outcome, row.agent_id, row.our_number, row.trunk) == ("answered", ann.user_id, "+" + number, name)
    finally:
        if carrier.poll() is None:
            carrier.kill()
        for n in api.get("/api/v1/numbers", headers=auth).json["items"]:
            if n["trunk"] == name:
                api.delete(f"/api/v1/numbers/{n['id']}", headers=auth)
        api.delete(f"/api/v1/trunks/{trunk_id}", headers=auth)


def test_wrong_password_at_the_carrier_shows_rejected(pbx_instance, controller, admin_api, tmp_path):
    settings, db, runtime = pbx_instance
    api, auth = admin_api
    port = free_port()
    carrier = registrar(tmp_path, port, "48221234591", "the-right-one")
    trunk_id = add_registering_trunk(api, auth, f"rej{port}", port, "48221234591", "a-wrong-one")
    try:
        out, _ = carrier.communicate(timeout=30)
        assert carrier.returncode != 0, out[-2000:]    # the registrar refused the digest (403)
        assert "CONTACT sip:48221234591@" in (tmp_path / f"registrar{port}.log").read_text()
        wait_for(lambda: registration_of(api, auth, f"rej{port}") == "rejected", 10, interval=0.1,
                 what="trunk shown rejected through the API")
    finally:
        if carrier.poll() is None:
            carrier.kill()
        api.delete(f"/api/v1/trunks/{trunk_id}", headers=auth)
