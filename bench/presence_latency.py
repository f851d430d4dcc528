"""How fast does a status change reach every open panel?  (issue #3: within a second)

Starts the real web app on loopback (SQLite in a temp dir), logs in N agents, each with a
Socket.IO panel over a real websocket, and lets one agent switch status K times.  For each
change it measures the time from the emit until *every* panel has received the presence event.
Baseline, in the same run and process: a bare Socket.IO round trip (emit with ack) on the
same connection, i.e. what the transport costs without database, audit and fan-out.

    .venv/bin/python bench/presence_latency.py [--panels 20] [--changes 50]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import logging

import requests
import socketio
from werkzeug.serving import make_server

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from centrala.db import Database  # noqa: E402
from centrala.users import create_user  # noqa: E402
from tests.helpers import instance_settings  # noqa: E402
from web import create_app  # noqa: E402


def login(base: str, email: str) -> requests.Session:
    import re

    s = requests.Session()
    token = re.search(r'name="csrf_token" value="([^"]+)"', s.get(base + "/login").text).group(1)
    r = s.post(base + "/login", data={"email": email, "password": "bench password", "csrf_token": token},
               allow_redirects=False)
    assert r.status_code == 302, r.status_code
    return s


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--panels", type=int, default=20)
    ap.add_argument("--changes", type=int, default=50)
    args = ap.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)

    tmp = Path(tempfile.mkdtemp())
    settings = instance_settings(tmp / "data", f"sqlite:///{tmp / 'bench.db'}", CENTRALA_USER_LIMIT=args.panels + 1)
    db = Database.for_settings(settings)
    db.upgrade()
    with db.session() as s:
        for i in range(args.panels):
            create_user(s, f"agent{i}@example.com", f"Agent {i}", "agent", "bench password", channels=[])
    app = create_app(settings, db=db)
    server = make_server("127.0.0.1", settings.http_port, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{settings.http_port}"

    received = [0]
    cond = threading.Condition()
    clients = []
    for i in range(args.panels):
        http = login(base, f"agent{i}@example.com")
        c = socketio.Client(http_session=http)

        def on_presence(_data):
            with cond:
                received[0] += 1
                cond.notify_all()

        c.on("presence", on_presence, namespace="/agent")
        c.connect(base, namespaces=["/agent"], transports=["websocket"], wait_timeout=10)
        clients.append(c)

    actor = clients[0]
    fanout, baseline = [], []
    statuses = ["online", "break"]
    for k in range(args.changes):
        t0 = time.perf_counter()
        actor.call("resync", namespace="/agent", timeout=10)
        baseline.append(time.perf_counter() - t0)

        with cond:
            received[0] = 0
        t0 = time.perf_counter()
        actor.emit("status:set", {"status": statuses[k % 2]}, namespace="/agent")
        with cond:
            ok = cond.wait_for(lambda: received[0] >= args.panels, timeout=10)
        fanout.append(time.perf_counter() - t0)
        assert ok, f"only {received[0]} of {args.panels} panels got the change"

    for c in clients:
        c.disconnect()
    server.shutdown()

    def row(name, xs):
        ms = [x * 1000 for x in xs]
        return f"| {name:<44} | {statistics.median(ms):8.1f} | {pct(ms, 95):8.1f} | {max(ms):8.1f} |"

    print(f"\n{args.panels} panels, {args.changes} status changes (ms)\n")
    print("| measurement                                  |      p50 |      p95 |      max |")
    print("|----------------------------------------------|----------|----------|----------|")
    print(row("baseline: Socket.IO round trip (ack)", baseline))
    print(row(f"status change seen by all {args.panels} panels", fanout))
    print(f"\ntarget: every panel within 1000 ms -> {'met' if max(fanout) < 1.0 else 'MISSED'}")


if __name__ == "__main__":
    main()
