"""Settings / Voice / Recordings (VOI-4): welcome, hold music and answering machine prompts.

Real audio made by Debian's ffmpeg in the test, uploaded through the panel, converted by ffmpeg,
checked with the ``wave`` module; refusals leave the previous prompt exactly as it was.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import wave
from pathlib import Path

import pytest
from sqlalchemy import select

from centrala.models import AuditEntry, Prompt, PromptFile
from centrala.prompts import MAX_SECONDS, plan_from_db
from pbx import render

from .web_helpers import csrf, login

pytestmark = pytest.mark.db
PAGE = "/settings/voice/prompts"


def _ffmpeg(*args) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-hide_banner", "-v", "error", "-y", *args], check=True, timeout=60)


@pytest.fixture(scope="module")
def sounds(tmp_path_factory) -> dict[str, Path]:
    assert shutil.which("ffmpeg"), "ffmpeg is not installed (scripts/bootstrap installs it)"
    d = tmp_path_factory.mktemp("sounds")
    made = {}
    for ext in ("mp3", "ogg", "wav"):   # stereo 44.1 kHz, 2 s: has to become 8 kHz mono
        made[ext] = d / f"tone.{ext}"
        _ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:duration=2", "-ac", "2", "-ar", "44100", str(made[ext]))
    made["other"] = d / "other.ogg"
    _ffmpeg("-f", "lavfi", "-i", "sine=frequency=880:duration=3", "-ar", "22050", str(made["other"]))
    made["long"] = d / "long.ogg"   # just over the welcome/answering limit
    _ffmpeg("-f", "lavfi", "-i", f"sine=frequency=300:duration={MAX_SECONDS['welcome'] + 5}:sample_rate=8000",
            "-ac", "1", str(made["long"]))
    made["text"] = d / "notes.wav"
    made["text"].write_text("This is a shopping list, not a recording.\nmilk\nbread\n" * 20)
    made["empty"] = d / "empty.mp3"
    made["empty"].write_bytes(b"")
    made["big"] = d / "big.wav"
    with open(made["big"], "wb") as f:   # 20 MB + 1 byte: refused before anything is decoded
        f.truncate(20 * 1024 * 1024 + 1)
    return made


def upload(client, kind: str, path: Path, name: str | None = None, headers=None):
    token = csrf(client, PAGE)
    with open(path, "rb") as fh:
        return client.post(f"{PAGE}/{kind}/upload", data={"csrf_token": token, "file": (fh, name or path.name)},
                           content_type="multipart/form-data", headers=headers or {})


def set_mode(client, kind: str, mode: str):
    return client.post(f"{PAGE}/{kind}/mode", data={"csrf_token": csrf(client, PAGE), "mode": mode})


def files(database, kind: str) -> list[PromptFile]:
    with database.session() as s:
        return list(s.scalars(select(PromptFile).where(PromptFile.kind == kind).order_by(PromptFile.id)))


def mode(database, kind: str) -> str | None:
    with database.session() as s:
        p = s.get(Prompt, kind)
        return p.mode if p else None


def on_disk(web_settings) -> set[str]:
    root = web_settings.prompts_dir
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def error_text(html: str) -> str:
    m = re.search(r'data-role="error">([^<]*)<', html)
    assert m, "no error shown on the page"
    return m.group(1)


def check_wav(path: Path, rate: int, seconds: float) -> None:
    with wave.open(str(path), "rb") as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getcomptype()) == (1, 2, rate, "NONE")
        assert abs(w.getnframes() / w.getframerate() - seconds) < 0.1, w.getnframes() / w.getframerate()


def test_mp3_ogg_and_wav_become_8khz_mono_pcm(admin, sounds, database, web_settings):
    for ext in ("mp3", "ogg", "wav"):
        r = upload(admin, "hold", sounds[ext], f"Hold tune.{ext}")
        assert r.status_code == 303, error_text(r.get_data(as_text=True))
        assert r.headers["Location"].endswith(f"{PAGE}#prompt-hold")
    stored = files(database, "hold")
    assert [f.original_name for f in stored] == ["Hold tune.mp3", "Hold tune.ogg", "Hold tune.wav"]
    assert mode(database, "hold") == "custom"
    hold_dir = web_settings.prompts_dir / "hold"
    for f, ext in zip(stored, ("mp3", "ogg", "wav")):
        assert abs(f.duration - 2.0) < 0.1
        assert f.size_bytes == sounds[ext].stat().st_size
        check_wav(hold_dir / f"{f.stored_name}.wav", 8000, 2.0)
        check_wav(hold_dir / f"{f.stored_name}.wav16", 16000, 2.0)
        # preview: the converted file, as callers hear it
        r = admin.get(f"{PAGE}/files/{f.id}/audio")
        assert r.status_code == 200 and r.mimetype == "audio/wav"
        assert r.data == (hold_dir / f"{f.stored_name}.wav").read_bytes()
        # download: the original, byte for byte, under its own name
        r = admin.get(f"{PAGE}/files/{f.id}/original")
        assert r.status_code == 200 and r.data == sounds[ext].read_bytes()
        assert f'filename="Hold tune.{ext}"' in r.headers["Content-Disposition"]
        assert r.headers["Content-Disposition"].startswith("attachment")
    # the <audio> element can seek: range requests are answered
    r = admin.get(f"{PAGE}/files/{stored[0].id}/audio", headers={"Range": "bytes=0-99"})
    assert r.status_code == 206 and len(r.data) == 100
    page = admin.get(PAGE).get_data(as_text=True)
    for f in stored:
        assert f'<audio controls preload="none" src="{PAGE}/files/{f.id}/audio"' in page
        assert f'href="{PAGE}/files/{f.id}/original"' in page
    assert not list((web_settings.prompts_dir / ".staging").iterdir()), "staging left dirty"
    with database.session() as s:
        entries = s.scalars(select(AuditEntry).where(AuditEntry.target == "prompt.hold")).all()
        assert [e.details["uploaded"] for e in entries] == ["Hold tune.mp3", "Hold tune.ogg", "Hold tune.wav"]


def test_refused_uploads_change_nothing(admin, sounds, database, web_settings):
    assert upload(admin, "welcome", sounds["ogg"], "Dzień dobry.ogg").status_code == 303
    (before,) = files(database, "welcome")
    disk_before = on_disk(web_settings)
    wav_before = (web_settings.prompts_dir / "welcome" / f"{before.stored_name}.wav").read_bytes()
    cases = [
        (sounds["text"], "notes.wav", "This file is not a recording we can play."),
        (sounds["empty"], "empty.mp3", "The file is empty."),
        (sounds["long"], "long.ogg", "The recording is too long (2:05). The limit here is 2 min."),
        (sounds["big"], "big.wav", "The file is larger than 20 MB."),
        (sounds["text"], "notes.txt", "Choose a .wav, .mp3 or .ogg file."),
    ]
    for path, name, message in cases:
        r = upload(admin, "welcome", path, name)
        assert r.status_code == 400, name
        assert error_text(r.get_data(as_text=True)).startswith(message), name
        assert [f.id for f in files(database, "welcome")] == [before.id], name
        assert mode(database, "welcome") == "custom"
        assert on_disk(web_settings) == disk_before, name
        assert (web_settings.prompts_dir / "welcome" / f"{before.stored_name}.wav").read_bytes() == wav_before
    # in Polish for a Polish browser
    r = upload(admin, "welcome", sounds["text"], "notes.wav", headers={"Accept-Language": "pl"})
    assert r.status_code == 400
    assert error_text(r.get_data(as_text=True)) == \
        "Ten plik nie jest nagraniem, które można odtworzyć. Wgraj plik dźwiękowy .wav, .mp3 lub .ogg."
    # the hold-music limit is 30 minutes: the same long file is fine there
    assert upload(admin, "hold", sounds["long"]).status_code == 303
    assert abs(files(database, "hold")[0].duration - (MAX_SECONDS["welcome"] + 5)) < 0.1


def test_new_welcome_replaces_the_old_one(admin, sounds, database, web_settings):
    assert upload(admin, "welcome", sounds["mp3"]).status_code == 303
    (first,) = files(database, "welcome")
    assert upload(admin, "welcome", sounds["other"], "Welcome v2.ogg").status_code == 303
    (second,) = files(database, "welcome")
    assert second.original_name == "Welcome v2.ogg" and abs(second.duration - 3.0) < 0.1
    assert not any(first.stored_name in p for p in on_disk(web_settings)), "the old recording was kept"
    assert {f"welcome/{second.stored_name}.wav", f"welcome/{second.stored_name}.wav16",
            f"originals/{second.stored_name}.ogg"} <= on_disk(web_settings)


def test_modes_reach_asterisk_configuration(admin, sounds, database, web_settings):
    prompts_dir = web_settings.prompts_dir

    def rendered() -> tuple[str, str]:
        render.render(web_settings, "/mods", prompts=plan_from_db(database, prompts_dir))
        etc = web_settings.asterisk_dir / "etc"
        return (etc / "extensions.conf").read_text(), (etc / "musiconhold.conf").read_text()

    # a fresh installation: no welcome, stock music on hold, stock answering greeting
    ext, moh = rendered()
    assert "Playback(" not in ext and "Queue(centrala-inbound,t,,,)" in ext
    assert "directory = /usr/share/asterisk/moh" in moh
    plan = plan_from_db(database, prompts_dir)
    assert (plan.welcome, plan.answering) == (None, "vm-intro")

    r = set_mode(admin, "welcome", "custom")   # nothing uploaded yet
    assert r.status_code == 400
    assert error_text(r.get_data(as_text=True)) == "Upload a recording before choosing Custom."
    assert set_mode(admin, "welcome", "default").status_code == 303
    assert "Playback(pls-hold-while-try)" in rendered()[0]

    assert upload(admin, "welcome", sounds["wav"]).status_code == 303
    assert upload(admin, "hold", sounds["mp3"]).status_code == 303
    assert upload(admin, "hold", sounds["ogg"]).status_code == 303
    assert upload(admin, "answering", sounds["other"]).status_code == 303
    (welcome,), hold, (answering,) = files(database, "welcome"), files(database, "hold"), files(database, "answering")
    ext, moh = rendered()
    assert f"Playback({prompts_dir}/welcome/{welcome.stored_name})" in ext
    assert "mode = playlist" in moh
    assert [l for l in moh.splitlines() if l.startswith("entry")] == \
        [f"entry = {prompts_dir}/hold/{f.stored_name}" for f in hold]
    assert plan_from_db(database, prompts_dir).answering == f"{prompts_dir}/answering/{answering.stored_name}"

    assert set_mode(admin, "hold", "off").status_code == 303
    assert set_mode(admin, "welcome", "off").status_code == 303
    assert set_mode(admin, "answering", "off").status_code == 303
    ext, moh = rendered()
    assert "Queue(centrala-inbound,tr,,,)" in ext and "Playback(" not in ext   # ringing instead of music
    assert plan_from_db(database, prompts_dir).answering is None
    assert set_mode(admin, "hold", "custom").status_code == 303
    assert "mode = playlist" in rendered()[1]
    # a lost file never leaves callers in silence: Custom falls back to Default
    (prompts_dir / "welcome" / f"{welcome.stored_name}.wav").unlink()
    assert set_mode(admin, "welcome", "custom").status_code == 303
    assert "Playback(pls-hold-while-try)" in rendered()[0]


def test_deleting_the_last_recording_leaves_custom(admin, sounds, database, web_settings):
    assert upload(admin, "hold", sounds["mp3"]).status_code == 303
    assert upload(admin, "hold", sounds["ogg"]).status_code == 303
    first, second = files(database, "hold")
    token = csrf(admin, PAGE)
    assert admin.post(f"{PAGE}/files/{first.id}/delete", data={"csrf_token": token}).status_code == 303
    assert [f.id for f in files(database, "hold")] == [second.id] and mode(database, "hold") == "custom"
    assert not any(first.stored_name in p for p in on_disk(web_settings))
    assert admin.post(f"{PAGE}/files/{second.id}/delete", data={"csrf_token": token}).status_code == 303
    assert files(database, "hold") == [] and mode(database, "hold") == "default"
    assert on_disk(web_settings) == set()
    assert admin.get(f"{PAGE}/files/{second.id}/audio").status_code == 404
    assert admin.post(f"{PAGE}/files/{second.id}/delete", data={"csrf_token": token}).status_code == 404


def test_agents_are_refused(admin, agent, sounds, database):
    assert upload(admin, "hold", sounds["mp3"]).status_code == 303
    (f,) = files(database, "hold")
    token = csrf(agent, "/")
    for method, path, data in [
        ("GET", PAGE, None), ("GET", f"{PAGE}/files/{f.id}/audio", None), ("GET", f"{PAGE}/files/{f.id}/original", None),
        ("POST", f"{PAGE}/hold/mode", {"csrf_token": token, "mode": "off"}),
        ("POST", f"{PAGE}/files/{f.id}/delete", {"csrf_token": token}),
    ]:
        r = agent.open(path, method=method, data=data)
        assert r.status_code == 403, (method, path)
    with open(sounds["ogg"], "rb") as fh:
        r = agent.post(f"{PAGE}/welcome/upload", data={"csrf_token": token, "file": (fh, "x.ogg")},
                       content_type="multipart/form-data")
    assert r.status_code == 403
    assert files(database, "welcome") == [] and [x.id for x in files(database, "hold")] == [f.id]
    assert mode(database, "hold") == "custom"
    assert 'href="/settings/voice/prompts"' not in agent.get("/").get_data(as_text=True)


def test_page_shows_the_three_prompts_in_both_languages(admin, sounds):
    assert upload(admin, "hold", sounds["mp3"], "Spokojna muzyka.mp3").status_code == 303
    html = admin.get(PAGE).get_data(as_text=True)
    assert 'href="/settings/voice/general" class="active"' in html
    for text in ("Recordings", "Welcome", "Hold music", "Answering machine", "Spokojna muzyka.mp3", "0:02"):
        assert text in html, text
    assert re.search(r'id="prompt-hold"[^>]*data-mode="custom"', html)
    assert re.search(r'id="prompt-welcome"[^>]*data-mode="off"', html)
    assert re.search(r'id="prompt-answering"[^>]*data-mode="default"', html)
    pl = admin.get(PAGE, headers={"Accept-Language": "pl"}).get_data(as_text=True)
    for text in ("Nagrania", "Powitanie", "Muzyka na czekanie", "Automatyczna sekretarka", "Wyłączone",
                 "Domyślne", "Własne", "Głos"):
        assert text in pl, text
