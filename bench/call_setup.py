"""Call-setup latency: how much does Centrala's inbound flow add before an agent's phone rings?

Starts its own Asterisk (temp data dir, SQLite) and the pbx controller in this process, registers
SIPp softphones for a few agents (one SIPp answers for all of them) and puts them Online.  A SIPp
caller behind a trunk then places N calls, one at a time, and for each call the time from the
caller's INVITE (sent) to the agent's INVITE (received) is taken from the two SIPp message traces
(same machine, same clock).

Three paths into the same queue, same Asterisk, same agents, same run:

* Centrala: trunk -> ``centrala-inbound`` -> Stasis app (controller: watch the channel, number
  lookup, history row, anyone Online?) -> ``centrala-queue`` (Answer, Queue).
* baseline: a plain dialplan doing what ``centrala-queue`` does (Answer, Queue) without the Stasis
  detour.  It is written to the instance's ``extensions_local.conf`` (the ``#tryinclude`` at the
  end of ``extensions.conf``): an exact extension for a second number in ``centrala-inbound``
  (an exact match wins over Centrala's pattern) that jumps to ``[bench-plain]``.  pjsip.conf.j2
  has no per-trunk context and no include hook, so a separate baseline trunk is not possible
  without editing the product; the exact extension costs one Goto.
* bare: ``Queue()`` alone (``[bench-bare]``), without the ``Answer()`` that waits up to 500 ms for
  the caller's first RTP frame; the caller is answered only when the agent answers (--no-bare).

The target (Centrala / baseline <= 1.2 at p50 and p99) is checked against the like-for-like
baseline (Answer, Queue).

    .venv/bin/python bench/call_setup.py [--calls 50] [--agents 2]
    .venv/bin/python bench/call_setup.py --calls 5          # CI-sized

This module also holds the helpers the other voice benchmarks (calls_per_second.py,
ring_to_panel.py) import: the throwaway instance, SIPp agents and callers, trace parsing.
"""
from __future__ import annotations

import argparse
import logging
import math
import os
import re
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from agents import events  # noqa: E402
from agents.events import EventBus  # noqa: E402
from centrala.db import Database  # noqa: E402
from centrala.models import Number, Trunk, User  # noqa: E402
from centrala.users import create_user, set_status  # noqa: E402
from pbx.amiprobe import ami_actions  # noqa: E402
from pbx.controller import Controller, ControllerThread  # noqa: E402
from pbx.errors import PbxError  # noqa: E402
from pbx.runtime import AsteriskRuntime  # noqa: E402
from tests.helpers import free_port, instance_settings, wait_for  # noqa: E402

SIPP = REPO / "tests" / "sipp"
CENTRALA_NUMBER = "48221234567"   # the carrier dials it without '+'; +48221234567 is in the pool
PLAIN_NUMBER = "48229990000"      # the baseline: an exact extension -> [bench-plain]
BARE_NUMBER = "48229990001"       # Queue() alone, without Answer() -> [bench-bare]

LOCAL_DIALPLAN = """\
; Written by Centrala's benchmarks into a throwaway instance: the plain-queue baseline.
; The same steps as [centrala-queue] (Answer, music class, Queue) without the Stasis app.
[centrala-inbound]
exten => {plain},1,Goto(bench-plain,${{EXTEN}},1)
exten => {bare},1,Goto(bench-bare,${{EXTEN}},1)

[bench-plain]
exten => _X.,1,NoOp(Plain queue baseline)
 same => n,Answer()
 same => n,Set(CHANNEL(musicclass)=default)
 same => n,Queue({queue},,,,)
 same => n,Hangup()

; app_queue alone: no Answer() (which waits up to 500 ms for the caller's first RTP frame)
[bench-bare]
exten => _X.,1,Queue({queue},,,,)
 same => n,Hangup()
"""

