"""The local Asterisk: ``centrala pbx up | down | status``.

A system Asterisk >= 20 is used when one is installed.  Otherwise Debian's package runs from
a private root (see ``rootfs``) under ``chroot``, inside its own mount namespace
(``unshare -m``) so the bind mounts it needs disappear with the process.  The data dir is
mounted at the same path inside the root, so every path in the rendered configuration means
the same thing inside and outside.
"""
from __future__ import annotations

import glob
import logging
import os
import re
import shlex
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from centrala.config import Settings

from . import render, rootfs
from .amiprobe import AmiProbeError, wait_fully_booted
from .errors import PbxError

log = logging.getLogger(__name__)
MIN_MAJOR = 20


def _major(version_text: str) -> int | None:
    m = re.search(r"Asterisk\s+(?:certified[/-])?(\d+)", version_text, re.I)
    return int(m.group(1)) if m else None


@dataclass
class SystemLauncher:
    """An Asterisk installed on the machine itself."""
    binary: str

    @property
    def description(self) -> str:
        return f"system Asterisk ({self.binary})"

    def module_dir(self) -> str:
        for pattern in ("/usr/lib/*/asterisk/modules", "/usr/lib/asterisk/modules",
                        "/usr/lib64/asterisk/modules"):
            found = sorted(glob.glob(pattern))
            if found:
                return found[0]
        raise PbxError("Cannot find the Asterisk modules directory of the system Asterisk.")

    def command(self, conf: Path, data_dir: Path) -> list[str]:
        return [self.binary, "-f", "-n", "-C", str(conf)]


@dataclass
class ChrootLauncher:
    """Debian's asterisk package inside a private root, run as root under chroot."""
    root: Path

    @property
    def description(self) -> str:
        return f"Asterisk in the private root {self.root}"

    def module_dir(self) -> str:
        found = sorted(glob.glob(str(self.root / "usr/lib/*/asterisk/modules")))
        if not found:
            raise PbxError(f"No Asterisk modules in {self.root}; delete it to rebuild.")
        return "/" + str(Path(found[0]).relative_to(self.root))

    def command(self, conf: Path, data_dir: Path) -> list[str]:
        r = shlex.quote(str(self.root))
        d = shlex.quote(str(data_dir))
        script = "\n".join([
            "set -e",
            f"mount -t proc proc {r}/proc",
            f"mount --rbind /dev {r}/dev",
            f"mkdir -p {r}{d}",
            f"mount --bind {d} {r}{d}",
            f"exec chroot {r} {rootfs.ASTERISK_BIN} -f -n -C {shlex.quote(str(conf))}",
        ])
        return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script]


def _process_alive(pid: int) -> bool:
    try:
        os.waitpid(pid, os.WNOHANG)  # reap if it is our exited child
    except ChildProcessError:
        pass
    try:
        with open(f"/proc/{pid}/stat") as fh:
            state = fh.read().rsplit(")", 1)[1].split()[0]
        if state in ("Z", "X"):
            # the main thread has exited, but while other threads finish Asterisk's shutdown
            # the process (and its listening sockets) lives on
            return any(t != str(pid) for t in os.listdir(f"/proc/{pid}/task"))
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return b"asterisk" in fh.read()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


