"""Names that come with uploads (a browser's or an API client's ``filename``).

Such a name is never a path on disk here (files are stored under random keys); it is shown and
offered back as a download name.  So it must not carry directories (``../``), NUL or other
control characters, bidirectional overrides that make ``gpj.exe`` look like ``exe.jpg``
(U+202E), nor be longer than a file system or a cookie can take.
"""
from __future__ import annotations

import unicodedata

MAX_NAME = 255
# control, format (bidi overrides, zero-width), line/paragraph separators, lone surrogates (not
# encodable).  Not "unassigned": an emoji newer than Python's Unicode tables is a fair name.
UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})


def is_unsafe_char(ch: str) -> bool:
    return unicodedata.category(ch) in UNSAFE_CATEGORIES


def safe_name(raw: str | None, default: str, max_len: int = MAX_NAME) -> str:
    """The name's last path part with unsafe characters removed, NFC, at most ``max_len``
    characters (the extension kept when shortened); ``default`` when nothing usable is left."""
    name = unicodedata.normalize("NFC", str(raw or "")).replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if not is_unsafe_char(ch)).strip()
    if name in {"", ".", ".."}:
        return default
    if len(name) > max_len:
        stem, dot, ext = name.rpartition(".")
        if dot and stem and 0 < len(ext) <= 16:
            name = stem[:max_len - len(ext) - 1].rstrip() + "." + ext
        else:
            name = name[:max_len]
    return name


def shown_name(raw: str | None, max_len: int = 80) -> str:
    """A name for an error message: unsafe characters made visible as U+FFFD, cut to
    ``max_len`` characters with an ellipsis."""
    text = "".join("\ufffd" if is_unsafe_char(ch) else ch for ch in str(raw or ""))
    return text if len(text) <= max_len else text[:max_len - 1] + "…"
