"""Sustained calls per second into the queue, with many SIPp agents answering.

Starts its own Asterisk (temp data dir, SQLite) and the pbx controller in this process, registers
A agents (one SIPp answers for all of them: tests/sipp/uas_answer.xml, rings 300 ms, answers,
plays audio) and puts them Online.  A SIPp caller behind a trunk (tests/sipp/uac_talk.xml, audio
both ways) then offers R calls a second for S seconds; each caller stays ``--talk-ms`` after the
answer and hangs up.  The same load runs twice in the same run: first into the plain-queue
baseline (``[bench-plain]``: Answer, Queue — see bench/call_setup.py), then through Centrala's
inbound flow (trunk -> Stasis app -> centrala-queue -> Queue).

Reported per run: the call rate SIPp achieved, the peak of concurrent calls (caller SIPp, and
Asterisk's active calls sampled every second), calls answered by an agent, failures (the caller's
SIPp, callers who left the queue unanswered, the agents' SIPp), and CPU seconds per call of
Asterisk (/proc/<pid>/stat), of the controller's event-loop thread (/proc/self/task/<tid>/stat),
of this whole Python process (os.times(): the controller, its database threads, the sampler) and
of the SIPp processes — all on this machine's cores, so the load generator competes with Asterisk.

    .venv/bin/python bench/calls_per_second.py                       # small: 5 calls/s for 10 s
    .venv/bin/python bench/calls_per_second.py --rate 20 --seconds 60 --talk-ms 5000   # the target
"""
from __future__ import annotations

import argparse
import logging
import math
import os
import re
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from call_setup import CENTRALA_NUMBER, PLAIN_NUMBER, Instance, cpu_seconds, pct, sipp_stats  # noqa: E402

nan = float("nan")

from sqlalchemy import func  # noqa: E402

from centrala.models import Communication  # noqa: E402


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all cores from /proc/stat."""
    with open("/proc/stat") as fh:
        parts = [int(x) for x in fh.readline().split()[1:]]
    idle = parts[3] + parts[4]
    return sum(parts) - idle, sum(parts)


class Sampler(threading.Thread):
    """Asterisk's active calls once a second (AMI 'core show channels count')."""

    def __init__(self, inst: Instance):
        super().__init__(daemon=True)
        self.inst, self.peak, self.samples = inst, 0, []
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.wait(1.0):
            try:
                m = re.search(r"^(\d+) active calls?", self.inst.ami("core show channels count"), re.M)
            except OSError:
                continue
            if m:
                n = int(m.group(1))
                self.samples.append(n)
                self.peak = max(self.peak, n)

    def stop(self) -> None:
        self._halt.set()
        self.join(5)


def rtt_rows(tmp: Path, pid: int) -> list[tuple[float, float]]:
    """SIPp's -trace_rtt, one row per call: (ms since start when the 200 OK arrived, ms from the
    INVITE to that 200 OK) -- the rtd on the 200 in uac_talk.xml."""
    out = []
    for f in tmp.glob(f"*_{pid}_rtt.csv"):
        for ln in f.read_text(errors="replace").splitlines()[1:]:
            parts = ln.split(";")
            try:
                out.append((float(parts[0]), float(parts[1])))
            except (IndexError, ValueError):
                pass
    return sorted(out)


def per_second(times_ms: list[float]) -> float:
    times_ms = sorted(times_ms)
    if len(times_ms) < 2 or times_ms[-1] <= times_ms[0]:
        return nan
    return (len(times_ms) - 1) / (times_ms[-1] - times_ms[0]) * 1000


def last_row(path: Path) -> dict:
    rows = sipp_stats(path)
    return rows[-1] if rows else {}


