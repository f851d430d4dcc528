"""Receiving email (issue 13): how fast does new mail reach an agent's drawer, how long does the
first sync of a big mailbox take (and does memory stay flat), and what do 50 mailboxes cost one
worker?

Everything runs against a real Dovecot (``tests/mailservers.py``) on loopback, SQLite, the real
web app (offer engine, notifier) and the real mail worker, in this process (one clock):

1. **new mail → drawer**: a shared mailbox, one Online email agent; each message is APPENDed to
   INBOX (as a delivering MTA would) and timed until the agent's drawer item is created (the
   ``notification.created`` event, published when the item is committed and pushed).  Baseline in
   the same run: a bare ``imaplib`` client in IDLE on the same mailbox, timed from the same
   APPEND to its ``* n EXISTS`` — the server's own notification time, which no client can beat.
2. **first sync**: N messages (10,000 by default) put in a mailbox while no worker runs; the
   worker's time to store them all, and its process's RSS sampled meanwhile (start, at 25/50/75 %,
   peak, end).  Receiving only: the bus has no web app, so nobody is offered 10,000 conversations.
3. **M mailboxes on one worker** (50): threads of the process before and after, the process's CPU
   while all M connections idle for 20 s, and the time until one new message in each is stored.

    .venv/bin/python bench/email_receive.py [--samples 30] [--messages 10000] [--mailboxes 50]
CI may run it small: ``--samples 5 --messages 300 --mailboxes 5``.
"""
from __future__ import annotations

import argparse
import imaplib
import os
import re
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PASSWORD = "bench password"


def instance(tmp: Path, name: str):
    """Settings and an upgraded SQLite database of their own for one part of the benchmark."""
    from centrala.db import Database
    from centrala.secretbox import SecretBox
    from tests.helpers import instance_settings

    url = f"sqlite:///{tmp / (name + '.db')}"
    settings = instance_settings(tmp / name, url)
    database = Database(url, secret_box=SecretBox.for_data_dir(tmp / name))
    database.upgrade()
    return settings, database


def rss_mb() -> float:
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def pct(values, p) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def mail(i: int, to: str = "office@example.com") -> bytes:
    from tests.email_samples import plain

    return plain(frm=f"customer{i}@example.net", to=to, subject=f"Question {i}",
                 text=f"Hello, this is question number {i}.\n" + "Some words of an ordinary email. " * 20,
                 message_id=f"<bench-{i}-{time.monotonic_ns()}@client.example>")


def add_mailbox(database, dovecot, user: str, kind="shared") -> int:
    from centrala.models_email import Mailbox
    from centrala.secretbox import of_session

    with database.session() as s:
        mb = Mailbox(kind=kind, label=user, address=user, username=user, imap_host="127.0.0.1",
                     imap_port=dovecot.port, imap_security="none", smtp_host="127.0.0.1", smtp_port=25,
                     smtp_security="none", password_sealed=of_session(s).seal(PASSWORD))
        s.add(mb)
        s.commit()
        return mb.id


def stored(database, mailbox_id=None) -> int:
    from sqlalchemy import func, select

    from centrala.models_email import EmailMessage

    with database.session() as s:
        q = select(func.count()).select_from(EmailMessage)
        if mailbox_id is not None:
            q = q.where(EmailMessage.mailbox_id == mailbox_id)
        return s.scalar(q)


def wait(pred, timeout: float, what: str, every: float = 0.02):
    end = time.monotonic() + timeout
    while not (v := pred()):
        if time.monotonic() > end:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(every)
    return v