# Many softphones registered from one port: one SIPp answers for all of them (Asterisk rewrites
# each Contact to the REGISTER's source address, as for a softphone behind NAT).
REGISTER_MANY = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="bench agents register">
  <send retrans="500">
    <![CDATA[
      REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:[field0]@[remote_ip]>;tag=[pid]reg[call_number]
      To: <sip:[field0]@[remote_ip]>
      Call-ID: [call_id]
      CSeq: 1 REGISTER
      Contact: <sip:[field0]@[local_ip]:[local_port]>
      Expires: 3600
      Max-Forwards: 70
      User-Agent: SIPp bench softphone
      Content-Length: 0
    ]]>
  </send>
  <recv response="401" auth="true"/>
  <send retrans="500">
    <![CDATA[
      REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:[field0]@[remote_ip]>;tag=[pid]reg[call_number]
      To: <sip:[field0]@[remote_ip]>
      Call-ID: [call_id]
      CSeq: 2 REGISTER
      Contact: <sip:[field0]@[local_ip]:[local_port]>
      [field1]
      Expires: 3600
      Max-Forwards: 70
      User-Agent: SIPp bench softphone
      Content-Length: 0
    ]]>
  </send>
  <recv response="200"/>
</scenario>
"""

log = logging.getLogger("bench")


# -- small helpers ----------------------------------------------------------------------------
def pct(values, p):
    """Nearest-rank percentile (as bench/presence_latency.py)."""
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def cpu_seconds(pid: int, tid: int | None = None) -> float:
    """utime + stime of a process (or one of its threads) from /proc, in seconds."""
    path = f"/proc/{pid}/task/{tid}/stat" if tid else f"/proc/{pid}/stat"
    try:
        with open(path) as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class MachineLoad:
    """CPU of the whole machine during a run, and how much of it was not ours (other people's
    test runs share these cores and show up as latency tails)."""

    def __init__(self, pids_of):
        self.pids_of = pids_of   # -> pids whose CPU is ours (Asterisk, SIPp agents); this process is added

    @staticmethod
    def _stat() -> tuple[int, int]:
        with open("/proc/stat") as fh:
            parts = [int(x) for x in fh.readline().split()[1:]]
        return sum(parts) - parts[3] - parts[4], sum(parts)

    def _ours(self) -> float:
        # this process and its finished (waited-for) children: the callers' SIPp
        return sum(os.times()[:4]) + sum(cpu_seconds(p) for p in self.pids_of())

    def __enter__(self) -> "MachineLoad":
        self.t0, self.o0 = self._stat(), self._ours()
        return self

    def __exit__(self, *exc) -> None:
        (b1, t1), o1 = self._stat(), self._ours()
        hz = os.sysconf("SC_CLK_TCK")
        total = max(1e-9, (t1 - self.t0[1]) / hz)
        self.busy = 100 * (b1 - self.t0[0]) / hz / total
        self.other = max(0.0, 100 * ((b1 - self.t0[0]) / hz - (o1 - self.o0)) / total)

    def line(self) -> str:
        return (f"machine: {self.busy:.0f}% of all {os.cpu_count()} cores busy during the run, "
                f"{self.other:.0f}% by other processes")


def write_caller_audio(path: Path, seconds: float = 2.0) -> None:
    """Raw G.711 a-law that uac_talk.xml streams in a loop (as tests/integration/test_queue.py)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import audioop  # deprecated in 3.11, present until 3.13

    pcm = b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / 8000)))
                   for i in range(int(8000 * seconds)))
    path.write_bytes(audioop.lin2alaw(pcm, 2))


_BLOCK = re.compile(r"^-{20,} (\d{4}-\d\d-\d\d[ \t]\d\d:\d\d:\d\d\.\d+)\n", re.M)


def sip_trace(path: Path) -> list[tuple[float, str, str, str, str]]:
    """A SIPp ``-trace_msg`` file as (epoch time, 'sent'|'received', first line, Call-ID, CSeq
    method).  SIPp writes local time with microseconds; ``timestamp()`` reads it back as local."""
    text = path.read_text(errors="replace") if path.exists() else ""
    out = []
    marks = list(_BLOCK.finditer(text))
    for i, m in enumerate(marks):
        body = text[m.end():marks[i + 1].start() if i + 1 < len(marks) else len(text)]
        lines = body.splitlines()
        if not lines:
            continue
        direction = "sent" if " sent" in lines[0] else "received"
        msg = [ln for ln in lines[1:] if ln.strip()]
        first = msg[0].strip() if msg else ""

        def header(*names):
            return next((ln.split(":", 1)[1].strip() for ln in msg if ln.lower().startswith(names)), "")

        cseq = header("cseq:").split()
        t = datetime.strptime(m.group(1).replace("\t", " "), "%Y-%m-%d %H:%M:%S.%f").timestamp()
        out.append((t, direction, first, header("call-id:", "i:"), cseq[-1] if cseq else ""))
    return out


