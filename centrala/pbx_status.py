"""The ``pbx_status`` row: the pbx controller keeps it current, web reads it for health.

This is how ``pbx`` and ``web`` meet without importing each other, in one process or several."""
from __future__ import annotations

from datetime import datetime, timezone

from centrala.models import PbxStatus


def write_status(db, ami: bool, ari: bool, version: str | None) -> None:
    with db.session() as s:
        row = s.get(PbxStatus, 1)
        if row is None:
            row = PbxStatus(id=1)
            s.add(row)
        row.ami_connected = ami
        row.ari_connected = ari
        row.asterisk_version = version
        row.heartbeat_at = datetime.now(timezone.utc)


def read_status(db) -> PbxStatus | None:
    with db.session() as s:
        return s.get(PbxStatus, 1)


def health(db, stale_after: float) -> dict:
    """Health of what Centrala depends on.  The database is checked on every call; AMI and ARI
    come from the controller's row, rewritten every second, and count only while it is fresh."""
    db_ok = db.ping()
    ami = ari = False
    version = None
    if db_ok:
        try:
            row = read_status(db)
        except Exception:
            row = None
        if row is not None and row.heartbeat_at is not None:
            beat = row.heartbeat_at
            if beat.tzinfo is None:  # SQLite returns naive datetimes
                beat = beat.replace(tzinfo=timezone.utc)
            fresh = (datetime.now(timezone.utc) - beat).total_seconds() <= stale_after
            ami = bool(fresh and row.ami_connected)
            ari = bool(fresh and row.ari_connected)
            version = row.asterisk_version if fresh else None
    ok = db_ok and ami and ari
    return {"status": "ok" if ok else "degraded",
            "checks": {"db": db_ok, "ami": ami, "ari": ari},
            "asterisk": version}


def write_queue(db, stats: dict) -> None:
    with db.session() as s:
        row = s.get(PbxStatus, 1)
        if row is None:
            row = PbxStatus(id=1, ami_connected=False, ari_connected=False)
            s.add(row)
        row.queue = stats