class IdleWatcher(threading.Thread):
    """The baseline: a bare imaplib client in IDLE; records when each EXISTS arrives."""

    def __init__(self, dovecot, user):
        super().__init__(daemon=True)
        self.c = imaplib.IMAP4("127.0.0.1", dovecot.port)
        self.c.login(user, PASSWORD)
        self.c.select("INBOX")
        self.seen: dict[int, float] = {}
        self.cond = threading.Condition()
        self.stop = False

    def run(self):
        tag = self.c._new_tag().decode()
        self.c.send(f"{tag} IDLE\r\n".encode())
        self.c.readline()                           # "+ idling"
        while not self.stop:
            line = self.c.readline()
            m = re.match(rb"\* (\d+) EXISTS", line)
            if m:
                with self.cond:
                    self.seen[int(m.group(1))] = time.monotonic()
                    self.cond.notify_all()

    def wait_for(self, n: int, timeout=10) -> float:
        with self.cond:
            self.cond.wait_for(lambda: n in self.seen, timeout)
            return self.seen[n]


def drawer_latency(args, tmp: Path, dovecot) -> dict:
    from agents import events
    from centrala.emails.worker import MailWorker
    from centrala.models import User
    from centrala.users import create_user
    from web import create_app

    user = "office@example.com"
    dovecot.add_user(user, PASSWORD)
    settings, database = instance(tmp, "drawer")
    app = create_app(settings, db=database)
    app.config["EMAIL_OFFER_TIMEOUT"] = 3600
    with database.session() as s:
        agent = create_user(s, "anna@example.com", "Anna", "agent", "bench password 1", channels=("email",))
        s.get(User, agent.id).status = "online"
        s.commit()
        agent_id = agent.id
    add_mailbox(database, dovecot, user)
    created: dict[int, float] = {}
    cond = threading.Condition()

    def on_item(event):
        if event.data.get("user_id") == agent_id and event.data.get("channel") == "email":
            with cond:
                created[len(created) + 1] = time.monotonic()
                cond.notify_all()

    bus = app.extensions["centrala.bus"]
    bus.subscribe(events.NOTIFICATION_CREATED, on_item)
    worker = MailWorker(database, settings, bus).start()
    wait(lambda: _state(database) == "connected", 20, "the worker connected")
    watcher = IdleWatcher(dovecot, user)
    watcher.start()
    time.sleep(0.5)
    sender = imaplib.IMAP4("127.0.0.1", dovecot.port)
    sender.login(user, PASSWORD)
    ours, base = [], []
    for i in range(1, args.samples + 1):
        raw = mail(i)
        t0 = time.monotonic()
        sender.append("INBOX", "", imaplib.Time2Internaldate(time.time()), raw)
        base.append(watcher.wait_for(i) - t0)
        with cond:
            cond.wait_for(lambda: i in created, 30)
        ours.append(created[i] - t0)
        time.sleep(0.2)
    watcher.stop = True
    sender.logout()
    worker.stop()
    from web.background import stop as stop_background

    stop_background(app)
    database.dispose()
    return {"ours": ours, "base": base}


def _state(database, mailbox_id=None) -> str:
    from sqlalchemy import select

    from centrala.models_email import Mailbox

    with database.session() as s:
        return " ".join(s.scalars(select(Mailbox.state)))


def first_sync(args, tmp: Path, dovecot) -> dict:
    from agents.events import EventBus
    from centrala.emails.worker import MailWorker

    user = "archive@example.com"
    dovecot.add_user(user, PASSWORD)
    c = imaplib.IMAP4("127.0.0.1", dovecot.port)
    c.login(user, PASSWORD)
    t = time.monotonic()
    for i in range(args.messages):
        c.append("INBOX", "", imaplib.Time2Internaldate(time.time()), mail(i, user))
    c.logout()
    filled = time.monotonic() - t
    settings, database = instance(tmp, "sync")
    mid = add_mailbox(database, dovecot, user)
    marks = {}
    samples = []
    start_rss = rss_mb()
    t0 = time.monotonic()
    worker = MailWorker(database, settings, EventBus()).start()
    while (n := stored(database, mid)) < args.messages:
        samples.append(rss_mb())
        for q in (25, 50, 75):
            if q not in marks and n >= args.messages * q / 100:
                marks[q] = rss_mb()
        if time.monotonic() - t0 > 1200:
            raise SystemExit("first sync took over 20 minutes")
        time.sleep(0.25)
    took = time.monotonic() - t0
    end_rss = rss_mb()
    worker.stop()
    database.dispose()
    return {"took": took, "filled": filled, "start": start_rss, "marks": marks, "peak": max(samples or [end_rss]),
            "end": end_rss}


