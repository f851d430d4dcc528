"""Tasks and Files: what the panel pays on every page and every change.

* Tasks: N tasks spread over 50 agents; the queries the Tasks tab and the top-bar badge run
  (Mine / All / Overdue first page with counts, the badge count) timed over many repetitions
  at p50/p95, beside a baseline in the same run: ``SELECT count(*)`` of the whole table
  (the cheapest query that still touches every row's index entry).
* Files: uploading one large file through ``centrala.files.store`` (streamed to disk with
  SHA-256, size limit and quota checked per chunk) beside a plain ``shutil.copyfileobj`` of the
  same bytes to the same disk (the baseline).

    .venv/bin/python bench/tasks_files.py [--tasks 100000] [--file-mb 200] [--db sqlite|URL]
    .venv/bin/python bench/tasks_files.py --tasks 5000 --file-mb 20     # CI-sized
"""
from __future__ import annotations

import argparse
import io
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, insert, select  # noqa: E402

from centrala import files as store  # noqa: E402
from centrala.db import Database  # noqa: E402
from centrala.models import User  # noqa: E402
from centrala.models_tasks import Task  # noqa: E402


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def timed(fn, repeat):
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def bench_tasks(db: Database, n: int, repeat: int) -> list[tuple[str, float, float]]:
    # the web layer's own queries (web.tasks.services), imported without an app
    from web.tasks import services

    now = datetime.now(timezone.utc)
    with db.session() as s:
        users = []
        for i in range(50):
            u = User(email=f"bench{i}@example.com", name=f"Agent {i}", role="agent")
            s.add(u)
            users.append(u)
        s.flush()
        ids = [u.id for u in users]
    rnd = random.Random(5)
    rows = []
    for i in range(n):
        rows.append({"title": f"Task {i}", "assignee_id": rnd.choice(ids), "created_by": rnd.choice(ids),
                     "priority": rnd.choice(("low", "normal", "urgent", "critical")),
                     "status": rnd.choice(("new", "in_progress", "done", "done")),
                     "due_at": now + timedelta(hours=rnd.randint(-2000, 2000)) if rnd.random() < .9 else None,
                     "description": "", "custom": {}, "created_at": now, "updated_at": now})
    t0 = time.perf_counter()
    with db.engine.begin() as conn:
        for i in range(0, n, 5000):
            conn.execute(insert(Task), rows[i:i + 5000])
    print(f"inserted {n} tasks in {time.perf_counter() - t0:.1f} s")
    me = ids[0]
    results = []
    with db.session() as s:
        def baseline():
            s.scalar(select(func.count()).select_from(Task))

        def badge():
            services.open_count(s, me)

        def lst(kind):
            def run():
                services.page(s, services.query(kind, me, now), 1, 25)
            return run

        def tab():   # what GET /tasks does: a page of Mine plus the three list counts
            services.page(s, services.query("mine", me, now), 1, 25)
            for k in services.LISTS:
                services.count(s, services.query(k, me, now))

        for name, fn in (("baseline: count(*) of tasks", baseline), ("badge: my open tasks", badge),
                         ("Mine, first page + count", lst("mine")), ("All, first page + count", lst("all")),
                         ("Overdue, first page + count", lst("overdue")), ("Tasks tab (page + 3 counts)", tab)):
            fn()   # warm
            ms = timed(fn, repeat)
            results.append((name, statistics.median(ms), pct(ms, 95)))
    return results


def bench_upload(tmp: Path, mb: int, repeat: int):
    src = tmp / "source.bin"
    with open(src, "wb") as fh:
        for _ in range(mb):
            fh.write(os.urandom(1024 * 1024))
    db = Database(f"sqlite:///{tmp / 'files.db'}")
    db.upgrade()
    limits = store.Limits(max_upload=(mb + 1) * store.MB, quota=(mb + 1) * store.MB * (repeat + 2))
    base, ours = [], []
    for i in range(repeat):
        with open(src, "rb") as fin, open(tmp / f"copy{i}", "wb") as fout:
            t0 = time.perf_counter()
            shutil.copyfileobj(fin, fout, store.CHUNK)
            fout.flush()
            base.append(time.perf_counter() - t0)
        with db.session() as s, open(src, "rb") as fin:
            t0 = time.perf_counter()
            store.store(s, tmp / "files", fin, f"file{i}.bin", None, None, limits)
            s.commit()
            ours.append(time.perf_counter() - t0)
        (tmp / f"copy{i}").unlink()
    db.dispose()
    return mb / statistics.median(base), mb / statistics.median(ours)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", type=int, default=100000)
    ap.add_argument("--repeat", type=int, default=50)
    ap.add_argument("--file-mb", type=int, default=200)
    ap.add_argument("--db", default="sqlite", help="sqlite (temp file) or a database URL (emptied!)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-tasks-") as tmp:
        tmp = Path(tmp)
        url = f"sqlite:///{tmp / 'tasks.db'}" if args.db == "sqlite" else args.db
        if args.db != "sqlite":
            from sqlalchemy import text

            with Database(url).engine.begin() as conn:
                conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
        db = Database(url)
        db.upgrade()
        print(f"database: {db.engine.dialect.name}, {args.tasks} tasks, {args.repeat} repetitions")
        print(f"{'query':36} {'p50 ms':>8} {'p95 ms':>8}")
        for name, p50, p95 in bench_tasks(db, args.tasks, args.repeat):
            print(f"{name:36} {p50:8.2f} {p95:8.2f}")
        db.dispose()
        base, ours = bench_upload(tmp, args.file_mb, 3)
        print(f"\nupload of {args.file_mb} MB (median of 3)")
        print(f"{'baseline: shutil.copyfileobj':36} {base:8.0f} MB/s")
        print(f"{'centrala.files.store (+SHA-256)':36} {ours:8.0f} MB/s   ({ours / base:.2f} of baseline)")


if __name__ == "__main__":
    main()