def first_invites(path: Path, direction: str) -> list[float]:
    """Time of the first INVITE of every call (retransmissions ignored), sorted."""
    seen: dict[str, float] = {}
    for t, d, first, call_id, _method in sip_trace(path):
        if d == direction and first.startswith("INVITE ") and call_id not in seen:
            seen[call_id] = t
    return sorted(seen.values())


def first_answers(path: Path) -> list[float]:
    """Time the caller received the 200 OK to its INVITE (the PBX answered), per call, sorted."""
    seen: dict[str, float] = {}
    for t, d, first, call_id, method in sip_trace(path):
        if d == "received" and first.startswith("SIP/2.0 200") and method == "INVITE" and call_id not in seen:
            seen[call_id] = t
    return sorted(seen.values())


def sipp_stats(path: Path) -> list[dict]:
    """Rows of a SIPp ``-trace_stat`` file (';'-separated, one row per ``-fd`` period), with
    ``t`` = seconds since the start (from the epoch columns of StartTime and CurrentTime)."""
    try:
        lines = [ln for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return []
    if len(lines) < 2:
        return []
    head = lines[0].rstrip(";").split(";")
    rows = []
    for ln in lines[1:]:
        row = dict(zip(head, ln.rstrip(";").split(";")))
        try:
            row["t"] = float(row["CurrentTime"].split("\t")[-1]) - float(row["StartTime"].split("\t")[-1])
        except (KeyError, ValueError):
            continue
        rows.append(row)
    return rows


def pair_after(starts: list[float], ends: list[float], limit: float = 10.0) -> list[float]:
    """For sequential calls: each start's first end after it (and before the next start)."""
    out = []
    for i, s in enumerate(starts):
        nxt = starts[i + 1] if i + 1 < len(starts) else math.inf
        e = next((e for e in ends if s <= e < nxt and e - s < limit), None)
        if e is not None:
            out.append(e - s)
    return out


def _exit_on_sigterm() -> None:
    """SIGTERM (and SIGHUP) unwind like Ctrl-C, so ``with Instance()`` stops Asterisk and SIPp.
    Python's default for them is to die on the spot."""
    import signal

    def stop(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, stop)


# -- the throwaway instance ------------------------------------------------------------------
class Instance:
    """Asterisk + controller in this process + SIPp agents, all on 127.0.0.1, in a temp dir."""

    def __init__(self, agents: int = 2, rtp_ports: int = 200, agent_passwords: bool = False,
                 keep: bool = False, trace_agents: bool = True, **env):
        self.n_agents = agents
        self.trace_agents = trace_agents
        self.rtp_ports = rtp_ports
        self.agent_passwords = agent_passwords
        self.keep = keep
        self.env = env
        self.tmp = Path(tempfile.mkdtemp(prefix="centrala-bench-"))
        self.procs: list[subprocess.Popen] = []
        self.runtime: AsteriskRuntime | None = None
        self.thread: ControllerThread | None = None
        self.ctl: Controller | None = None
        self.db: Database | None = None
        self.agents: list[dict] = []   # {"id", "username", "password", "email"}
        self.agent_port = 0
        self.trunk_port = 0
        self.uas: subprocess.Popen | None = None
        self.bus = EventBus()

    # context manager: everything started is stopped, even on error, Ctrl-C or SIGTERM
    def __enter__(self) -> "Instance":
        _exit_on_sigterm()
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        import random

        for attempt in range(3):
            rtp = random.randrange(20000, 60000 - self.rtp_ports - 2, 2)
            self.settings = instance_settings(
                self.tmp / f"data{attempt}", f"sqlite:///{self.tmp / f'bench{attempt}.db'}",
                CENTRALA_USER_LIMIT=self.n_agents + 10, CENTRALA_RTP_START=rtp,
                CENTRALA_RTP_END=rtp + self.rtp_ports, **self.env)
            self.db = Database.for_settings(self.settings)
            self.db.upgrade()
            self._seed()
            self.runtime = AsteriskRuntime(self.settings)
            try:
                self.runtime.up(db=self.db)   # the agents' endpoints are rendered at boot
                break
            except PbxError as exc:
                self.runtime.down()
                self.db.dispose()
                if attempt == 2 or ("in use" not in str(exc) and "exited" not in str(exc)):
                    raise
                log.warning("Asterisk start attempt %d failed, retrying with other ports", attempt + 1)
        self.asterisk_pid = self.runtime.pid()
        etc = self.runtime.paths.etc_dir
        (etc / "extensions_local.conf").write_text(LOCAL_DIALPLAN.format(plain=PLAIN_NUMBER, bare=BARE_NUMBER, queue="centrala-inbound"))
        self.ami("dialplan reload")
        wait_for(lambda: "bench-plain" in self.ami(f"dialplan show {PLAIN_NUMBER}@centrala-inbound"), 5,
                 what="baseline dialplan loaded")
        wait_for(lambda: f"trunk-bench{self.trunk_port}" in self.ami("pjsip show identifies"), 10,
                 what="trunk loaded")
        self.ctl = Controller(self.settings, self.db, self.bus)
        self.thread = ControllerThread(self.ctl).start()
        wait_for(lambda: self.ctl.ami_up and self.ctl.ari_up, 20, what="controller connected to AMI and ARI")
        self._register_agents()
        self._start_uas()
        self.set_all_status("online")

    def _seed(self) -> None:
        from sqlalchemy import func, select

        self.trunk_port = free_port()
        with self.db.session() as s:
            trunk = Trunk(name=f"bench{self.trunk_port}", host="127.0.0.1", port=self.trunk_port, enabled=True)
            s.add(trunk)
            s.flush()
            s.add(Number(number="+" + CENTRALA_NUMBER, trunk_id=trunk.id, kind="gsm", label="Main", enabled=True))
            self.agents = []
            for i in range(self.n_agents):
                email = f"agent{i}@bench.example.com"
                # Argon2 costs ~50 ms a user: only agents that log in to the panel get a password
                u = create_user(s, email, f"Agent {i}", "agent", "bench password" if self.agent_passwords else None,
                                channels=["voice_in"])
                self.agents.append({"id": u.id, "username": u.sip_username, "password": self.db.secret_box.open(u.sip_password),
                                    "email": email})
            assert s.scalar(select(func.count(User.id))) == self.n_agents

    def ami(self, command: str) -> str:
        s = self.settings.secrets
        (resp,) = ami_actions("127.0.0.1", self.settings.ami_port, s.ami_user, s.ami_password,
                              [{"Action": "Command", "Command": command}])
        return resp.get("Output", "")

    def popen(self, args: list[str], name: str) -> subprocess.Popen:
        out = open(self.tmp / f"{name}.out", "w")
        p = subprocess.Popen(args, cwd=self.tmp, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        out.close()
        self.procs.append(p)
        return p

    def _register_agents(self) -> None:
        """All agents REGISTER from one port (one SIPp, credentials from a CSV)."""
        self.agent_port = free_port()
        csv = self.tmp / "agents.csv"
        # SIPp expands the keyword in field1 per line (it takes no [field] inside [authentication])
        csv.write_text("SEQUENTIAL\n" + "".join(
            f"{a['username']};[authentication username={a['username']} password={a['password']}]\n"
            for a in self.agents))
        (self.tmp / "register_many.xml").write_text(REGISTER_MANY)
        r = subprocess.run(
            ["sipp", "-sf", str(self.tmp / "register_many.xml"), f"127.0.0.1:{self.settings.sip_port}",
             "-i", "127.0.0.1", "-p", str(self.agent_port), "-inf", str(csv), "-m", str(len(self.agents)),
             "-r", "200", "-l", "20", "-nostdin", "-timeout", "60", "-timeout_error"],
            cwd=self.tmp, capture_output=True, text=True, timeout=90)
        if r.returncode != 0:
            raise RuntimeError("agents' REGISTER failed:\n" + r.stdout[-2000:])

        def registered() -> bool:
            out = self.ami("pjsip show contacts")
            m = re.search(r"Objects found: (\d+)", out)
            return bool(m) and int(m.group(1)) >= len(self.agents)

        wait_for(registered, 15, interval=0.2, what="every agent's contact registered")

    def _start_uas(self) -> None:
        self.uas_media = free_port()
        trace = ["-trace_msg", "-message_file", str(self.tmp / "agents.msg")] if self.trace_agents else []
        self.uas = self.popen(
            ["sipp", "-sf", str(SIPP / "uas_answer.xml"), "-i", "127.0.0.1", "-p", str(self.agent_port),
             "-mi", "127.0.0.1", "-mp", str(self.uas_media), "-m", "1000000", "-nostdin", *trace,
             "-trace_err", "-error_file", str(self.tmp / "agents.err"),
             "-trace_stat", "-stf", str(self.tmp / "agents.stat"), "-fd", "1"], "agents")
        time.sleep(0.3)
        if self.uas.poll() is not None:
            raise RuntimeError("agents' SIPp exited: " + (self.tmp / "agents.out").read_text()[-1500:])

    def set_all_status(self, status: str) -> None:
        with self.db.session() as s:
            for a in self.agents:
                set_status(s.get(User, a["id"]), status)
        for a in self.agents:
            self.bus.publish(events.AGENT_STATUS_CHANGED, user_id=a["id"], status=status, channels=["voice_in"])
        want = status == "online"
        wait_for(lambda: sum(1 for a in self.agents if self.ctl.members.get(f"PJSIP/{a['username']}") is False)
                 == (len(self.agents) if want else 0), 30, interval=0.1, what=f"agents {status} in the queue")

    def caller(self, number: str, calls: int, name: str, rate: float = 1.0, rate_period_ms: int = 1000,
               limit: int = 1, talk_ms: int = 300, trace_msg: bool = True, timeout: float = 600,
               extra: list[str] = ()) -> subprocess.Popen:
        """A SIPp caller behind the trunk (tests/sipp/uac_talk.xml): ``calls`` calls at ``rate`` per
        ``rate_period_ms``, at most ``limit`` at once, each talking ``talk_ms`` after the answer."""
        if not (self.tmp / "caller.alaw").exists():
            write_caller_audio(self.tmp / "caller.alaw")
        args = ["sipp", "-sf", str(SIPP / "uac_talk.xml"), "-s", number, f"127.0.0.1:{self.settings.sip_port}",
                "-i", "127.0.0.1", "-p", str(self.trunk_port), "-mi", "127.0.0.1", "-mp", str(free_port()),
                "-m", str(calls), "-r", f"{rate:g}", "-rp", str(rate_period_ms), "-l", str(limit),
                "-d", str(talk_ms), "-nostdin", "-recv_timeout", "30000", "-timeout", str(int(timeout)),
                "-timeout_error", "-trace_err", "-error_file", str(self.tmp / f"{name}.err"),
                "-trace_stat", "-stf", str(self.tmp / f"{name}.stat"), "-fd", "1"]
        if trace_msg:
            args += ["-trace_msg", "-message_file", str(self.tmp / f"{name}.msg")]
        return self.popen(args + list(extra), name)

    def wait_idle(self, timeout: float = 30) -> None:
        """No channel left in Asterisk (the previous batch is really over)."""
        wait_for(lambda: re.search(r"^0 active channels", self.ami("core show channels count"), re.M), timeout,
                 interval=0.2, what="Asterisk idle")

    def queue_counts(self) -> tuple[int, int]:
        """(completed, abandoned) of the queue since the last 'queue reset stats'."""
        m = re.search(r"C:(\d+), A:(\d+)", self.ami("queue show centrala-inbound"))
        return (int(m.group(1)), int(m.group(2))) if m else (0, 0)

    def asterisk_warnings(self) -> list[str]:
        try:
            text = self.runtime.console_log.read_text(errors="replace")
        except OSError:
            return []
        return [ln for ln in text.splitlines() if "WARNING" in ln or "ERROR" in ln]

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        if self.thread is not None:
            self.thread.stop()
        if self.runtime is not None:
            try:
                self.runtime.down()
            except Exception as exc:  # noqa: BLE001 - report, keep cleaning up
                log.warning("stopping Asterisk failed: %s", exc)
        if self.db is not None:
            self.db.dispose()
        if self.keep:
            print(f"(kept {self.tmp})")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


class BusTimes:
    """Wall-clock times at which domain events were published (handlers run inside publish)."""

    def __init__(self, bus: EventBus, *names: str):
        self.times: dict[str, list[tuple[float, dict]]] = {n: [] for n in names}
        self._lock = threading.Lock()
        for n in names:
            bus.subscribe(n, self._record)

    def _record(self, event) -> None:
        t = time.time()
        with self._lock:
            self.times[event.name].append((t, dict(event.data)))

    def clear(self) -> None:
        with self._lock:
            for v in self.times.values():
                v.clear()

    def of(self, name: str) -> list[float]:
        with self._lock:
            return [t for t, _ in self.times[name]]


# -- the benchmark ----------------------------------------------------------------------------
def run_batch(inst: Instance, number: str, calls: int, name: str, interval_ms: int, talk_ms: int) -> subprocess.Popen:
    caller = inst.caller(number, calls, name, rate=1, rate_period_ms=interval_ms, limit=1, talk_ms=talk_ms,
                         timeout=calls * (interval_ms + talk_ms) / 1000 + 60)
    rc = caller.wait()
    if rc != 0:
        raise RuntimeError(f"caller {name} failed (rc {rc}):\n" + (inst.tmp / f"{name}.out").read_text()[-1500:])
    inst.wait_idle()
    return caller


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=int, default=50, help="calls measured per path (default 50)")
    ap.add_argument("--agents", type=int, default=2, help="registered agents answering (default 2)")
    ap.add_argument("--rounds", type=int, default=2, help="alternate the paths' batches N times (default 2)")
    # not a multiple of 20 ms: SIPp streams RTP on a 20 ms grid and Answer() waits for the caller's
    # first voice frame, so a period on that grid would give every call the same phase (a bias)
    ap.add_argument("--interval-ms", type=int, default=1507, help="one call every N ms (default 1507)")
    ap.add_argument("--talk-ms", type=int, default=1000,
                    help="caller stays N ms after the answer (default 1000; the agent answers after 300 ms)")
    ap.add_argument("--warmup", type=int, default=2, help="calls per path not measured (default 2)")
    ap.add_argument("--no-bare", action="store_true", help="skip the bare Queue() path (no Answer)")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (traces, logs)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    paths = ([] if args.no_bare else [("bare", BARE_NUMBER)]) + [("plain", PLAIN_NUMBER), ("centrala", CENTRALA_NUMBER)]
    per_round = [args.calls // args.rounds + (1 if r < args.calls % args.rounds else 0) for r in range(args.rounds)]
    lat = {p: [] for p, _ in paths}
    to_answer = {p: [] for p, _ in paths}
    answer_to_agent = {p: [] for p, _ in paths}
    to_stasis, stasis_to_agent = [], []
    with Instance(agents=args.agents, keep=args.keep) as inst, \
            MachineLoad(lambda: [inst.asterisk_pid, inst.uas.pid]) as load:
        seen = BusTimes(inst.bus, events.CALL_ENTERED)
        for path, number in paths:
            if args.warmup:
                run_batch(inst, number, args.warmup, f"warmup-{path}", args.interval_ms, args.talk_ms)
        for r, n in enumerate(per_round):
            if n == 0:
                continue
            for path, number in paths:
                name = f"{path}-{r}"
                agent_mark = len(first_invites(inst.tmp / "agents.msg", "received"))
                seen.clear()
                run_batch(inst, number, n, name, args.interval_ms, args.talk_ms)
                time.sleep(0.2)  # the agents' SIPp flushes its trace
                starts = first_invites(inst.tmp / f"{name}.msg", "sent")
                rung = first_invites(inst.tmp / "agents.msg", "received")[agent_mark:]
                got = pair_after(starts, rung)
                if len(got) != n:
                    raise RuntimeError(f"{name}: {len(got)} of {n} calls reached an agent")
                lat[path] += got
                if path == "centrala":
                    stasis = seen.of(events.CALL_ENTERED)
                    to_stasis += pair_after(starts, stasis)
                    stasis_to_agent += pair_after(stasis, rung)
                if path != "bare":   # the bare path answers the caller only when the agent does
                    answers = first_answers(inst.tmp / f"{name}.msg")
                    to_answer[path] += pair_after(starts, answers)
                    answer_to_agent[path] += pair_after(answers, rung)
        completed, abandoned = inst.queue_counts()
        warnings = inst.asterisk_warnings()

    def quant(xs, q):
        return statistics.median(xs) if q == 50 else pct(xs, q)

    def row(label, xs):
        xs = [x * 1000 for x in xs]
        if not xs:
            return f"| {label:<60} |     0 |         |         |         |         |"
        return (f"| {label:<60} | {len(xs):5d} | {statistics.median(xs):7.1f} | {pct(xs, 90):7.1f} "
                f"| {pct(xs, 99):7.1f} | {max(xs):7.1f} |")

    def ratio_rows(base: str, label: str) -> list[str]:
        c, b = lat["centrala"], lat[base]
        r = [quant(c, q) / quant(b, q) for q in (50, 90, 99)]
        d = [(quant(c, q) - quant(b, q)) * 1000 for q in (50, 90, 99)]
        return [f"| {'ratio Centrala / ' + label:<60} |       | {r[0]:7.2f} | {r[1]:7.2f} | {r[2]:7.2f} |         |",
                f"| {'added by Centrala vs ' + label + ' (ms)':<60} |       | {d[0]:7.1f} | {d[1]:7.1f} "
                f"| {d[2]:7.1f} |         |"]

    print(f"\nCall setup: caller's INVITE sent -> agent's INVITE received, {args.calls} calls per path, "
          f"{args.agents} agents, one call at a time (ms)\n")
    print(f"| {'path':<60} | calls |     p50 |     p90 |     p99 |     max |")
    print(f"|{'-' * 62}|-------|---------|---------|---------|---------|")
    if "bare" in lat:
        print(row("bare Queue() (caller answered only when the agent answers)", lat["bare"]))
    print(row("baseline: plain dialplan Answer(), Queue()", lat["plain"]))
    print(row("Centrala: Stasis app -> centrala-queue: Answer(), Queue()", lat["centrala"]))
    print(row("  baseline: INVITE -> caller gets 200 OK (Answer)", to_answer["plain"]))
    print(row("  baseline: 200 OK -> agent's INVITE", answer_to_agent["plain"]))
    print(row("  Centrala: INVITE -> controller sees StasisStart", to_stasis))
    print(row("  Centrala: StasisStart -> agent's INVITE", stasis_to_agent))
    print(row("  Centrala: INVITE -> caller gets 200 OK (Answer)", to_answer["centrala"]))
    print(row("  Centrala: 200 OK -> agent's INVITE", answer_to_agent["centrala"]))
    for ln in ratio_rows("plain", "baseline"):
        print(ln)
    if "bare" in lat:
        for ln in ratio_rows("bare", "bare Queue()"):
            print(ln)
    r50 = statistics.median(lat["centrala"]) / statistics.median(lat["plain"])
    r99 = pct(lat["centrala"], 99) / pct(lat["plain"], 99)
    print(f"\ntarget: ratio Centrala / baseline (same Answer, Queue) <= 1.2 at p50 and p99 -> "
          f"{'met' if r50 <= 1.2 and r99 <= 1.2 else 'MISSED'} ({r50:.2f}, {r99:.2f})")
    print(f"queue: {completed} calls completed, {abandoned} abandoned; "
          f"Asterisk WARNING/ERROR lines: {len(warnings)}")
    for ln in warnings[-5:]:
        print("  " + ln[:200])
    print(load.line())


if __name__ == "__main__":
    main()
