"""Audio uploads turned into what Asterisk plays (VOI-4), with Debian's ``ffmpeg``/``ffprobe``.

No Flask here: the web panel and the pbx side can both use it.  Errors carry a ``code`` (and
parameters) that the caller turns into a message in the user's language.

Every upload is really decoded, never trusted by its name: ``ffprobe`` must recognise one of
the allowed container formats with a confident probe score and find an audio stream, and
``ffmpeg`` must decode it into at least a moment of sound.  Only the wav, mp3 and ogg demuxers
and the ``file`` protocol are allowed, so a playlist or concat file disguised as audio cannot
make ffmpeg read other files or the network.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import wave
from dataclasses import dataclass
from pathlib import Path

EXTENSIONS = (".wav", ".mp3", ".ogg")
DEMUXERS = "wav,mp3,ogg"
MAX_BYTES = 20 * 1024 * 1024
MIN_PROBE_SCORE = 25          # ffmpeg's AVPROBE_SCORE_MAX / 4: below it, ffmpeg itself is guessing
MIN_SECONDS = 0.1             # less than this decoded is "no sound"
TIMEOUT = 300                 # seconds for one ffprobe/ffmpeg run
RATE = 8000                   # what Asterisk plays to narrowband (G.711) callers: .wav
WIDEBAND_RATE = 16000         # .wav16, picked by Asterisk for wideband (G.722, slin16) callers


class AudioError(ValueError):
    """``code``: empty | too_large | extension | not_audio | no_sound | too_long | ffmpeg_missing."""

    def __init__(self, code: str, detail: str = "", **params) -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail
        self.params = params


@dataclass(frozen=True)
class Converted:
    wav: Path               # 8 kHz mono 16-bit PCM
    wav16: Path             # 16 kHz mono 16-bit PCM (Asterisk's "wav16" format)
    duration: float         # seconds, measured on the converted file


def _tool(name: str) -> str:
    path = shutil.which(name)
    if not path:
        raise AudioError("ffmpeg_missing", f"{name} is not installed (apt-get install ffmpeg)")
    return path


def check_name(filename: str) -> str:
    """The lower-case extension of an upload's name, if it is one we accept."""
    ext = Path(filename or "").suffix.lower()
    if ext not in EXTENSIONS:
        raise AudioError("extension", filename)
    return ext


def save_upload(stream, target: Path, max_bytes: int = MAX_BYTES) -> int:
    """Copy an upload stream to ``target``, refusing empty and oversized files; returns the size."""
    size = 0
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := stream.read(64 * 1024):
                size += len(chunk)
                if size > max_bytes:
                    raise AudioError("too_large", max_mb=max_bytes // (1024 * 1024))
                out.write(chunk)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    if size == 0:
        target.unlink(missing_ok=True)
        raise AudioError("empty")
    return size


def probe(path: Path) -> tuple[str, float | None]:
    """(container format, duration in seconds or None when the header does not say)."""
    cmd = [_tool("ffprobe"), "-v", "error", "-protocol_whitelist", "file",
           "-format_whitelist", DEMUXERS, "-show_entries",
           "format=format_name,duration,probe_score:stream=codec_type", "-of", "json", str(path)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise AudioError("not_audio", "ffprobe timed out") from None
    if proc.returncode != 0:
        raise AudioError("not_audio", proc.stderr.strip()[-300:])
    try:
        info = json.loads(proc.stdout or "{}")
    except ValueError:
        raise AudioError("not_audio", "ffprobe output unreadable") from None
    fmt = info.get("format") or {}
    name = str(fmt.get("format_name", ""))
    if name not in DEMUXERS.split(",") or int(fmt.get("probe_score") or 0) < MIN_PROBE_SCORE:
        raise AudioError("not_audio", f"format {name!r}, probe score {fmt.get('probe_score')}")
    if not any(s.get("codec_type") == "audio" for s in info.get("streams") or []):
        raise AudioError("not_audio", "no audio stream")
    try:
        duration = float(fmt["duration"])
    except (KeyError, TypeError, ValueError):
        duration = None
    return name, duration


def wav_duration(path: Path) -> float:
    with wave.open(str(path), "rb") as w:
        return w.getnframes() / float(w.getframerate())


def convert(src: Path, out_base: Path, max_seconds: float) -> Converted:
    """Decode ``src`` and write ``<out_base>.wav`` (8 kHz) and ``<out_base>.wav16`` (16 kHz),
    mono 16-bit PCM.  Nothing is left behind on failure."""
    fmt, header_duration = probe(src)
    wav, wav16 = out_base.with_suffix(".wav"), out_base.with_suffix(".wav16")
    # decode a little past the limit: enough to tell "too long" without decoding hours (the
    # header's duration is only an estimate for some mp3s, so it alone never refuses a file)
    cap = f"{max_seconds + 1:.3f}"
    out_opts = ["-map", "0:a:0", "-t", cap, "-ac", "1", "-c:a", "pcm_s16le", "-map_metadata", "-1",
                "-fflags", "+bitexact", "-flags:a", "+bitexact", "-f", "wav"]
    cmd = [_tool("ffmpeg"), "-nostdin", "-hide_banner", "-v", "error", "-y",
           "-protocol_whitelist", "file", "-format_whitelist", DEMUXERS, "-f", fmt, "-i", str(src),
           *out_opts, "-ar", str(RATE), str(wav), *out_opts, "-ar", str(WIDEBAND_RATE), str(wav16)]
    try:
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT,
                                  stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise AudioError("not_audio", "ffmpeg timed out") from None
        if proc.returncode != 0 or not wav.exists() or not wav16.exists():
            raise AudioError("not_audio", proc.stderr.strip()[-300:])
        try:
            duration = wav_duration(wav)
        except (wave.Error, EOFError) as exc:
            raise AudioError("not_audio", str(exc)) from None
        if duration < MIN_SECONDS:
            raise AudioError("no_sound")
        if duration > max_seconds + 0.5:
            # the decoded part stops just past the limit; the header knows the real length
            longer = header_duration if header_duration and header_duration > duration else duration
            raise AudioError("too_long", seconds=longer, max_seconds=max_seconds)
        for p in (wav, wav16):
            os.chmod(p, 0o644)   # Asterisk may run as its own user
        return Converted(wav, wav16, round(duration, 2))
    except BaseException:
        wav.unlink(missing_ok=True)
        wav16.unlink(missing_ok=True)
        raise
