"""Prompts (VOI-4) against the real Asterisk: uploaded hold music is what Asterisk's music on
hold plays, a refused upload leaves it alone, the pbx controller reloads it by itself, and the
welcome prompt and "ringing instead of music" are what the queue context really runs."""
from __future__ import annotations

import re
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
from sqlalchemy import delete

from centrala.models import Prompt, PromptFile
from centrala.prompts import KINDS, kind_dir, originals_dir
from centrala.users import create_user
from pbx.amiprobe import ami_actions
from web import create_app

from ..helpers import wait_for
from ..web_helpers import csrf, login

pytestmark = pytest.mark.asterisk
PAGE = "/settings/voice/prompts"


def ami(settings, *actions: dict) -> list[dict]:
    s = settings.secrets
    return ami_actions("127.0.0.1", settings.ami_port, s.ami_user, s.ami_password, list(actions))


def command(settings, cmd: str) -> str:
    (resp,) = ami(settings, {"Action": "Command", "Command": cmd})
    return resp.get("Output", "")


def moh_files(settings) -> list[str]:
    """Files of the ``default`` class as Asterisk reports them (``moh show files``)."""
    out = command(settings, "moh show files")
    block = re.search(r"Class: default\n(.*?)(?:\nClass:|\Z)", out, re.S)
    assert block, out
    return re.findall(r"File: (\S+)", block.group(1))


def _tone(path: Path, seconds: float, freq: int = 440) -> Path:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi",
                    "-i", f"sine=frequency={freq}:duration={seconds}", "-ac", "2", "-ar", "44100", str(path)],
                   check=True, timeout=60)
    return path


@pytest.fixture
def admin_client(pbx_instance):
    """An administrator's panel session on the same database and data dir as the Asterisk;
    afterwards every prompt is back in its initial state, in the database and in Asterisk."""
    settings, db, runtime = pbx_instance
    app = create_app(settings, db=db, start_background=False)
    app.config["TESTING"] = True
    email = f"prompts-{uuid.uuid4().hex[:8]}@example.com"
    with db.session() as s:
        create_user(s, email, "Pat Prompts", "admin", "correct horse 1")
    client = app.test_client()
    assert login(client, email).status_code == 302
    yield client
    with db.session() as s:
        s.execute(delete(PromptFile))
        s.execute(delete(Prompt))
    for d in [kind_dir(settings.prompts_dir, k) for k in KINDS] + [originals_dir(settings.prompts_dir)]:
        shutil.rmtree(d, ignore_errors=True)
    if not runtime.is_running():
        runtime.up(db=db)
    runtime.reload(db=db)


def upload(client, kind: str, path: Path, name: str | None = None):
    token = csrf(client, PAGE)
    with open(path, "rb") as fh:
        return client.post(f"{PAGE}/{kind}/upload", data={"csrf_token": token, "file": (fh, name or path.name)},
                           content_type="multipart/form-data")


def set_mode(client, kind: str, mode: str):
    return client.post(f"{PAGE}/{kind}/mode", data={"csrf_token": csrf(client, PAGE), "mode": mode})


def stored(db, kind: str) -> list[str]:
    with db.session() as s:
        return [f.stored_name for f in s.query(PromptFile).filter_by(kind=kind).order_by(PromptFile.id)]


