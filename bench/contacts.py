"""Contacts benchmark (CON-1…3): import, export and search over about 100,000 contacts.

    .venv/bin/python bench/contacts.py                       # SQLite in a temporary directory
    .venv/bin/python bench/contacts.py --database-url postgresql://user:pw@127.0.0.1:5432/db

Generates a CSV just under the 10 MB upload limit (about 100,000 contacts with emails and
phones, some quoted fields with newlines), then measures, beside a baseline from the same run:

* verify + import of that file (target < 15 s), with the peak RSS while importing; baseline:
  parsing the file with the bare ``csv`` module;
* export of all contacts to CSV (target < 5 s); baseline: one raw SELECT of the contact rows;
* contact search, 200 queries (names, organisations, emails, phone numbers typed in several
  ways), p50 / p95 (target p95 < 100 ms); baseline: a raw primary-key SELECT.

The PostgreSQL database given is emptied first (schema ``public`` dropped and recreated).
"""
from __future__ import annotations

import argparse
import csv
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, select, text  # noqa: E402

from centrala import contact_export as X  # noqa: E402
from centrala import contact_import as I  # noqa: E402
from centrala import contacts as C  # noqa: E402
from centrala.db import Database  # noqa: E402
from centrala.models_contacts import Contact  # noqa: E402

FIRST = ["Adam", "Anna", "Piotr", "Katarzyna", "Łukasz", "Małgorzata", "Jan", "Zofia", "Michał", "Ewa",
         "Tomasz", "Agnieszka", "Paweł", "Joanna", "Krzysztof", "Magdalena", "Marek", "Barbara", "Wojciech",
         "Żaneta"]
LAST = ["Nowak", "Kowalski", "Wiśniewski", "Wójcik", "Kowalczyk", "Kamiński", "Lewandowski", "Zieliński",
        "Szymański", "Woźniak", "Dąbrowski", "Kozłowski", "Jankowski", "Mazur", "Kwiatkowski", "Krawczyk",
        "Piotrowski", "Grabowski", "Nowakowski", "Pawłowski"]
STREETS = ["Długa", "Krótka", "Polna", "Leśna", "Słoneczna", "Marszałkowska", "Piękna", "Ogrodowa"]
CITIES = ["Warszawa", "Kraków", "Łódź", "Wrocław", "Poznań", "Gdańsk", "Szczecin", "Lublin"]
ORGS = ["ACME", "Netia", "Polbud", "Orlen", "Żabka", "Techsoft", "Inter Cars", "Budimex", "", ""]


def rss_kb() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


class PeakRss:
    def __init__(self):
        self.peak = rss_kb()
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, rss_kb())

    def __enter__(self):
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()
        self.peak = max(self.peak, rss_kb())


def generate(path: Path, limit: int = I.MAX_BYTES - 4096) -> int:
    rnd = random.Random(7)
    n = 0
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\r\n")
        w.writerow(["First name", "Last name", "Organisation", "Email 1", "Email 2", "Phone 1", "Phone 2", "Address", "Note"])
        while fh.tell() < limit - 200:
            first, last = rnd.choice(FIRST), rnd.choice(LAST)
            email2 = f"{first[0].lower()}{n}@home.example" if n % 4 == 0 else ""
            phone2 = f"+48 22 {n % 1000:03d} {n // 1000 % 100:02d} {n % 97:02d}" if n % 3 == 0 else ""
            note = "line one\nline two" if n % 50 == 0 else ""
            w.writerow([first, last, rnd.choice(ORGS), f"user{n}@example.com", email2,
                        f"+48 6{n // 10000 % 100:02d} {n % 10000 // 10:03d} {n % 10}{n % 7}{n % 3}", phone2,
                        f"ul. {rnd.choice(STREETS)} {n % 200 + 1}/{n % 30 + 1}, {n % 90 + 10:02d}-{n % 999:03d} "
                        f"{rnd.choice(CITIES)}", note])
            n += 1
    return n


def baseline_parse(path: Path) -> float:
    t = time.perf_counter()
    with open(path, encoding="utf-8", newline="") as fh:
        for _ in csv.reader(fh):
            pass
    return time.perf_counter() - t


