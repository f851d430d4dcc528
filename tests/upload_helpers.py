"""Helpers for the bad-uploads suite: the process's peak memory around a call, and what a test
wrote on the file system."""
from __future__ import annotations

import re
from pathlib import Path


def _status_kib(key: str) -> int:
    text = Path("/proc/self/status").read_text()
    return int(re.search(rf"^{key}:\s+(\d+) kB", text, re.M).group(1))


def peak_growth_mib(fn):
    """(fn's result, how far this process's peak resident memory rose above its resident memory
    before the call, in MiB).  The peak (VmHWM) is reset first through /proc/self/clear_refs."""
    Path("/proc/self/clear_refs").write_text("5")
    before = _status_kib("VmRSS")
    result = fn()
    return result, (_status_kib("VmHWM") - before) / 1024


def files_under(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in Path(root).rglob("*") if p.is_file() or p.is_symlink()}