def one_run(inst: Instance, label: str, number: str, args) -> dict:
    total = int(round(args.rate * args.seconds))
    inst.ami("queue reset stats centrala-inbound")
    with inst.db.session() as s:
        last_comm = s.query(Communication.id).order_by(Communication.id.desc()).limit(1).scalar() or 0
    time.sleep(1.5)  # a fresh line in the agents' stat file
    uas_before = last_row(inst.tmp / "agents.stat")
    tid = inst.thread._thread.native_id
    me = os.getpid()
    cpu0 = {"asterisk": cpu_seconds(inst.asterisk_pid), "loop": cpu_seconds(me, tid),
            "process": sum(os.times()[:2]), "uas": cpu_seconds(inst.uas.pid)}
    busy0 = machine_busy()
    sampler = Sampler(inst)
    sampler.start()
    started = time.monotonic()
    caller = inst.caller(number, total, label, rate=args.rate, rate_period_ms=1000, limit=args.limit,
                         talk_ms=args.talk_ms, trace_msg=False,
                         timeout=args.seconds + args.talk_ms / 1000 + 180,
                         extra=["-trace_rtt", "-rtt_freq", "1"])
    caller_cpu = 0.0
    while caller.poll() is None:
        caller_cpu = cpu_seconds(caller.pid) or caller_cpu   # read before it exits
        time.sleep(0.2)
    wall = time.monotonic() - started
    sampler.stop()
    inst.wait_idle(60)
    time.sleep(1.5)  # let the controller write its last history rows, the agents' SIPp its stats
    cpu1 = {"asterisk": cpu_seconds(inst.asterisk_pid), "loop": cpu_seconds(me, tid),
            "process": sum(os.times()[:2]), "uas": cpu_seconds(inst.uas.pid)}
    busy1 = machine_busy()
    rows = sipp_stats(inst.tmp / f"{label}.stat")
    final = rows[-1] if rows else {}
    created = int(final.get("TotalCallCreated", 0))
    rtt = rtt_rows(inst.tmp, caller.pid)
    answer = [r for _, r in rtt]
    uas_after = last_row(inst.tmp / "agents.stat")

    def delta(row0, row1, key):
        return int(row1.get(key, 0) or 0) - int(row0.get(key, 0) or 0)

    completed, abandoned = inst.queue_counts()
    with inst.db.session() as s:
        outcomes = dict(s.query(Communication.outcome, func.count())
                        .filter(Communication.id > last_comm).group_by(Communication.outcome).all())
    calls = max(1, created)
    b = (busy1[0] - busy0[0]) / max(1, busy1[1] - busy0[1])
    # what else ran on the machine meanwhile (other people's test runs compete for the cores)
    hz = os.sysconf("SC_CLK_TCK")
    ours = sum(cpu1[k] - cpu0[k] for k in ("asterisk", "process", "uas")) + caller_cpu
    other = max(0.0, ((busy1[0] - busy0[0]) / hz - ours) / max(1e-9, (busy1[1] - busy0[1]) / hz))
    return {
        "offered": total, "created": created, "wall": wall,
        # per call from the rtt trace: INVITE sent = answer time - response time
        "rate": per_second([d - r for d, r in rtt]), "answered_rate": per_second([d for d, _ in rtt]),
        "peak_sipp": max((int(r.get("CurrentCall", 0)) for r in rows), default=0),
        "peak_ast": sampler.peak,
        "ok": int(final.get("SuccessfulCall(C)", 0)), "failed": int(final.get("FailedCall(C)", 0)),
        "rc": caller.returncode, "completed": completed, "abandoned": abandoned,
        "uas_ok": delta(uas_before, uas_after, "SuccessfulCall(C)"),
        "uas_failed": delta(uas_before, uas_after, "FailedCall(C)"),
        "outcomes": outcomes,
        "cpu": {k: (cpu1[k] - cpu0[k]) / calls * 1000 for k in cpu0},
        "cpu_caller": caller_cpu / calls * 1000,
        "busy": b * 100, "other": other * 100, "answer": answer,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rate", type=float, default=5, help="calls offered per second (default 5; target 20)")
    ap.add_argument("--seconds", type=float, default=10, help="how long calls are offered (default 10)")
    ap.add_argument("--talk-ms", type=int, default=3000,
                    help="a caller stays N ms after the answer (default 3000; 5000 gives 100 concurrent at 20/s)")
    ap.add_argument("--agents", type=int, default=0,
                    help="registered agents (default: enough for rate x talk time, +20%%)")
    ap.add_argument("--limit", type=int, default=0, help="SIPp's cap on concurrent calls (default: generous)")
    ap.add_argument("--no-baseline", action="store_true", help="skip the plain-queue run")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (stats, logs)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    talk = args.talk_ms / 1000
    args.agents = args.agents or int(math.ceil(args.rate * (talk + 0.5) * 1.2)) + 5
    args.limit = args.limit or int(args.rate * (talk + 10)) + 20
    # each call: two channels, each an RTP+RTCP port pair
    rtp_ports = max(400, int(args.rate * (talk + 5) * 4 * 2))

    results = {}
    with Instance(agents=args.agents, rtp_ports=rtp_ports, keep=args.keep, trace_agents=False) as inst:
        runs = ([] if args.no_baseline else [("plain", PLAIN_NUMBER)]) + [("centrala", CENTRALA_NUMBER)]
        for label, number in runs:
            print(f"... {label}: {args.rate:g} calls/s for {args.seconds:g} s, {args.agents} agents", flush=True)
            results[label] = one_run(inst, label, number, args)
        warnings = inst.asterisk_warnings()

    cols = [k for k in ("plain", "centrala") if k in results]
    names = {"plain": "baseline: Answer, Queue", "centrala": "Centrala inbound flow"}

    def line(label, fmt, get):
        cells = " | ".join(f"{fmt.format(get(results[k])):>23}" for k in cols)
        return f"| {label:<56} | {cells} |"

    print(f"\n{args.rate:g} calls/s offered for {args.seconds:g} s, callers stay {args.talk_ms} ms after the "
          f"answer, {args.agents} SIPp agents (one process), {os.cpu_count()} cores\n")
    print(f"| {'measurement':<56} | " + " | ".join(f"{names[k]:>23}" for k in cols) + " |")
    print(f"|{'-' * 58}|" + "|".join("-" * 25 for _ in cols) + "|")
    print(line("calls offered / created by SIPp", "{}", lambda r: f"{r['offered']} / {r['created']}"))
    print(line("achieved rate: INVITEs sent per second", "{:.1f}", lambda r: r["rate"]))
    print(line("achieved rate: calls answered (200 OK) per second", "{:.1f}", lambda r: r["answered_rate"]))
    print(line("concurrent calls, peak (caller SIPp, 1 s samples)", "{}", lambda r: r["peak_sipp"]))
    print(line("active calls in Asterisk, peak (1 s samples)", "{}", lambda r: r["peak_ast"]))
    print(line("caller's INVITE -> 200 OK, p50 (ms)", "{:.0f}", lambda r: pct(r["answer"], 50) if r["answer"] else nan))
    print(line("caller's INVITE -> 200 OK, p99 (ms)", "{:.0f}", lambda r: pct(r["answer"], 99) if r["answer"] else nan))
    print(line("calls answered by an agent (agents' SIPp)", "{}", lambda r: r["uas_ok"]))
    print(line("failed calls: caller SIPp", "{}", lambda r: r["failed"]))
    print(line("failed calls: left the queue unanswered", "{}", lambda r: r["abandoned"]))
    print(line("failed calls: agents' SIPp", "{}", lambda r: r["uas_failed"]))
    print(line("CPU ms per call: Asterisk", "{:.1f}", lambda r: r["cpu"]["asterisk"]))
    print(line("CPU ms per call: controller event-loop thread", "{:.1f}", lambda r: r["cpu"]["loop"]))
    print(line("CPU ms per call: Python process (controller+DB threads)", "{:.1f}", lambda r: r["cpu"]["process"]))
    print(line("CPU ms per call: SIPp caller + agents (load generator)", "{:.1f}",
               lambda r: r["cpu_caller"] + r["cpu"]["uas"]))
    print(line("machine CPU busy during the run (% of all cores)", "{:.0f}", lambda r: r["busy"]))
    print(line("  of which other processes (% of all cores)", "{:.0f}", lambda r: r["other"]))
    c = results["centrala"]
    print(f"\nCentrala call history rows: {c['outcomes']}")
    failed = c["failed"] + c["abandoned"] + c["uas_failed"] + (c["created"] - c["uas_ok"])
    met = round(min(c["rate"], c["answered_rate"]), 1) >= 20 and max(c["peak_sipp"], c["peak_ast"]) >= 100 and failed == 0
    print(f"target: >= 20 calls/s with >= 100 concurrent and zero failed calls -> {'met' if met else 'MISSED'} "
          f"({c['rate']:.1f} calls/s offered, {c['answered_rate']:.1f} answered/s, peak "
          f"{max(c['peak_sipp'], c['peak_ast'])} concurrent, {failed} calls failed or not answered by an agent, "
          f"answer p99 {pct(c['answer'], 99) if c['answer'] else nan:.0f} ms)")
    print(f"Asterisk WARNING/ERROR lines: {len(warnings)}")
    for ln in warnings[-8:]:
        print("  " + ln[:220])


if __name__ == "__main__":
    main()
