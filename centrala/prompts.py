"""Voice prompts (VOI-4): what callers hear on arrival, while waiting, and at the answering
machine.  Shared by the web panel (which changes them) and the pbx renderer (which makes
Asterisk play them); no Flask here.

On disk, under ``Settings.prompts_dir`` (the data dir is mounted at the same path inside
Asterisk's root, so these absolute paths mean the same to Asterisk):

    <prompts>/<kind>/<stored>.wav     8 kHz mono PCM      (what Asterisk plays to G.711 callers)
    <prompts>/<kind>/<stored>.wav16   16 kHz mono PCM     (wideband callers)
    <prompts>/originals/<stored><ext> the upload as it came (download)
    <prompts>/.staging/               uploads being checked; renamed into place only on success

The database (``prompts``, ``prompt_files``) is the truth: only files it names are played.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

KINDS = ("welcome", "hold", "answering")
MODES = ("off", "default", "custom")
# A fresh installation: no greeting (Asterisk's stock prompts are English, most of our callers
# are not), stock music on hold, the stock "nobody is available" at the answering machine.
INITIAL_MODE = {"welcome": "off", "hold": "default", "answering": "default"}
# Longest accepted recording per kind, in seconds.
MAX_SECONDS = {"welcome": 120, "hold": 30 * 60, "answering": 120}
MAX_HOLD_FILES = 20
# "Default" = sounds from Debian's asterisk-core-sounds-en / asterisk-moh-opsound-wav.
DEFAULT_SOUNDS = {
    "welcome": "pls-hold-while-try",    # "Please hold while we try to connect you."
    "answering": "vm-intro",            # "Please leave your message after the tone. When done,
                                        #  hang up or press the pound key."
}
DEFAULT_MOH_DIR = "/usr/share/asterisk/moh"


def kind_dir(prompts_dir: Path, kind: str) -> Path:
    if kind not in KINDS:
        raise ValueError(f"unknown prompt kind {kind!r}")
    return Path(prompts_dir) / kind


def originals_dir(prompts_dir: Path) -> Path:
    return Path(prompts_dir) / "originals"


def staging_dir(prompts_dir: Path) -> Path:
    return Path(prompts_dir) / ".staging"


def playable(prompts_dir: Path, kind: str, stored_name: str) -> Path:
    """The path Asterisk is given: no extension, it picks .wav or .wav16 for the channel."""
    return kind_dir(prompts_dir, kind) / stored_name


@dataclass(frozen=True)
class PromptPlan:
    """What Asterisk should play, resolved from the database and the files on disk."""
    welcome: str | None                 # Playback() argument, or None (Off)
    answering: str | None               # the answering machine's greeting, or None (Off)
    hold_mode: str                      # off | default | custom (custom only with files present)
    hold_files: tuple[str, ...]         # absolute paths without extension (custom only)

    @classmethod
    def initial(cls) -> "PromptPlan":
        return cls(welcome=None, answering=DEFAULT_SOUNDS["answering"], hold_mode="default", hold_files=())


def plan_from_session(session, prompts_dir: Path) -> PromptPlan:
    """Resolve each prompt.  A Custom prompt whose files are missing on disk falls back to
    Default, so a caller never hears silence because of a lost file."""
    from sqlalchemy import select

    from .models import Prompt, PromptFile

    modes = dict(INITIAL_MODE)
    modes.update({p.kind: p.mode for p in session.scalars(select(Prompt))})
    files: dict[str, list[str]] = {k: [] for k in KINDS}
    for f in session.scalars(select(PromptFile).order_by(PromptFile.uploaded_at, PromptFile.id)):
        path = playable(prompts_dir, f.kind, f.stored_name)
        if path.with_suffix(".wav").exists():
            files[f.kind].append(str(path))

    def single(kind: str) -> str | None:
        mode = modes[kind]
        if mode == "off":
            return None
        if mode == "custom" and files[kind]:
            return files[kind][-1]
        return DEFAULT_SOUNDS[kind]

    hold_mode = modes["hold"]
    if hold_mode == "custom" and not files["hold"]:
        hold_mode = "default"
    return PromptPlan(welcome=single("welcome"), answering=single("answering"), hold_mode=hold_mode,
                      hold_files=tuple(files["hold"]) if hold_mode == "custom" else ())


def plan_from_db(db, prompts_dir: Path) -> PromptPlan:
    with db.session() as s:
        return plan_from_session(s, prompts_dir)
