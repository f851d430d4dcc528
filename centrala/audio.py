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
import struct
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
    """``code``: empty | too_large | extension | not_audio | no_sound | too_long | truncated |
    ffmpeg_missing."""

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


def declared_seconds(path: Path, fmt: str, header_duration: float | None) -> float | None:
    """How long the file says it is, where that is exact: a WAV's data chunk size over its byte
    rate, an MP3's Xing/Info frame count (what ffprobe reports when that header is there).
    None when the file does not say (a cut file then cannot be told from a short one)."""
    with open(path, "rb") as fh:
        head = fh.read(64 * 1024)
    if fmt == "wav":
        return _wav_declared(head)
    if fmt == "mp3" and header_duration:
        if head[:3] == b"ID3" and len(head) >= 10:    # skip an ID3v2 tag (its size is syncsafe)
            with open(path, "rb") as fh:
                fh.seek(10 + (head[6] << 21 | head[7] << 14 | head[8] << 7 | head[9]))
                head = fh.read(4096)
        sync = next((i for i in range(min(len(head), 4096) - 1)
                     if head[i] == 0xFF and head[i + 1] & 0xE0 == 0xE0), None)
        if sync is not None and (b"Xing" in head[sync:sync + 200] or b"Info" in head[sync:sync + 200]):
            return header_duration
    return None


def _wav_declared(head: bytes) -> float | None:
    if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None
    pos, byte_rate = 12, 0
    while pos + 8 <= len(head):
        kind, size = head[pos:pos + 4], struct.unpack("<I", head[pos + 4:pos + 8])[0]
        if kind == b"fmt " and size >= 12 and pos + 20 <= len(head):
            byte_rate = struct.unpack("<I", head[pos + 16:pos + 20])[0]
        elif kind == b"data":
            # 0 and 0xFFFFFFFF: written by a streaming encoder that did not know the length
            if not byte_rate or size in (0, 0xFFFFFFFF) or size >= 0xFFFFFF00:
                return None
            return size / byte_rate
        pos += 8 + size + (size & 1)
    return None


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
        declared = declared_seconds(src, fmt, header_duration)
        if declared and duration < declared - max(0.5, 0.05 * declared):
            # a cut upload (or a file cut before it was uploaded): callers would hear part of it
            raise AudioError("truncated", seconds=duration, declared=declared)
        for p in (wav, wav16):
            os.chmod(p, 0o644)   # Asterisk may run as its own user
        return Converted(wav, wav16, round(duration, 2))
    except BaseException:
        wav.unlink(missing_ok=True)
        wav16.unlink(missing_ok=True)
        raise
