"""Find the Debian mirror this machine already uses, from its apt sources.

Both formats are read: one-line ``deb URI SUITE COMPONENTS`` lists and deb822 ``.sources``
files.  The first ``deb`` entry for the machine's own release (not -security/-updates) wins.
"""
from __future__ import annotations

import re
from pathlib import Path

from .errors import PbxError

APT_DIR = Path("/etc/apt")


def _os_codename(os_release: Path = Path("/etc/os-release")) -> str | None:
    try:
        for line in os_release.read_text().splitlines():
            if line.startswith("VERSION_CODENAME="):
                return line.split("=", 1)[1].strip().strip('"') or None
    except OSError:
        pass
    return None


def _one_line_entries(text: str):
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line.startswith("deb "):
            continue
        line = re.sub(r"\[[^\]]*\]", "", line)  # drop [arch=... signed-by=...]
        parts = line.split()
        if len(parts) >= 3:
            yield parts[1], [parts[2]]


def _deb822_entries(text: str):
    for stanza in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        for line in stanza.splitlines():
            if line.startswith("#") or ":" not in line or line[:1].isspace():
                continue
            key, value = line.split(":", 1)
            fields[key.strip().lower()] = value.strip()
        if "deb" not in fields.get("types", "").split():
            continue
        if fields.get("enabled", "yes").lower() == "no":
            continue
        for uri in fields.get("uris", "").split():
            yield uri, fields.get("suites", "").split()


def apt_entries(apt_dir: Path = APT_DIR):
    files = []
    if (apt_dir / "sources.list").is_file():
        files.append(apt_dir / "sources.list")
    d = apt_dir / "sources.list.d"
    if d.is_dir():
        files += sorted(p for p in d.iterdir() if p.suffix in {".list", ".sources"})
    for path in files:
        try:
            text = path.read_text()
        except OSError:
            continue
        parse = _deb822_entries if path.suffix == ".sources" else _one_line_entries
        yield from parse(text)


def find_debian_mirror(apt_dir: Path = APT_DIR, codename: str | None = None) -> str:
    codename = codename or _os_codename()
    candidates = []
    for uri, suites in apt_entries(apt_dir):
        if not uri.startswith(("http://", "https://", "file:/")):
            continue
        plain = [s for s in suites if not re.search(r"-(security|updates|backports)$", s)]
        if not plain or "security" in uri.rstrip("/").rsplit("/", 1)[-1]:
            continue
        if codename and codename in plain:
            return uri.rstrip("/")
        candidates.append(uri.rstrip("/"))
    if candidates:
        return candidates[0]
    raise PbxError(
        "No Debian mirror found in the apt sources (/etc/apt/sources.list, "
        "/etc/apt/sources.list.d/). Set CENTRALA_DEBIAN_MIRROR to a Debian mirror URL."
    )