def many_mailboxes(args, tmp: Path, dovecot) -> dict:
    from agents.events import EventBus
    from centrala.emails.worker import MailWorker

    users = [f"box{i}@example.com" for i in range(args.mailboxes)]
    for u in users:
        dovecot.add_user(u, PASSWORD)
    settings, database = instance(tmp, "many")
    ids = [add_mailbox(database, dovecot, u) for u in users]
    threads_before = threading.active_count()
    t0 = time.monotonic()
    worker = MailWorker(database, settings, EventBus()).start()
    wait(lambda: _state(database).split().count("connected") == len(ids), 120, "every mailbox connected")
    connected = time.monotonic() - t0
    threads_after = threading.active_count()
    cpu0, w0 = time.process_time(), time.monotonic()
    time.sleep(args.idle_seconds)
    idle_cpu = (time.process_time() - cpu0) / (time.monotonic() - w0) * 100
    t1 = time.monotonic()
    for i, u in enumerate(users):
        c = imaplib.IMAP4("127.0.0.1", dovecot.port)
        c.login(u, PASSWORD)
        c.append("INBOX", "", imaplib.Time2Internaldate(time.time()), mail(i, u))
        c.logout()
    wait(lambda: stored(database) == len(ids), 120, "a message in every mailbox")
    all_in = time.monotonic() - t1
    worker.stop()
    database.dispose()
    return {"threads_before": threads_before, "threads_after": threads_after, "connected": connected,
            "idle_cpu": idle_cpu, "all_in": all_in}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--samples", type=int, default=30)
    p.add_argument("--messages", type=int, default=10000)
    p.add_argument("--mailboxes", type=int, default=50)
    p.add_argument("--idle-seconds", type=float, default=20.0)
    args = p.parse_args()
    import logging

    logging.basicConfig(level=logging.WARNING)
    from tests.mailservers import Dovecot

    with tempfile.TemporaryDirectory(prefix="bench-email-") as d, Dovecot(Path(d) / "dovecot") as dovecot:
        tmp = Path(d)
        lat = drawer_latency(args, tmp, dovecot)
        print(f"new mail -> drawer ({args.samples} messages): p50 {statistics.median(lat['ours']) * 1000:.0f} ms, "
              f"p95 {pct(lat['ours'], 95) * 1000:.0f} ms, max {max(lat['ours']) * 1000:.0f} ms")
        print(f"baseline, raw IMAP IDLE client's EXISTS: p50 {statistics.median(lat['base']) * 1000:.0f} ms, "
              f"p95 {pct(lat['base'], 95) * 1000:.0f} ms, max {max(lat['base']) * 1000:.0f} ms", flush=True)
        sync = first_sync(args, tmp, dovecot)
        print(f"first sync of {args.messages} messages: {sync['took']:.1f} s "
              f"({args.messages / sync['took']:.0f} msg/s; APPENDing them took {sync['filled']:.1f} s); RSS MB "
              + ", ".join([f"start {sync['start']:.0f}"] + [f"{q}% {v:.0f}" for q, v in sorted(sync['marks'].items())]
                          + [f"peak {sync['peak']:.0f}", f"end {sync['end']:.0f}"]), flush=True)
        many = many_mailboxes(args, tmp, dovecot)
        print(f"{args.mailboxes} mailboxes on one worker: threads {many['threads_before']} -> {many['threads_after']}, "
              f"all connected in {many['connected']:.1f} s, CPU while idle {many['idle_cpu']:.1f} % of a core "
              f"({args.idle_seconds:.0f} s), one new message in each stored in {many['all_in']:.1f} s")
    os._exit(0)


if __name__ == "__main__":
    main()