def reset_postgres(url: str) -> None:
    db = Database(url)
    with db.engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    db.dispose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--database-url", default="")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--size-mb", type=float, default=10.0,
                    help="size of the generated file (default: just under the 10 MB limit)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="centrala-bench-contacts-"))
    url = args.database_url or f"sqlite:///{tmp / 'bench.db'}"
    if url.startswith("postgresql"):
        reset_postgres(url)
    db = Database(url)
    db.upgrade()
    kind = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    print(f"database: {kind}")

    src = tmp / "contacts.csv"
    n = generate(src, min(I.MAX_BYTES - 4096, int(args.size_mb * 1024 * 1024)))
    size = src.stat().st_size
    print(f"file: {n} contacts, {size / 1024 / 1024:.2f} MB")
    base = baseline_parse(src)
    print(f"baseline  csv module parse           {base:7.2f} s")

    rss0 = rss_kb()
    with PeakRss() as peak:
        t0 = time.perf_counter()
        with db.session() as s, open(src, "rb") as fh:
            imp = I.create_import(s, tmp, fh, "contacts.csv", None)
            iid = imp.id
        assert I.claim(db, tmp, iid, "verify")
        I.verify(db, tmp, iid)
        t1 = time.perf_counter()
        assert I.claim(db, tmp, iid, "commit")
        I.commit(db, tmp, iid)
        t2 = time.perf_counter()
    with db.session() as s:
        imp = s.get(I.ContactImport, iid)
        assert imp.status == "done" and imp.created == n, (imp.status, imp.created, imp.message)
        count = s.scalar(select(func.count(Contact.id)))
    print(f"upload+verify                        {t1 - t0:7.2f} s   ({imp.total} records, {imp.error_count} errors)")
    print(f"import                               {t2 - t1:7.2f} s   ({count} contacts in the database)")
    print(f"verify + import                      {t2 - t0:7.2f} s   (target < 15 s; {(t2 - t0) / base:.0f}x the bare parse)")
    print(f"RSS before {rss0 / 1024:.0f} MB, peak while importing {peak.peak / 1024:.0f} MB "
          f"(+{(peak.peak - rss0) / 1024:.0f} MB for a {size / 1024 / 1024:.1f} MB file)")

    # export
    with db.session() as s:
        t = time.perf_counter()
        rows = s.execute(select(Contact.__table__)).all()
        raw = time.perf_counter() - t
        del rows
        t = time.perf_counter()
        out = 0
        for chunk in X.stream_csv(s):
            out += len(chunk.encode("utf-8"))
        exp = time.perf_counter() - t
    print(f"baseline  raw SELECT of all contacts {raw:7.2f} s")
    print(f"export {count} contacts             {exp:7.2f} s   ({out / 1024 / 1024:.1f} MB; target < 5 s)")

    # search
    rnd = random.Random(11)
    queries = []
    for i in range(args.queries):
        k = rnd.randrange(n)
        queries.append([
            rnd.choice(LAST).lower()[:5], f"{rnd.choice(FIRST)} {rnd.choice(LAST)}", rnd.choice(ORGS[:8]),
            f"user{k}@example.com", f"user{k}",
            f"+48 6{k // 10000 % 100:02d} {k % 10000 // 10:03d} {k % 10}{k % 7}{k % 3}",
            f"6{k // 10000 % 100:02d}{k % 10000 // 10:03d}{k % 10}{k % 7}{k % 3}",
            f"{k % 10000 // 10:03d} {k % 10}{k % 7}", "nobody-here",
        ][i % 9])
    times, raw_times = [], []
    with db.session() as s:
        C.search(s, "warm up")
        for q in ("user4242@example.com", "+48 60 424 22", "user4242"):   # the index agrees with the data
            assert C.search(s, q)[1] >= 1, q
        for q in queries:
            t = time.perf_counter()
            rows, total = C.search(s, q)
            times.append(time.perf_counter() - t)
        ids = [rnd.randrange(1, n) for _ in range(len(queries))]
        for i in ids:
            t = time.perf_counter()
            s.execute(text("SELECT id, first_name, last_name FROM contacts WHERE id = :i"), {"i": i}).all()
            raw_times.append(time.perf_counter() - t)

    def p(vals, q):
        return sorted(vals)[min(len(vals) - 1, int(len(vals) * q))] * 1000

    print(f"baseline  raw SELECT by primary key  p50 {p(raw_times, .5):6.2f} ms  p95 {p(raw_times, .95):6.2f} ms")
    print(f"search ({len(queries)} queries, page + total)   p50 {p(times, .5):6.2f} ms  p95 {p(times, .95):6.2f} ms"
          f"  max {max(times) * 1000:.1f} ms (target p95 < 100 ms)")
    db.dispose()


if __name__ == "__main__":
    main()
