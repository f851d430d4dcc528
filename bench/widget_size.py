"""Website widget weight (issue #6): the loader and everything the widget downloads, gzipped.

Renders the real responses through the app (loader.js with its configuration, the frame page
with its texts) and adds the static files the frame loads.  Budgets: loader < 10 KB, whole
widget < 60 KB (Chatwoot's, for comparison: 40 KB and 300 KB).

    .venv/bin/python bench/widget_size.py
"""
from __future__ import annotations

import gzip
import re
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

LOADER_BUDGET = 10 * 1024
WIDGET_BUDGET = 60 * 1024


def measure(app, key: str) -> list[tuple[str, int, int]]:
    """(name, bytes, gzipped bytes) of the loader and of every file the widget frame loads."""
    c = app.test_client()
    rows = []
    loader = c.get(f"/widget/{key}/loader.js").get_data()
    rows.append(("loader.js (rendered)", len(loader), len(gzip.compress(loader, 9))))
    frame = c.get(f"/widget/{key}/frame?lang=en&o=https://shop.example.com").get_data()
    rows.append(("frame page (rendered, with texts)", len(frame), len(gzip.compress(frame, 9))))
    for src in re.findall(rb'(?:src|href)="(/static/[^"]+)"', frame):
        body = c.get(src.decode()).get_data()
        rows.append((src.decode().split("/static/")[1], len(body), len(gzip.compress(body, 9))))
    return rows


def main() -> None:
    from centrala.db import Database
    from tests.helpers import instance_settings
    from web import create_app
    from web.chat import services as svc

    tmp = Path(tempfile.mkdtemp(prefix="widget-size-"))
    settings = instance_settings(tmp / "data", f"sqlite:///{tmp / 'db.sqlite'}")
    db = Database.for_settings(settings)
    db.upgrade()
    app = create_app(settings, db=db, start_background=False)
    with db.session() as s:
        key = svc.get_settings(s)["key"]
    rows = measure(app, key)
    print("| file                                   |    bytes | gzipped |")
    print("|----------------------------------------|----------|---------|")
    for name, raw, gz in rows:
        print(f"| {name:<38} | {raw:8d} | {gz:7d} |")
    loader, total = rows[0][2], sum(r[2] for r in rows)
    print(f"\nloader: {loader / 1024:.1f} KB gzipped (budget 10 KB) -> {'met' if loader < LOADER_BUDGET else 'MISSED'}")
    print(f"whole widget: {total / 1024:.1f} KB gzipped (budget 60 KB) -> {'met' if total < WIDGET_BUDGET else 'MISSED'}")


if __name__ == "__main__":
    main()
