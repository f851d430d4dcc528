"""Against the real Asterisk: boot, loopback-only AMI/ARI, a SIPp call through the Stasis app,
and the controller surviving an Asterisk restart."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select

from agents import events
from centrala.db import Database
from centrala.models import Trunk
from pbx.amiprobe import AmiProbeError, ami_actions
from pbx.errors import PbxError
from pbx.runtime import AsteriskRuntime
from web import create_app

from ..helpers import free_media_port, free_port, instance_settings, wait_for

pytestmark = pytest.mark.asterisk
SIPP_DIR = Path(__file__).resolve().parents[1] / "sipp"


def _listening(port: int, proto: str = "tcp") -> set[str]:
    """Local addresses with a socket on ``port`` (TCP: listening; UDP: bound), from /proc."""
    found = set()
    for name in (f"/proc/net/{proto}", f"/proc/net/{proto}6"):
        for line in Path(name).read_text().splitlines()[1:]:
            cols = line.split()
            addr, state = cols[1], cols[3]
            host, p = addr.rsplit(":", 1)
            if int(p, 16) == port and (proto == "udp" or state == "0A"):
                found.add(host)
    return found


def test_asterisk_booted_clean_on_loopback(pbx_instance):
    settings, db, runtime = pbx_instance
    status = runtime.status()
    assert status["running"]
    assert int(re.match(r"(\d+)", status["version"]).group(1)) >= 20
    assert _listening(settings.ami_port) == {"0100007F"}     # 127.0.0.1 only
    assert _listening(settings.ari_port) == {"0100007F"}
    assert _listening(settings.sip_port, "udp") == {"0100007F"}
    boot_log = (settings.log_dir / "asterisk-console.log").read_text()
    errors = [l for l in boot_log.splitlines() if "ERROR[" in l]
    assert errors == [], errors


def test_ami_refuses_wrong_secret(pbx_instance):
    settings, _, _ = pbx_instance
    with pytest.raises(AmiProbeError, match="refused"):
        ami_actions("127.0.0.1", settings.ami_port, "centrala", "wrong", [{"Action": "Ping"}])


def test_ari_requires_credentials(pbx_instance):
    import requests

    settings, _, _ = pbx_instance
    url = f"http://127.0.0.1:{settings.ari_port}/ari/asterisk/info"
    assert requests.get(url, timeout=5).status_code == 401
    s = settings.secrets
    assert requests.get(url, auth=(s.ari_user, s.ari_password), timeout=5).status_code == 200


def test_controller_asks_asterisk_only_for_the_events_it_reads(pbx_instance, controller):
    """The application event filter is set on every (re)connect: the rest stays in Asterisk."""
    import requests

    from pbx.controller import ARI_EVENTS

    settings, _, _ = pbx_instance
    s = settings.secrets
    url = f"http://127.0.0.1:{settings.ari_port}/ari/applications/centrala"

    def allowed():
        app = requests.get(url, auth=(s.ari_user, s.ari_password), timeout=5).json()
        return {e["type"] for e in app.get("events_allowed", [])}
    wait_for(lambda: allowed() == set(ARI_EVENTS), 5, what="ARI event filter in place")


def test_call_to_a_number_not_in_the_pool_is_refused_politely(pbx_instance, controller, pooled_number, tmp_path):
    """The call enters the Stasis app, hears "service unavailable" and is ended normally."""
    settings, db, runtime = pbx_instance
    ctl, recorder = controller
    with db.session() as s:   # a port not already an earlier test's trunk (one database per session)
        used = {p for (p,) in s.execute(select(Trunk.port))}
        sipp_port = next(p for p in iter(free_port, None) if p not in used)
        s.add(Trunk(name=f"gw{sipp_port}", host="127.0.0.1", port=sipp_port, enabled=True))
    runtime.reload(db=db)   # (the controller may have rendered the new trunk already)
    # PJSIP applies the reload asynchronously: wait until the trunk's identify exists
    s = settings.secrets

    def trunk_loaded():
        out = ami_actions("127.0.0.1", settings.ami_port, s.ami_user, s.ami_password,
                          [{"Action": "Command", "Command": "pjsip show identifies"}])
        return f"trunk-gw{sipp_port}" in str(out)

    wait_for(trunk_loaded, 10, interval=0.1, what="trunk identify loaded")
    cmd = ["sipp", "-sf", str(SIPP_DIR / "uac_inbound.xml"), "-s", "48225550000",
           f"127.0.0.1:{settings.sip_port}", "-i", "127.0.0.1", "-p", str(sipp_port),
           "-mi", "127.0.0.1", "-mp", str(free_media_port()), "-m", "1", "-nostdin",
           "-timeout", "30", "-timeout_error", "-trace_err", "-error_file", str(tmp_path / "sipp.err")]
    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout[-2000:] + (tmp_path / "sipp.err").read_text(errors="replace")[-2000:]
    entered = recorder.wait(events.CALL_ENTERED, 5, number="48225550000")
    assert entered.data["caller"] == "48500100200"
    assert entered.data["args"] == ["inbound", "48225550000"]
    recorder.wait(events.CALL_ANSWERED, 5, call_id=entered.data["call_id"])
    ended = recorder.wait(events.CALL_ENDED, 10, call_id=entered.data["call_id"])
    assert ended.data["cause"] == 16, ended.data   # normal clearing
    assert len(ctl.calls) == 0
    logged = recorder.wait(events.CALL_LOGGED, 5, call_id=entered.data["call_id"])
    assert logged.data["outcome"] == "failed"


def test_health_degrades_when_asterisk_stops_and_recovers(pbx_instance, controller):
    settings, db, runtime = pbx_instance
    ctl, recorder = controller
    client = create_app(settings, db=db, start_background=False).test_client()
    wait_for(lambda: client.get("/healthz").json["status"] == "ok", 5, what="health ok")
    recorder.clear()
    runtime.down()
    wait_for(lambda: client.get("/healthz").json["checks"] == {"db": True, "ami": False, "ari": False},
             15, what="health degraded after Asterisk stopped")
    recorder.wait(events.PBX_DISCONNECTED, 1, link="ami")
    recorder.wait(events.PBX_DISCONNECTED, 1, link="ari")
    runtime.up(db=db)
    body = wait_for(lambda: (lambda b: b["status"] == "ok" and b)(client.get("/healthz").json), 30,
                    what="health ok after Asterisk restarted")
    assert body["asterisk"].startswith("22") or int(body["asterisk"].split(".")[0]) >= 20
    recorder.wait(events.PBX_CONNECTED, 1, link="ami")
    recorder.wait(events.PBX_CONNECTED, 1, link="ari")
    recorder.wait(events.PBX_RESYNCED, 5, link="ari")


def test_second_instance_runs_side_by_side(pbx_instance, tmp_path):
    first_settings, _, first = pbx_instance
    other = instance_settings(tmp_path / "other", f"sqlite:///{tmp_path / 'other.db'}")
    db = Database(other.db_url)
    db.upgrade()
    runtime = AsteriskRuntime(other)
    try:
        runtime.up(db=db)
        assert runtime.pid() != first.pid() and first.is_running()
        assert runtime.version() and first.version()
        assert runtime.settings.secrets.ami_password != first.settings.secrets.ami_password
    finally:
        assert runtime.down() is True
    assert not runtime.is_running() and first.is_running()
    db.dispose()


def test_port_in_use_is_a_clear_error(pbx_instance, tmp_path):
    first_settings, _, _ = pbx_instance
    clash = instance_settings(tmp_path / "clash", CENTRALA_AMI_PORT=first_settings.ami_port)
    with pytest.raises(PbxError, match=f"AMI port 127.0.0.1:{first_settings.ami_port} is already in use"):
        AsteriskRuntime(clash).up()
