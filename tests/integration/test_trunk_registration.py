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

from ..helpers import free_port, wait_for
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
