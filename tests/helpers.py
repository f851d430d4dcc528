"""Test helpers: free ports, instance settings, waiting on conditions with a deadline."""
from __future__ import annotations

import random
import socket
import threading
import time
from pathlib import Path

from centrala.config import Settings


def free_port(kind=None) -> int:
    """A loopback port free right now; by default free for both TCP and UDP (SIPp and Asterisk
    use UDP: a port only free for TCP failed SIPp's bind now and then)."""
    for _ in range(200):
        with socket.socket(socket.AF_INET, kind or socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if kind is not None:
            return port
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                u.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
    raise RuntimeError("no free port")


def free_media_port() -> int:
    """A base port for a SIPp's media (-mp): SIPp binds UDP port, port+1 (RTCP) and port+2,
    port+3 (video); a port merely free for TCP collided now and then ("Unable to bind audio
    RTP socket")."""
    for _ in range(200):
        base = free_port(socket.SOCK_DGRAM) & ~1
        held = []
        try:
            for p in range(base, base + 4):
                u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                held.append(u)
                u.bind(("127.0.0.1", p))
            return base
        except OSError:
            continue
        finally:
            for u in held:
                u.close()
    raise RuntimeError("no four free UDP ports in a row")


def free_ports(n: int) -> list[int]:
    """n ports free for both TCP and UDP on loopback."""
    ports: list[int] = []
    while len(ports) < n:
        p = free_port()
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                u.bind(("127.0.0.1", p))
        except OSError:
            continue
        if p not in ports:
            ports.append(p)
    return ports


def instance_settings(data_dir: Path, database_url: str = "", **extra) -> Settings:
    http, sip, ami, ari = free_ports(4)
    rtp = random.randrange(20000, 29000, 200)
    env = {
        "CENTRALA_DATA_DIR": str(data_dir), "CENTRALA_HTTP_PORT": str(http),
        "CENTRALA_SIP_PORT": str(sip), "CENTRALA_AMI_PORT": str(ami), "CENTRALA_ARI_PORT": str(ari),
        "CENTRALA_RTP_START": str(rtp), "CENTRALA_RTP_END": str(rtp + 198),
    }
    if database_url:
        env["CENTRALA_DATABASE_URL"] = database_url
    env.update({k: str(v) for k, v in extra.items()})
    return Settings.load(environ=env)


def settings_env(settings: Settings) -> dict[str, str]:
    return {
        "CENTRALA_DATA_DIR": str(settings.data_dir), "CENTRALA_HTTP_PORT": str(settings.http_port),
        "CENTRALA_SIP_PORT": str(settings.sip_port), "CENTRALA_AMI_PORT": str(settings.ami_port),
        "CENTRALA_ARI_PORT": str(settings.ari_port), "CENTRALA_RTP_START": str(settings.rtp_start),
        "CENTRALA_RTP_END": str(settings.rtp_end), "CENTRALA_DATABASE_URL": settings.database_url,
    }


def wait_for(predicate, timeout: float, interval: float = 0.05, what: str = "condition"):
    """Poll ``predicate`` until it returns a truthy value or the deadline passes."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.1f} s waiting for {what}")
        time.sleep(interval)


class EventRecorder:
    """Collects domain events from a bus; lets a test wait for one with a deadline."""

    def __init__(self, bus):
        self.events = []
        self._cond = threading.Condition()
        bus.subscribe("*", self._record)

    def _record(self, event):
        with self._cond:
            self.events.append(event)
            self._cond.notify_all()

    def wait(self, name: str, timeout: float, **match):
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for e in self.events:
                    if e.name == name and all(e.data.get(k) == v for k, v in match.items()):
                        return e
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    names = [(e.name, e.data) for e in self.events]
                    raise AssertionError(f"no {name} {match} within {timeout} s; saw {names}")
                self._cond.wait(remaining)

    def clear(self):
        with self._cond:
            self.events.clear()


def run_coroutine(coro):
    """``asyncio.run(coro)`` on a thread of its own: the browser tests' session-wide Playwright
    keeps an event loop running on the main thread, where asyncio.run refuses to start."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1, thread_name_prefix="test-loop") as pool:
        return pool.submit(asyncio.run, coro).result()
