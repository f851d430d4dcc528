"""The console script as an operator uses it: ``centrala run``, ``centrala pbx ...``."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from ..helpers import instance_settings, settings_env, wait_for

pytestmark = pytest.mark.asterisk
CENTRALA = [sys.executable, "-m", "centrala.cli"]


def _env(settings):
    env = dict(os.environ)
    env.update({k: v for k, v in settings_env(settings).items() if v})
    env["CENTRALA_LOG_LEVEL"] = "WARNING"
    return env


def test_run_starts_everything_and_stops_what_it_started(tmp_path):
    settings = instance_settings(tmp_path / "data")
    log = open(tmp_path / "run.log", "w+")
    proc = subprocess.Popen(CENTRALA + ["run"], env=_env(settings), stdout=log, stderr=subprocess.STDOUT,
                            text=True)
    url = f"http://127.0.0.1:{settings.http_port}/healthz"

    def healthy():
        assert proc.poll() is None, Path(log.name).read_text()
        try:
            body = requests.get(url, timeout=2).json()
        except (requests.ConnectionError, requests.Timeout):   # the port is open while the worker boots
            return None
        return body if body["status"] == "ok" else None

    try:
        body = wait_for(healthy, 120, interval=0.2, what="centrala run healthy")
        assert body["checks"] == {"db": True, "ami": True, "ari": True}
        output = Path(log.name).read_text()
        assert "admin@centrala.local" in output and "password:" in output
        assert f"http://127.0.0.1:{settings.http_port}/" in output
        pid = int((settings.asterisk_dir / "asterisk.pid").read_text())
        status = subprocess.run(CENTRALA + ["pbx", "status", "--json"], env=_env(settings),
                                capture_output=True, text=True)
        assert status.returncode == 0 and f'"pid": {pid}' in status.stdout
    finally:
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(30)
    assert rc == 0, Path(log.name).read_text()
    def gone():
        try:
            return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] in "ZX"
        except FileNotFoundError:
            return True

    wait_for(gone, 5, what="Asterisk started by run to be stopped")
    status = subprocess.run(CENTRALA + ["pbx", "status"], env=_env(settings), capture_output=True, text=True)
    assert status.returncode == 3 and "running  False" in status.stdout
    # the administrator's password is printed on the first start only
    proc2 = subprocess.run(CENTRALA + ["user", "add", "--email", "a@example.com", "--name", "A"],
                           env=_env(settings), capture_output=True, text=True)
    assert proc2.returncode == 0 and "created agent a@example.com with password:" in proc2.stdout


def test_pbx_up_down_commands(tmp_path):
    settings = instance_settings(tmp_path / "data")
    env = _env(settings)
    up = subprocess.run(CENTRALA + ["pbx", "up"], env=env, capture_output=True, text=True, timeout=180)
    assert up.returncode == 0, up.stderr
    assert "is up" in up.stdout and f"AMI 127.0.0.1:{settings.ami_port}" in up.stdout
    again = subprocess.run(CENTRALA + ["pbx", "up"], env=env, capture_output=True, text=True, timeout=60)
    assert again.returncode == 0  # idempotent
    down = subprocess.run(CENTRALA + ["pbx", "down"], env=env, capture_output=True, text=True, timeout=60)
    assert down.returncode == 0 and "Asterisk stopped" in down.stdout
    down2 = subprocess.run(CENTRALA + ["pbx", "down"], env=env, capture_output=True, text=True, timeout=60)
    assert "was not running" in down2.stdout


def test_trunk_add_validation(tmp_path):
    settings = instance_settings(tmp_path / "data")
    env = _env(settings)
    ok = subprocess.run(CENTRALA + ["trunk", "add", "gsm1", "--host", "127.0.0.1", "--port", "5099"],
                        env=env, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    for args, msg in [(["gsm1", "--host", "127.0.0.2"], "already exists"),
                      (["gsm2", "--host", "127.0.0.1", "--port", "5099"], "already uses 127.0.0.1:5099"),
                      (["bad name", "--host", "h"], "letters, digits"),
                      (["g3", "--host", "h", "--port", "70000"], "between 1 and 65535")]:
        r = subprocess.run(CENTRALA + ["trunk", "add", *args], env=env, capture_output=True, text=True)
        assert r.returncode == 1 and msg in r.stderr, (args, r.stderr)


def test_number_add(tmp_path):
    settings = instance_settings(tmp_path / "data")
    env = _env(settings)
    run = lambda *a: subprocess.run(CENTRALA + list(a), env=env, capture_output=True, text=True)  # noqa: E731
    assert run("trunk", "add", "gsm1", "--host", "127.0.0.1", "--port", "5099").returncode == 0
    ok = run("number", "add", "22 123 45 67", "--trunk", "gsm1", "--kind", "gsm")
    assert ok.returncode == 0 and "+48221234567" in ok.stdout
    for args, msg in [(["+48221234567", "--trunk", "gsm1"], "already in the pool"),
                      (["0048221234567", "--trunk", "gsm1"], "already in the pool"),
                      (["123", "--trunk", "gsm1"], "not a valid phone number"),
                      (["+48221234568", "--trunk", "nope"], "no trunk named nope")]:
        r = run("number", "add", *args)
        assert r.returncode == 1 and msg in r.stderr, (args, r.stderr)


def test_number_add_reads_national_numbers_in_the_panels_region(tmp_path):
    """CON-4: the region chosen in Settings / General, not only CENTRALA_DEFAULT_REGION."""
    from centrala import account
    from centrala.db import Database

    settings = instance_settings(tmp_path / "data")
    env = _env(settings)
    run = lambda *a: subprocess.run(CENTRALA + list(a), env=env, capture_output=True, text=True)  # noqa: E731
    assert run("trunk", "add", "gsm1", "--host", "127.0.0.1", "--port", "5099").returncode == 0
    db = Database(settings.db_url)
    try:
        with db.session() as s:
            account.save(s, {"default_region": "DE"})
    finally:
        db.dispose()
    ok = run("number", "add", "030 901820", "--trunk", "gsm1")
    assert ok.returncode == 0 and "+4930901820" in ok.stdout, ok.stderr
