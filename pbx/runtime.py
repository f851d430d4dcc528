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


def _process_alive(pid: int, marker: bytes = b"asterisk") -> bool:
    """Whether ``pid`` is still the Asterisk we started, seen from any process (``centrala pbx
    status`` reads the pid file).  Every step of the ``unshare → sh → chroot → asterisk`` exec
    chain has the configuration path (``marker``) on its command line; for an instant while one
    step execs the next the command line reads empty: that is still our process, not a dead one."""
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
            cmdline = fh.read()
        return not cmdline or marker in cmdline
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def processes_mentioning(text: str) -> list[int]:
    """Pids of the processes whose command line contains ``text`` (e.g. an instance's
    configuration path: its Asterisk at any step of the exec chain), this one excepted."""
    needle, found = text.encode(), []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                if needle in fh.read():
                    found.append(int(entry))
        except OSError:
            continue
    return found


def _signal_group(pid: int, sig: int) -> None:
    """Signal the process and, when it leads its own group (it was started in a new session),
    the helpers of the exec chain with it (``mount`` run by the ``sh`` step)."""
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
    except ProcessLookupError:
        pass


def stop_process(pid: int, timeout: float = 20.0, alive=None) -> None:
    """SIGTERM (to its group), then SIGKILL after ``timeout``; return once it is gone."""
    alive = alive or (lambda p: _process_alive(p, b""))
    _signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while alive(pid):
        if time.monotonic() > deadline:
            log.warning("Asterisk (pid %d) ignored SIGTERM for %.0f s; killing it", pid, timeout)
            _signal_group(pid, signal.SIGKILL)
            deadline = time.monotonic() + 5
        time.sleep(0.05)


def asterisks_under(path: Path) -> list[int]:
    """Every Asterisk (at any step of its exec chain) whose configuration lies under ``path``."""
    marker = "/asterisk/etc/asterisk.conf"
    pids = []
    for pid in processes_mentioning(str(path)):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                if marker.encode() in fh.read():
                    pids.append(pid)
        except OSError:
            continue
    return pids


class AsteriskRuntime:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.paths = render.RenderPaths.for_settings(settings)
        self.pid_file = settings.asterisk_dir / "asterisk.pid"
        self.console_log = settings.log_dir / "asterisk-console.log"
        self.process: subprocess.Popen | None = None   # the Asterisk this object started, if any

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
        return pid if self._alive(pid) else None

    def _alive(self, pid: int) -> bool:
        """Liveness by the process handle for the Asterisk this object started (exact, whatever
        step of the exec chain it is at); by /proc for one started by another process."""
        if self.process is not None and self.process.pid == pid:
            return self.process.poll() is None
        return _process_alive(pid, str(self.paths.asterisk_conf).encode())

    def stray_pids(self) -> list[int]:
        """Asterisk processes of this data dir that the pid file does not name (left by a
        start-up that failed, or by a test that restarted Asterisk)."""
        known = self.pid()
        return [p for p in processes_mentioning(str(self.paths.asterisk_conf))
                if p != known and _process_alive(p, str(self.paths.asterisk_conf).encode())]

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
        """Start Asterisk (unless running) and return its version once fully booted.  If the
        start fails in any way after Asterisk was spawned, that Asterisk is stopped again: a
        failed start never leaves a process holding the ports."""
        self.settings.ensure_dirs()
        launcher = self.launcher()
        self.render_config(launcher, db)
        pid = self.pid()
        spawned = pid is None
        if spawned:
            pid = self._spawn(launcher)
        s = self._secrets()
        try:
            return wait_fully_booted("127.0.0.1", self.settings.ami_port, s.ami_user, s.ami_password,
                                     time.monotonic() + timeout, alive=lambda: self._alive(pid))
        except BaseException as exc:
            exited = not self._alive(pid)
            if spawned:
                self._stop_process(pid, timeout=10.0)
                self.pid_file.unlink(missing_ok=True)
            elif exited:
                self.pid_file.unlink(missing_ok=True)
            if not isinstance(exc, AmiProbeError):
                raise
            tail = self._log_tail()
            raise PbxError(f"Asterisk did not start: {exc}.\nLast lines of {self.console_log}:\n{tail}") from exc

    def _spawn(self, launcher) -> int:
        self._check_ports_free()
        self.console_log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.console_log, "ab") as out:
            self.process = subprocess.Popen(
                launcher.command(self.paths.asterisk_conf, self.settings.data_dir),
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True, cwd="/")
        pid = self.process.pid
        self.pid_file.write_text(f"{pid}\n")
        log.info("started %s, pid %d", launcher.description, pid)
        return pid

    def down(self, timeout: float = 20.0) -> bool:
        """Stop Asterisk cleanly (SIGTERM, then SIGKILL after ``timeout``), and any stray
        Asterisk of this data dir the pid file does not name.  True if one was running."""
        pids = [p for p in [self.pid()] if p is not None] + self.stray_pids()
        for pid in pids:
            self._stop_process(pid, timeout)
        self.pid_file.unlink(missing_ok=True)
        return bool(pids)

    def _stop_process(self, pid: int, timeout: float) -> None:
        stop_process(pid, timeout, alive=self._alive)

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
                    strays = self.stray_pids()
                    if strays:
                        raise PbxError(f"The {name} port {host}:{port} is held by an Asterisk of this data dir "
                                       f"that is no longer tracked (pid {', '.join(map(str, strays))}); "
                                       f"'centrala pbx down' stops it.") from exc
                    raise PbxError(f"The {name} port {host}:{port} is already in use ({exc.strerror}). "
                                   f"Stop what uses it or choose another port "
                                   f"(CENTRALA_{name.split('/')[0]}_PORT).") from exc

    def _log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.console_log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"
