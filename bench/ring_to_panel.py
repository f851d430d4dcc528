"""Ring to panel: from Asterisk ringing an agent's softphone to the agent's panel showing the call.

Starts its own Asterisk (temp data dir, SQLite), the pbx controller in this process and the real
web app on loopback (werkzeug, threaded, sharing the controller's event bus as in
``centrala run``).  One agent registers a SIPp softphone (tests/sipp/uas_answer.xml) and logs in
to the panel: a python-socketio client over a real websocket on namespace /agent.  A SIPp caller
behind a trunk places N calls one at a time; for each call the time from the agent's SIPp
receiving the INVITE (its message trace) to the panel's client receiving the ``call`` event with
state ``ringing`` (web/calls/notifier.py) is measured on the same clock, split at the moment the
controller publishes ``call.agent_ringing`` on the bus.  Baseline, same run and connection: a bare
Socket.IO round trip (``resync`` with ack, as bench/presence_latency.py).

    .venv/bin/python bench/ring_to_panel.py [--calls 30]
    .venv/bin/python bench/ring_to_panel.py --calls 5          # CI-sized
"""
from __future__ import annotations

import argparse
import logging
import re
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from call_setup import (CENTRALA_NUMBER, BusTimes, Instance, MachineLoad, first_invites,  # noqa: E402
                        pair_after, pct)

import requests  # noqa: E402
import socketio  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from agents import events  # noqa: E402


def login(base: str, email: str, password: str) -> requests.Session:
    s = requests.Session()
    token = re.search(r'name="csrf_token" value="([^"]+)"', s.get(base + "/login").text).group(1)
    r = s.post(base + "/login", data={"email": email, "password": password, "csrf_token": token},
               allow_redirects=False)
    assert r.status_code == 302, r.status_code
    return s


def round_trips(client: socketio.Client, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        client.call("resync", namespace="/agent", timeout=10)
        out.append(time.perf_counter() - t0)
        time.sleep(0.02)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=int, default=30, help="calls measured (default 30)")
    ap.add_argument("--interval-ms", type=int, default=1507, help="one call every N ms (default 1507)")
    ap.add_argument("--talk-ms", type=int, default=1000, help="caller stays N ms after the answer (default 1000)")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (traces, logs)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # the dev server logs the websocket's close frame as a bad HTTP request when the client leaves
    logging.getLogger("werkzeug").setLevel(logging.CRITICAL)

    rang: list[tuple[float, dict]] = []
    lock = threading.Lock()
    with Instance(agents=1, agent_passwords=True, keep=args.keep) as inst, \
            MachineLoad(lambda: [inst.asterisk_pid, inst.uas.pid]) as load:
        # subscribed before the web app: this handler runs first inside publish(), before the emit
        published = BusTimes(inst.bus, events.AGENT_RINGING)
        from web import create_app

        app = create_app(inst.settings, db=inst.db, bus=inst.bus)
        server = make_server("127.0.0.1", inst.settings.http_port, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        client = None
        try:
            base = f"http://127.0.0.1:{inst.settings.http_port}"
            client = socketio.Client(http_session=login(base, inst.agents[0]["email"], "bench password"))

            def on_call(data):
                t = time.time()
                if data.get("state") == "ringing":
                    with lock:
                        rang.append((t, data))

            client.on("call", on_call, namespace="/agent")
            client.connect(base, namespaces=["/agent"], transports=["websocket"], wait_timeout=10)
            baseline = round_trips(client, max(10, args.calls // 2))

            caller = inst.caller(CENTRALA_NUMBER, args.calls, "caller", rate=1, rate_period_ms=args.interval_ms,
                                 limit=1, talk_ms=args.talk_ms, trace_msg=False,
                                 timeout=args.calls * (args.interval_ms + args.talk_ms) / 1000 + 60)
            rc = caller.wait()
            if rc != 0:
                raise RuntimeError(f"caller failed (rc {rc}):\n" + (inst.tmp / "caller.out").read_text()[-1500:])
            inst.wait_idle()
            time.sleep(0.3)
            baseline += round_trips(client, max(10, args.calls // 2))
        finally:
            if client is not None:
                client.disconnect()
            server.shutdown()
        invites = first_invites(inst.tmp / "agents.msg", "received")
        with lock:
            panel = sorted(t for t, _ in rang)
        bus = sorted(published.of(events.AGENT_RINGING))
        total = pair_after(invites, panel)
        to_bus = pair_after(invites, bus)
        bus_to_panel = pair_after(bus, panel)
        warnings = inst.asterisk_warnings()

    if len(total) != args.calls:
        print(f"WARNING: {len(total)} of {args.calls} calls paired (INVITEs {len(invites)}, "
              f"bus events {len(bus)}, panel events {len(panel)})")

    def row(label, xs):
        ms = [x * 1000 for x in xs]
        if not ms:
            return f"| {label:<56} |     0 |         |         |         |         |"
        return (f"| {label:<56} | {len(ms):5d} | {statistics.median(ms):7.1f} | {pct(ms, 90):7.1f} "
                f"| {pct(ms, 99):7.1f} | {max(ms):7.1f} |")

    print(f"\nRing to panel: one agent, one panel over a websocket, {args.calls} calls one at a time (ms)\n")
    print(f"| {'measurement':<56} |     n |     p50 |     p90 |     p99 |     max |")
    print(f"|{'-' * 58}|-------|---------|---------|---------|---------|")
    print(row("baseline: Socket.IO round trip (resync with ack)", baseline))
    print(row("agent's INVITE received -> panel gets call 'ringing'", total))
    print(row("  of which: INVITE -> controller publishes agent_ringing", to_bus))
    print(row("  of which: publish -> panel receives the event", bus_to_panel))
    met = bool(total) and len(total) == args.calls and pct([x * 1000 for x in total], 99) < 100
    print(f"\ntarget: p99 < 100 ms -> {'met' if met else 'MISSED'}")
    print(f"Asterisk WARNING/ERROR lines: {len(warnings)}")
    for ln in warnings[-5:]:
        print("  " + ln[:200])
    print(load.line())


if __name__ == "__main__":
    main()
