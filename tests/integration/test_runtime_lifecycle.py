"""Starting and stopping the local Asterisk (issue 12, defects 6 and 12b): a failed start stops
what it started, liveness never reads "exited" while the exec chain is still running, and
``down`` finds an Asterisk of its data dir even when the pid file no longer names it."""
from __future__ import annotations

import dataclasses
import threading

import pytest

from centrala.db import Database
from pbx.errors import PbxError
from pbx.runtime import AsteriskRuntime, asterisks_under, processes_mentioning

from ..helpers import instance_settings

pytestmark = pytest.mark.asterisk


@pytest.fixture
def instance(tmp_path):
    settings = instance_settings(tmp_path / "data", f"sqlite:///{tmp_path / 'rt.db'}")
    db = Database.for_settings(settings)
    db.upgrade()
    runtime = AsteriskRuntime(settings)
    yield settings, db, runtime
    runtime.down()
    db.dispose()
    assert asterisks_under(tmp_path) == []


def _no_asterisk_left(runtime: AsteriskRuntime) -> None:
    conf = str(runtime.paths.asterisk_conf)
    assert processes_mentioning(conf) == [], f"an Asterisk of {conf} is still running"
    assert not runtime.pid_file.exists()
    runtime._check_ports_free()   # AMI, ARI and SIP ports are free again


def test_refused_ami_login_after_spawn_stops_asterisk(instance, monkeypatch):
    """Asterisk boots but the controller's credentials do not match: the start fails at once
    with a clear message and the Asterisk it spawned is stopped (it held the ports before)."""
    settings, db, runtime = instance
    real = settings.secrets
    monkeypatch.setattr(runtime, "_secrets", lambda: dataclasses.replace(real, ami_password="not-the-secret"))
    with pytest.raises(PbxError, match="AMI login refused"):
        runtime.up(db=db, timeout=60)
    _no_asterisk_left(runtime)


def test_start_that_times_out_stops_the_booting_asterisk(instance):
    """A boot slower than the deadline (here: an impossible one) is a failed start: what was
    spawned is stopped, at whatever step of unshare → sh → chroot → asterisk it was."""
    settings, db, runtime = instance
    with pytest.raises(PbxError, match="did not finish booting in time|exited during start-up"):
        runtime.up(db=db, timeout=0.05)
    _no_asterisk_left(runtime)
    assert runtime.up(db=db)   # and a normal start works afterwards


def test_liveness_never_reads_exited_during_the_exec_chain(instance):
    """From spawn to fully booted, both the starter (by its process handle) and another process
    reading the pid file (``centrala pbx status``) see Asterisk alive, polled as fast as they can."""
    settings, db, runtime = instance
    observer = AsteriskRuntime(settings)   # knows only the pid file, like another process
    for _round in range(2):
        result: dict = {}
        starter = threading.Thread(target=lambda: result.setdefault("version", runtime.up(db=db)))
        starter.start()
        polls, dead = 0, []
        while starter.is_alive():
            proc = runtime.process
            try:
                named = int(runtime.pid_file.read_text())
            except (OSError, ValueError):
                continue
            if proc is None or proc.pid != named:
                continue   # not spawned yet (or the previous round's handle)
            polls += 1
            if observer.pid() != named:
                dead.append("pid file reader")
            if not runtime._alive(named):
                dead.append("process handle")
        starter.join()
        assert result.get("version"), "Asterisk did not start"
        assert observer.is_running() and observer.pid() == runtime.process.pid
        assert polls > 50 and dead == [], f"{len(dead)} of {polls} polls saw Asterisk dead while it booted: {set(dead)}"
        assert runtime.down()
        _no_asterisk_left(runtime)


def test_down_stops_an_asterisk_the_pid_file_lost(instance):
    """A restart or retry that lost track of its Asterisk (pid file gone or overwritten) used to
    leave it running after ``down``; ``down`` finds it by its configuration path."""
    settings, db, runtime = instance
    runtime.up(db=db)
    pid = runtime.process.pid
    runtime.pid_file.unlink()
    other = AsteriskRuntime(settings)   # a new process: no handle, no pid file
    assert other.pid() is None and other.stray_pids() == [pid]
    with pytest.raises(PbxError, match=f"no longer tracked \\(pid {pid}\\).*centrala pbx down"):
        other.up(db=db)
    assert other.down() is True
    _no_asterisk_left(other)


def test_run_that_cannot_serve_leaves_nothing_running(tmp_path):
    """``centrala run`` whose web port is taken says so and starts no Asterisk (before, it
    started Asterisk first and could leave it behind)."""
    import os
    import socket
    import subprocess
    import sys

    from ..helpers import settings_env

    settings = instance_settings(tmp_path / "data")
    env = {**os.environ, **{k: v for k, v in settings_env(settings).items() if v}, "CENTRALA_LOG_LEVEL": "WARNING"}
    with socket.socket() as held:
        held.bind(("127.0.0.1", settings.http_port))
        held.listen()
        r = subprocess.run([sys.executable, "-m", "centrala.cli", "run"], env=env, capture_output=True, text=True,
                           timeout=120)
    assert r.returncode == 1 and f"cannot listen on 127.0.0.1:{settings.http_port}" in r.stderr, r.stderr
    assert asterisks_under(tmp_path) == []