class AsteriskRuntime:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.paths = render.RenderPaths.for_settings(settings)
        self.pid_file = settings.asterisk_dir / "asterisk.pid"
        self.console_log = settings.log_dir / "asterisk-console.log"

    # -- locating Asterisk -------------------------------------------------------------
    def launcher(self, build: bool = True):
        system = shutil.which("asterisk")
        if system:
            out = subprocess.run([system, "-V"], capture_output=True, text=True).stdout
            major = _major(out)
            if major and major >= MIN_MAJOR:
                return SystemLauncher(system)
            log.warning("system Asterisk %r is older than %d; using the private root", out.strip(), MIN_MAJOR)
        root = self.settings.asterisk_root
        if not rootfs.is_ready(root):
            if not build:
                raise PbxError(f"No Asterisk >= {MIN_MAJOR} installed and no private root at {root}.")
            rootfs.ensure_root(root, suite=self.settings.asterisk_suite,
                               mirror=self.settings.debian_mirror)
        rootfs.check_prerequisites()
        return ChrootLauncher(root)

    # -- state ---------------------------------------------------------------------------
    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if _process_alive(pid) else None

    def is_running(self) -> bool:
        return self.pid() is not None

    def _secrets(self):
        return self.settings.secrets

    def version(self, timeout: float = 3.0) -> str | None:
        from .amiprobe import ami_actions

        s = self._secrets()
        try:
            (resp,) = ami_actions("127.0.0.1", self.settings.ami_port, s.ami_user, s.ami_password,
                                  [{"Action": "CoreSettings"}], timeout=timeout)
            return resp.get("AsteriskVersion")
        except (OSError, AmiProbeError):
            return None

    def status(self) -> dict:
        pid = self.pid()
        return {
            "running": pid is not None,
            "pid": pid,
            "version": self.version() if pid else None,
            "sip": f"{self.settings.sip_host}:{self.settings.sip_port}/udp",
            "ami": f"127.0.0.1:{self.settings.ami_port}",
            "ari": f"http://127.0.0.1:{self.settings.ari_port}/ari",
            "config": str(self.paths.etc_dir),
            "log": str(self.console_log),
        }

    # -- lifecycle -----------------------------------------------------------------------
    def render_config(self, launcher=None, db=None) -> list[Path]:
        launcher = launcher or self.launcher()
        if db is None:
            return render.render(self.settings, launcher.module_dir())
        return render.render_from_db(self.settings, launcher.module_dir(), db)

    def up(self, db=None, timeout: float = 90.0) -> str:
        """Start Asterisk (unless running) and return its version once fully booted."""
        self.settings.ensure_dirs()
        launcher = self.launcher()
        self.render_config(launcher, db)
        pid = self.pid()
        if pid is None:
            self._check_ports_free()
            self.console_log.parent.mkdir(parents=True, exist_ok=True)
            with open(self.console_log, "ab") as out:
                proc = subprocess.Popen(
                    launcher.command(self.paths.asterisk_conf, self.settings.data_dir),
                    stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                    start_new_session=True, cwd="/")
            pid = proc.pid
            self.pid_file.write_text(f"{pid}\n")
            log.info("started %s, pid %d", launcher.description, pid)
        s = self._secrets()
        try:
            return wait_fully_booted("127.0.0.1", self.settings.ami_port, s.ami_user, s.ami_password,
                                     time.monotonic() + timeout, alive=lambda: _process_alive(pid))
        except AmiProbeError as exc:
            tail = self._log_tail()
            if not _process_alive(pid):
                self.pid_file.unlink(missing_ok=True)
            raise PbxError(f"Asterisk did not start: {exc}.\nLast lines of {self.console_log}:\n{tail}") from exc

    def down(self, timeout: float = 20.0) -> bool:
        """Stop Asterisk cleanly (SIGTERM, then SIGKILL after ``timeout``).  True if it was running."""
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _process_alive(pid):
            if time.monotonic() > deadline:
                log.warning("Asterisk (pid %d) ignored SIGTERM for %.0f s; killing it", pid, timeout)
                os.kill(pid, signal.SIGKILL)
                deadline = time.monotonic() + 5
            time.sleep(0.05)
        self.pid_file.unlink(missing_ok=True)
        return True

    def reload(self, db=None) -> list[Path]:
        """Re-render and ask Asterisk to reload what changed (calls in progress are kept)."""
        from .amiprobe import ami_actions

        changed = self.render_config(db=db)
        if changed and self.is_running():
            s = self._secrets()
            ami_actions("127.0.0.1", self.settings.ami_port, s.ami_user, s.ami_password,
                        [{"Action": "Command", "Command": "core reload"}])
        return changed

    # -- helpers -------------------------------------------------------------------------
    def _check_ports_free(self) -> None:
        import socket

        checks = [("AMI", socket.SOCK_STREAM, "127.0.0.1", self.settings.ami_port),
                  ("ARI/HTTP", socket.SOCK_STREAM, "127.0.0.1", self.settings.ari_port),
                  ("SIP", socket.SOCK_DGRAM, self.settings.sip_host, self.settings.sip_port)]
        for name, kind, host, port in checks:
            with socket.socket(socket.AF_INET, kind) as sock:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    sock.bind((host, port))
                except OSError as exc:
                    raise PbxError(f"The {name} port {host}:{port} is already in use ({exc.strerror}). "
                                   f"Stop what uses it or choose another port "
                                   f"(CENTRALA_{name.split('/')[0]}_PORT).") from exc

    def _log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.console_log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"
