"""Voice prompts (VOI-4): welcome, hold music and answering machine, each Off / Default / Custom.

Uploads are checked and converted by ``centrala.audio`` in a staging directory and renamed into
place only when everything succeeded, so a refused file changes nothing.  The pbx controller
re-renders Asterisk's configuration from the database every few seconds and reloads what
changed (``centrala.prompts`` resolves what Asterisk plays).
"""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from centrala import audio, audit
from centrala.models import Prompt, PromptFile, User, utcnow
from centrala.prompts import (DEFAULT_SOUNDS, INITIAL_MODE, KINDS, MAX_HOLD_FILES, MAX_SECONDS, MODES,
                              kind_dir, originals_dir, staging_dir)
from centrala.upload_names import safe_name

KIND_LABELS = {"welcome": _l("Welcome"), "hold": _l("Hold music"), "answering": _l("Answering machine")}
KIND_HINTS = {
    "welcome": _l("Played to every caller before the call waits for an agent."),
    "hold": _l("Played while the caller waits in the queue. Several recordings play one after another."),
    "answering": _l("Played when no agent is Online, before the caller leaves a message."),
}
DEFAULT_HINTS = {
    "welcome": _l("Asterisk's standard English recording: “Please hold while we try to connect you.”"),
    "hold": _l("Asterisk's standard music on hold."),
    "answering": _l("Asterisk's standard English recording: “Please leave your message after the tone.”"),
}
OFF_HINTS = {
    "welcome": _l("Callers go straight to the queue."),
    "hold": _l("Callers hear ringing while they wait."),
    "answering": _l("The caller hears only the tone before leaving a message."),
}
MODE_LABELS = {"off": _l("Off"), "default": _l("Default"), "custom": _l("Custom")}


class PromptError(ValueError):
    """A refusal with a message for the administrator, in their language."""


@dataclass
class PromptView:
    kind: str
    mode: str
    files: list[PromptFile] = field(default_factory=list)
    uploaders: dict[int, str] = field(default_factory=dict)

    @property
    def label(self):
        return KIND_LABELS[self.kind]

    @property
    def max_seconds(self) -> int:
        return MAX_SECONDS[self.kind]

    @property
    def multiple(self) -> bool:
        return self.kind == "hold"

    @property
    def can_upload(self) -> bool:
        return not self.multiple or len(self.files) < MAX_HOLD_FILES


def format_duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
    return f"{seconds // 60}:{seconds % 60:02d}"


def format_size(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):.1f} MB"
    return f"{max(1, round(n / 1024))} kB"


def limit_text(kind: str) -> str:
    minutes = MAX_SECONDS[kind] // 60
    return _("%(n)d min", n=minutes)


