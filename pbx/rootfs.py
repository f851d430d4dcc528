"""A private root with Debian's ``asterisk`` package, for machines without a system Asterisk.

Built once with ``debootstrap`` from the mirror in the machine's apt sources, then cached
(``CENTRALA_ASTERISK_ROOT``, default ``/var/cache/centrala/asterisk-root``).  Building is
atomic: it happens in a sibling directory renamed into place only when complete, under a
lock so two instances starting together build it once.
"""
from __future__ import annotations

import fcntl
import logging
import os
import shutil
import subprocess
from pathlib import Path

from .errors import PbxError
from .mirror import find_debian_mirror

log = logging.getLogger(__name__)

PACKAGES = ["asterisk", "asterisk-core-sounds-en", "asterisk-moh-opsound-wav"]
READY_MARKER = ".centrala-ready"
ASTERISK_BIN = "/usr/sbin/asterisk"


def is_ready(root: Path) -> bool:
    return (root / READY_MARKER).is_file() and (root / ASTERISK_BIN.lstrip("/")).exists()


def _run(cmd: list[str], log_file: Path, what: str, env: dict | None = None) -> None:
    with open(log_file, "ab") as fh:
        fh.write(f"\n$ {' '.join(cmd)}\n".encode())
        fh.flush()
        proc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env)
    if proc.returncode != 0:
        tail = log_file.read_text(errors="replace").strip().splitlines()[-15:]
        raise PbxError(f"{what} failed (exit {proc.returncode}). Last lines of {log_file}:\n"
                       + "\n".join(tail))


def check_prerequisites() -> None:
    if os.geteuid() != 0:
        raise PbxError("The local Asterisk runtime needs root (debootstrap, chroot, mounts). "
                       "Run as root, or install Asterisk >= 20 on the system.")
    missing = [tool for tool in ("debootstrap", "chroot", "unshare", "mount")
               if shutil.which(tool) is None]
    if missing:
        raise PbxError("Missing tools for the local Asterisk runtime: " + ", ".join(missing)
                       + ". Install them with: apt-get install debootstrap util-linux")


def ensure_root(root: Path, suite: str = "sid", mirror: str = "", log_file: Path | None = None) -> Path:
    """Return a ready root, building it first if needed."""
    root = Path(root)
    if is_ready(root):
        return root
    check_prerequisites()
    root.parent.mkdir(parents=True, exist_ok=True)
    log_file = log_file or root.parent / "asterisk-root-build.log"
    with open(root.parent / (root.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if is_ready(root):
            return root
        mirror = mirror or find_debian_mirror()
        _probe_mirror(mirror, suite)
        build = root.parent / (root.name + ".build")
        if build.exists():
            shutil.rmtree(build)
        log.info("building the Asterisk root in %s from %s (%s); log: %s", root, mirror, suite, log_file)
        _run(["debootstrap", "--variant=minbase", suite, str(build), mirror], log_file,
             f"debootstrap of Debian {suite} from {mirror}")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive", LC_ALL="C")
        # No daemons may start inside the root while installing.
        (build / "usr/sbin/policy-rc.d").write_text("#!/bin/sh\nexit 101\n")
        (build / "usr/sbin/policy-rc.d").chmod(0o755)
        _run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
              f'mount -t proc proc "{build}/proc" && exec chroot "{build}" apt-get install -y -q '
              "--no-install-recommends " + " ".join(PACKAGES)],
             log_file, "installing asterisk into the root", env=env)
        _run(["chroot", str(build), "apt-get", "clean"], log_file, "cleaning the apt cache", env=env)
        version = subprocess.run(["chroot", str(build), ASTERISK_BIN, "-V"], capture_output=True,
                                 text=True).stdout.strip()
        (build / READY_MARKER).write_text(version + "\n")
        if root.exists():
            shutil.rmtree(root)
        build.rename(root)
        log.info("Asterisk root ready: %s", version)
    return root


def _probe_mirror(mirror: str, suite: str) -> None:
    """Fail early with a clear message when the mirror cannot be reached."""
    if mirror.startswith("file:"):
        return
    import urllib.error
    import urllib.request

    url = f"{mirror}/dists/{suite}/Release"
    try:
        with urllib.request.urlopen(url, timeout=20) as resp:
            resp.read(64)
    except (urllib.error.URLError, OSError) as exc:
        raise PbxError(f"The Debian mirror {mirror} is unreachable ({url}: {exc}). "
                       "Check the network or set CENTRALA_DEBIAN_MIRROR.") from exc
