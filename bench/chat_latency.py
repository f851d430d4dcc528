"""Website chat under load (issue #6): one web process holding N visitor sockets and M agent
sockets; how long does a visitor's message take to reach the agent's panel?

The web app runs in its own process (the same threaded server `centrala run` uses, SQLite), so
the clients do not share its interpreter.  Clients are python-socketio AsyncClients (aiohttp) on
one asyncio loop in this process.  Every visitor starts a chat; the chats are offered to the
agents and accepted; then visitors send messages at a fixed aggregate rate and each message is
timed from the visitor's emit to the agent's `chat:message` event (one clock: this process).
Baseline, in the same run against the same loaded server: a bare Socket.IO echo round trip (an
extra `/bench` namespace registered only in the benchmark's server process).

    .venv/bin/python bench/chat_latency.py [--visitors 1000] [--agents 50] [--rate 100] [--seconds 20]
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PASSWORD = "bench password"


def serve(data: str, db_url: str, port: int) -> None:
    """The server process: the real app, plus a bare echo namespace for the baseline."""
    from werkzeug.serving import make_server

    from centrala.db import Database
    from tests.helpers import instance_settings
    from web import create_app

    import faulthandler
    import signal

    faulthandler.register(signal.SIGUSR1, file=open(Path(data).parent / "stacks.txt", "w"), all_threads=True)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    settings = instance_settings(Path(data), db_url, CENTRALA_HTTP_PORT=port, CENTRALA_USER_LIMIT=1000)
    app = create_app(settings, db=Database(db_url))
    app.config["CHAT_RATE_LIMITS"] = {}
    from web.chat.sockets import RATE_LIMITS, RateLimiter
    chub = app.extensions["centrala.chat"]
    for k in RATE_LIMITS:   # all the benchmark's clients share one address
        chub.limits[k] = RateLimiter(10**9, 1.0)
    sio = app.extensions["socketio"]

    @sio.on("echo", namespace="/bench")
    def echo(data):
        return data

    server = make_server("127.0.0.1", port, app, threaded=True)
    print("ready", flush=True)
    server.serve_forever()


WEBHOOK_EVENT = "chat.accepted"


def webhook_deliveries(db_url: str) -> int:
    """Deliveries queued for WEBHOOK_EVENT (backlogged ones are written within a sweep or two)."""
    from sqlalchemy import func, select

    from centrala.db import Database
    from centrala.models_webhooks import WebhookDelivery

    db = Database(db_url)
    try:
        with db.session() as s:
            return s.scalar(select(func.count()).select_from(WebhookDelivery)
                            .where(WebhookDelivery.event == WEBHOOK_EVENT))
    finally:
        db.dispose()


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_status(pid: int) -> dict:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        k, _, v = line.partition(":")
        if k in ("Threads", "VmRSS"):
            out[k] = v.strip()
    return out


async def run(args, base: str, key: str, server_pid: int) -> None:
    import aiohttp  # noqa: F401  (python-socketio's AsyncClient needs it; fail early with a clear error)
    import requests
    import socketio

    loop = asyncio.get_running_loop()
    sent: dict[str, float] = {}
    latencies: list[float] = []
    accepted = asyncio.Event()
    n_accepted = [0]

    # -- agents -------------------------------------------------------------------------
    def login(email: str) -> str:
        s = requests.Session()
        token = re.search(r'name="csrf_token" value="([^"]+)"', s.get(base + "/login").text).group(1)
        r = s.post(base + "/login", data={"email": email, "password": PASSWORD, "csrf_token": token},
                   allow_redirects=False)
        assert r.status_code == 302
        return "; ".join(f"{c.name}={c.value}" for c in s.cookies)

    agents = []
    for i in range(args.agents):
        cookie = await loop.run_in_executor(None, login, f"agent{i}@example.com")
        a = socketio.AsyncClient(reconnection=False)

        def make_handlers(client):
            async def on_notification(n):
                if n.get("channel") != "chat":
                    return
                cid = int(n["link"].split("/chat/")[1].split("?")[0])
                r = await client.call("chat:accept", {"chat_id": cid}, namespace="/agent", timeout=30)
                if r.get("ok"):
                    n_accepted[0] += 1
                    if n_accepted[0] >= args.visitors:
                        accepted.set()

            def on_message(m):
                t0 = sent.pop(m["body"], None)
                if t0 is not None:
                    latencies.append(time.perf_counter() - t0)

            client.on("notification", on_notification, namespace="/agent")
            client.on("chat:message", on_message, namespace="/agent")

        make_handlers(a)
        await a.connect(base, namespaces=["/agent"], transports=["websocket"], headers={"Cookie": cookie},
                        wait_timeout=30)
        await a.call("status:set", {"status": "online"}, namespace="/agent", timeout=30)
        agents.append(a)

    # -- visitors -----------------------------------------------------------------------
    visitors: list = []
    t_connect = time.perf_counter()

    async def visitor(i):
        v = socketio.AsyncClient(reconnection=False)
        await v.connect(base, namespaces=["/visitor"], transports=["websocket"], wait_timeout=60,
                        auth={"key": key, "url": f"http://shop.test/p{i}", "title": f"Page {i}", "lang": "en"})
        return v

    failed = 0
    for start in range(0, args.visitors, 50):
        results = await asyncio.gather(*(visitor(i) for i in range(start, min(args.visitors, start + 50))),
                                       return_exceptions=True)
        for r in results:
            if isinstance(r, Exception):
                failed += 1
            else:
                visitors.append(r)
    connect_s = time.perf_counter() - t_connect
    st = proc_status(server_pid)
    print(f"connected {len(visitors)} visitor sockets ({failed} failed) + {len(agents)} agents in {connect_s:.1f} s; "
          f"server threads {st['Threads']}, RSS {st['VmRSS']}", flush=True)

    # -- every visitor starts a chat; agents accept -----------------------------------------
    t_start = time.perf_counter()
    for start in range(0, len(visitors), 50):
        acks = await asyncio.gather(*(v.call("message", {"body": "hello"}, namespace="/visitor", timeout=60)
                                      for v in visitors[start:start + 50]))
        assert all(a.get("ok") for a in acks), [a for a in acks if not a.get("ok")][:3]
    args_visitors = len(visitors)
    args.visitors = args_visitors
    if n_accepted[0] < args_visitors:
        await asyncio.wait_for(accepted.wait(), timeout=120)
    print(f"{args_visitors} chats started and accepted in {time.perf_counter() - t_start:.1f} s", flush=True)

    # -- load: messages at a fixed rate, echo baseline alongside --------------------------------
    echo = socketio.AsyncClient(reconnection=False)
    await echo.connect(base, namespaces=["/bench"], transports=["websocket"])
    baseline: list[float] = []

    async def echo_loop(stop):
        while not stop.is_set():
            t0 = time.perf_counter()
            await echo.call("echo", {"t": t0}, namespace="/bench", timeout=10)
            baseline.append(time.perf_counter() - t0)
            await asyncio.sleep(0.05)

    stop = asyncio.Event()
    cpu0 = cpu_seconds(server_pid)
    echo_task = asyncio.create_task(echo_loop(stop))
    total = int(args.rate * args.seconds)
    interval = 1.0 / args.rate
    t_begin = time.perf_counter()
    errors = 0

    async def one(i):
        nonlocal errors
        v = visitors[i % len(visitors)]
        body = f"m{i}"
        sent[body] = time.perf_counter()
        r = await v.call("message", {"body": body}, namespace="/visitor", timeout=30)
        if not r.get("ok"):
            errors += 1
            sent.pop(body, None)

    tasks = []
    for i in range(total):
        due = t_begin + i * interval
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i)))
    await asyncio.gather(*tasks)
    deadline = time.perf_counter() + 10
    while sent and time.perf_counter() < deadline:
        await asyncio.sleep(0.05)
    stop.set()
    await echo_task
    cpu = cpu_seconds(server_pid) - cpu0
    st = proc_status(server_pid)

    def row(name, xs):
        ms = [x * 1000 for x in xs]
        return (f"| {name:<46} | {len(ms):6d} | {statistics.median(ms):7.1f} | {pct(ms, 95):7.1f} | "
                f"{pct(ms, 99):7.1f} | {max(ms):7.1f} |")

    print(f"\n{len(visitors)} visitor sockets, {len(agents)} agents, {args.rate}/s messages for {args.seconds} s; "
          f"server threads {st['Threads']}, RSS {st['VmRSS']}; machine load average {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} cores\n")
    print("| measurement (ms)                               |      n |     p50 |     p95 |     p99 |     max |")
    print("|------------------------------------------------|--------|---------|---------|---------|---------|")
    print(row("baseline: bare Socket.IO echo round trip", baseline))
    print(row("visitor message -> agent's panel (one way)", latencies))
    print(f"\nserver CPU during the load: {cpu:.1f} s for {len(latencies)} messages + {len(baseline)} echoes "
          f"= {cpu / max(1, len(latencies)) * 1000:.2f} ms per message (all included: pings, both emits, acks)")
    lost = len(sent)
    print(f"\nlost: {lost}, refused: {errors}; target p99 < 100 ms -> "
          f"{'met' if latencies and pct([x * 1000 for x in latencies], 99) < 100 and not lost else 'MISSED'}")

    await asyncio.gather(*(asyncio.wait_for(c.disconnect(), 10) for c in visitors + agents + [echo]),
                         return_exceptions=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--visitors", type=int, default=1000)
    ap.add_argument("--agents", type=int, default=50)
    ap.add_argument("--rate", type=float, default=100.0, help="visitor messages per second, all visitors together")
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--serve", nargs=3, metavar=("DATA", "DB_URL", "PORT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve(args.serve[0], args.serve[1], int(args.serve[2]))
        return

    from centrala.db import Database
    from centrala.users import create_user
    from tests.helpers import free_port
    from centrala import webhooks as wh
    from centrala.models_webhooks import Webhook
    from web.chat import services as svc

    tmp = Path(tempfile.mkdtemp(prefix="chat-bench-"))
    db_url = f"sqlite:///{tmp / 'bench.db'}"
    from centrala.secretbox import SecretBox

    db = Database(db_url, secret_box=SecretBox.for_data_dir(tmp / "data"))   # the server's data dir
    db.upgrade()
    with db.session() as s:
        for i in range(args.agents):
            create_user(s, f"agent{i}@example.com", f"Agent {i}", "agent", PASSWORD, channels=("chat",))
    with db.session() as s:
        key = svc.get_settings(s)["key"]
        svc.save_settings(s, {"offer_timeout": 60})
        # a webhook subscribed to the acceptances: the burst must queue one delivery per chat
        # (its receiver is a closed local port: deliveries fail and wait for their retry)
        s.add(Webhook(url="http://127.0.0.1:9/bench", events=[WEBHOOK_EVENT], secret=wh.new_secret(),
                      active=True))
    db.dispose()
    port = free_port()
    proc = subprocess.Popen([sys.executable, __file__, "--serve", str(tmp / "data"), db_url, str(port)],
                            stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(0.3)
        asyncio.run(run(args, f"http://127.0.0.1:{port}", key, proc.pid))
        queued = webhook_deliveries(db_url)
        print(f"webhook deliveries queued for {WEBHOOK_EVENT}: {queued} of {args.visitors} chats accepted -> "
              f"{'none dropped' if queued == args.visitors else 'DROPPED ' + str(args.visitors - queued)}")
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