def error_message(err: audio.AudioError, kind: str) -> str:
    if err.code == "empty":
        return _("The file is empty.")
    if err.code == "too_large":
        return _("The file is larger than %(mb)d MB.", mb=err.params.get("max_mb", audio.MAX_BYTES // 2**20))
    if err.code == "extension":
        return _("Choose a .wav, .mp3 or .ogg file.")
    if err.code == "no_sound":
        return _("The file contains no sound.")
    if err.code == "too_long":
        return _("The recording is too long (%(length)s). The limit here is %(limit)s.",
                 length=format_duration(err.params.get("seconds", 0)), limit=limit_text(kind))
    if err.code == "truncated":
        return _("The recording is incomplete: it plays %(length)s of the %(declared)s its header announces. "
                 "Upload the whole file.", length=format_duration(err.params.get("seconds", 0)),
                 declared=format_duration(err.params.get("declared", 0)))
    if err.code == "ffmpeg_missing":
        return _("Audio conversion is not available on the server (ffmpeg is not installed).")
    return _("This file is not a recording we can play. Upload a .wav, .mp3 or .ogg audio file.")


def _prompt(s, kind: str) -> Prompt:
    p = s.get(Prompt, kind)
    if p is None:
        p = Prompt(kind=kind, mode=INITIAL_MODE[kind])
        s.add(p)
        s.flush()
    return p


def _files(s, kind: str) -> list[PromptFile]:
    return list(s.scalars(select(PromptFile).where(PromptFile.kind == kind)
                          .order_by(PromptFile.uploaded_at, PromptFile.id)))


def overview(s) -> list[PromptView]:
    modes = dict(INITIAL_MODE)
    modes.update({p.kind: p.mode for p in s.scalars(select(Prompt))})
    views = [PromptView(kind, modes[kind], _files(s, kind)) for kind in KINDS]
    ids = {f.uploaded_by for v in views for f in v.files if f.uploaded_by}
    names = {u.id: u.name for u in s.scalars(select(User).where(User.id.in_(ids)))} if ids else {}
    for v in views:
        v.uploaders = names
    return views


def wav_path(prompts_dir: Path, f: PromptFile) -> Path:
    return kind_dir(prompts_dir, f.kind) / f"{f.stored_name}.wav"


def original_path(prompts_dir: Path, f: PromptFile) -> Path:
    return originals_dir(prompts_dir) / f.original_file


def _remove_files(prompts_dir: Path, f: PromptFile) -> None:
    base = kind_dir(prompts_dir, f.kind) / f.stored_name
    for p in (base.with_suffix(".wav"), base.with_suffix(".wav16"), original_path(prompts_dir, f)):
        p.unlink(missing_ok=True)


def set_mode(s, kind: str, mode: str, actor: User, ip: str = "") -> bool:
    """Change a prompt's mode; returns whether anything changed."""
    if kind not in KINDS or mode not in MODES:
        raise PromptError(_("Choose Off, Default or Custom."))
    if mode == "custom" and not _files(s, kind):
        raise PromptError(_("Upload a recording before choosing Custom."))
    p = _prompt(s, kind)
    if p.mode == mode:
        return False
    old, p.mode, p.updated_at, p.updated_by = p.mode, mode, utcnow(), actor.id
    audit.record(s, audit.SETTINGS_CHANGED, actor=actor, target=f"prompt.{kind}", ip=ip, mode=mode, was=old)
    return True


def upload(s, prompts_dir: Path, kind: str, storage, actor: User, ip: str = "") -> PromptFile:
    """Check and convert an upload (a werkzeug FileStorage); on success it becomes the prompt's
    recording (hold music: one more recording) and the prompt is switched to Custom.  On any
    refusal the files on disk and the database are exactly as before."""
    if kind not in KINDS:
        raise PromptError(_("Unknown recording."))
    if storage is None or not storage.filename:
        raise PromptError(_("Choose an audio file."))
    try:
        ext = audio.check_name(storage.filename)
    except audio.AudioError as exc:
        raise PromptError(error_message(exc, kind)) from None
    previous = _files(s, kind)
    if kind == "hold" and len(previous) >= MAX_HOLD_FILES:
        raise PromptError(_("There can be at most %(n)d hold music recordings. Delete one first.", n=MAX_HOLD_FILES))
    stage, target, originals = staging_dir(prompts_dir), kind_dir(prompts_dir, kind), originals_dir(prompts_dir)
    for d in (stage, target, originals):
        d.mkdir(parents=True, exist_ok=True)
    stored = f"{kind}-{secrets.token_hex(8)}"
    original_tmp = stage / f"{stored}.upload"
    try:
        size = audio.save_upload(storage.stream, original_tmp)
        converted = audio.convert(original_tmp, stage / stored, MAX_SECONDS[kind])
    except audio.AudioError as exc:
        original_tmp.unlink(missing_ok=True)
        raise PromptError(error_message(exc, kind)) from None
    except BaseException:
        original_tmp.unlink(missing_ok=True)
        raise
    # everything checked: move into place (same file system, atomic renames), then the database
    placed = [(original_tmp, originals / f"{stored}{ext}"), (converted.wav16, target / f"{stored}.wav16"),
              (converted.wav, target / f"{stored}.wav")]
    os.chmod(original_tmp, 0o644)
    for src, dst in placed:
        os.replace(src, dst)
    try:
        p = _prompt(s, kind)
        f = PromptFile(kind=kind, stored_name=stored, original_name=safe_name(storage.filename, "recording"),
                       size_bytes=size, duration=converted.duration, uploaded_by=actor.id)
        s.add(f)
        replaced = [] if kind == "hold" else previous
        for old in replaced:
            s.delete(old)
        was = p.mode
        p.mode, p.updated_at, p.updated_by = "custom", utcnow(), actor.id
        audit.record(s, audit.SETTINGS_CHANGED, actor=actor, target=f"prompt.{kind}", ip=ip,
                     uploaded=f.original_name, seconds=f.duration, mode="custom", was=was)
        s.commit()
    except BaseException:
        s.rollback()
        for _src, dst in placed:
            dst.unlink(missing_ok=True)
        raise
    for old in replaced:
        _remove_files(prompts_dir, old)
    return f


def delete_file(s, prompts_dir: Path, file_id: int, actor: User, ip: str = "") -> PromptFile | None:
    """Delete one recording.  A Custom prompt left without recordings goes back to its initial
    mode (welcome: Off, hold music and answering machine: Default)."""
    f = s.get(PromptFile, file_id)
    if f is None:
        return None
    kind = f.kind
    s.delete(f)
    s.flush()
    p = _prompt(s, kind)
    details = {"deleted": f.original_name}
    if p.mode == "custom" and not _files(s, kind):
        p.mode, p.updated_at, p.updated_by = INITIAL_MODE[kind], utcnow(), actor.id
        details.update(mode=p.mode, was="custom")
    audit.record(s, audit.SETTINGS_CHANGED, actor=actor, target=f"prompt.{kind}", ip=ip, **details)
    s.commit()
    _remove_files(prompts_dir, f)
    return f


def default_sound(kind: str) -> str | None:
    return DEFAULT_SOUNDS.get(kind)