def test_uploaded_hold_music_is_what_asterisk_plays(pbx_instance, admin_client, tmp_path):
    settings, db, runtime = pbx_instance
    runtime.reload(db=db)
    stock = moh_files(settings)
    assert stock and all(f.startswith("/usr/share/asterisk/moh/") for f in stock), stock

    assert upload(admin_client, "hold", _tone(tmp_path / "calm.mp3", 2)).status_code == 303
    (first,) = stored(db, "hold")
    changed = {p.name for p in runtime.reload(db=db)}
    assert "musiconhold.conf" in changed
    conf = (settings.asterisk_dir / "etc" / "musiconhold.conf").read_text()
    hold_dir = settings.prompts_dir / "hold"
    assert f"entry = {hold_dir}/{first}" in conf
    assert moh_files(settings) == [f"{hold_dir}/{first}"]

    # not audio: refused, nothing to reload, Asterisk still plays the same file
    text = tmp_path / "notes.wav"
    text.write_text("definitely not a recording\n" * 50)
    r = upload(admin_client, "hold", text)
    assert r.status_code == 400 and "not a recording we can play" in r.get_data(as_text=True)
    assert runtime.reload(db=db) == []
    assert moh_files(settings) == [f"{hold_dir}/{first}"]

    # a second recording: both play, in upload order
    assert upload(admin_client, "hold", _tone(tmp_path / "second.ogg", 2, 660)).status_code == 303
    second = stored(db, "hold")[1]
    runtime.reload(db=db)
    assert moh_files(settings) == [f"{hold_dir}/{first}", f"{hold_dir}/{second}"]

    # back to Default: Debian's music again
    assert set_mode(admin_client, "hold", "default").status_code == 303
    runtime.reload(db=db)
    assert moh_files(settings) == stock
    log = (settings.log_dir / "asterisk-console.log").read_text(errors="replace")
    assert not [l for l in log.splitlines() if "musiconhold" in l.lower() and ("ERROR" in l or "WARNING" in l)]


def test_controller_reloads_music_on_hold_by_itself(pbx_instance, controller, admin_client, tmp_path):
    settings, db, runtime = pbx_instance
    assert upload(admin_client, "hold", _tone(tmp_path / "tune.wav", 2)).status_code == 303
    (name,) = stored(db, "hold")
    expected = [f"{settings.prompts_dir / 'hold'}/{name}"]
    # nobody calls runtime.reload(): the controller re-renders from the database and runs `moh reload`
    wait_for(lambda: moh_files(settings) == expected, 10, interval=0.2, what="controller reloaded music on hold")


def _channels(settings) -> list[list[str]]:
    return [line.split("!") for line in command(settings, "core show channels concise").splitlines() if "!" in line]


def test_queue_context_plays_the_welcome_then_queues(pbx_instance, admin_client, tmp_path):
    """A Local channel runs the queue context as a call from the Stasis app would."""
    settings, db, runtime = pbx_instance
    assert upload(admin_client, "welcome", _tone(tmp_path / "hello.ogg", 3)).status_code == 303
    assert set_mode(admin_client, "hold", "off").status_code == 303
    (welcome,) = stored(db, "welcome")
    runtime.reload(db=db)
    path = f"{settings.prompts_dir / 'welcome'}/{welcome}"
    (resp,) = ami(settings, {"Action": "Originate", "Channel": "Local/inbound@centrala-queue",
                             "Application": "Wait", "Data": "20", "Async": "true"})
    assert resp.get("Response") == "Success", resp

    def running(app: str, data_prefix: str):
        for ch in _channels(settings):
            if ch[0].startswith("Local/inbound@centrala-queue") and ch[5] == app and ch[6].startswith(data_prefix):
                return ch[0]
        return None

    try:
        wait_for(lambda: running("Playback", path), 10, interval=0.1, what="Playback of the welcome prompt")
        # after the 3 s greeting the caller waits in the queue, hearing ringing (hold music Off)
        wait_for(lambda: running("Queue", "centrala-inbound,tr,"), 10, interval=0.1, what="queued with ringing")
    finally:
        # hanging up one half of the Local pair ends both
        ours = [c[0] for c in _channels(settings) if c[0].startswith("Local/inbound@centrala-queue")]
        if ours:
            ami(settings, {"Action": "Hangup", "Channel": ours[0]})
        wait_for(lambda: not any(c[0].startswith("Local/inbound@centrala-queue") for c in _channels(settings)),
                 10, interval=0.1, what="test channels gone")
    log = (settings.log_dir / "asterisk-console.log").read_text(errors="replace")
    assert welcome not in log, "Asterisk complained about the welcome prompt"
