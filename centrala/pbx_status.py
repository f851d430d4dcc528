"""The ``pbx_status`` row: the pbx controller keeps it current, web reads it for health.

This is how ``pbx`` and ``web`` meet without importing each other, in one process or several."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import bindparam, insert, update

from centrala.models import PbxStatus

# written every second and with every change of the live queue view: statements built once
_STATUS = update(PbxStatus).where(PbxStatus.id == 1).values(
    ami_connected=bindparam("ami"), ari_connected=bindparam("ari"), asterisk_version=bindparam("version"),
    heartbeat_at=bindparam("beat"))
_QUEUE = update(PbxStatus).where(PbxStatus.id == 1).values(queue=bindparam("queue"))
_FIRST = insert(PbxStatus)


def _write(db, statement, params: dict, first_row: dict) -> None:
    with db.engine.begin() as conn:
        if conn.execute(statement, params).rowcount == 0:
            conn.execute(_FIRST, {"id": 1, "ami_connected": False, "ari_connected": False, **first_row})


def write_status(db, ami: bool, ari: bool, version: str | None) -> None:
    beat = datetime.now(timezone.utc)
    _write(db, _STATUS, {"ami": ami, "ari": ari, "version": version, "beat": beat},
           {"ami_connected": ami, "ari_connected": ari, "asterisk_version": version, "heartbeat_at": beat})


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
    _write(db, _QUEUE, {"queue": stats}, {"queue": stats})
