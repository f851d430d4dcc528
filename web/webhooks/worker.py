"""Outgoing webhooks (BEY-1): events become persisted deliveries; a background loop POSTs them.

Queueing: a bus handler per offered event writes one ``webhook_deliveries`` row for each active
webhook that wants it (the body is fixed then, so a restart loses nothing and retries send the
same bytes).  Which events are wanted is cached for a second (``Subscriptions``), so an event no
webhook wants takes no database connection; an event whose rows cannot be written at once (the
pool had no connection in time, the database restarts) waits in the process's ``Backlog`` and is
written by the next sweep, in order.

Sending: every ``WEBHOOK_INTERVAL`` seconds the loop takes the due rows and claims each with one
``UPDATE … SET attempts = attempts + 1, next_attempt_at = now + lease WHERE id = … AND
status = 'pending' AND next_attempt_at <= now``; only the process whose UPDATE changed the row
sends it (two web processes never both send one attempt).  A process that dies mid-send leaves
the row pending with the lease as its next attempt: it goes again then (at least once).
2xx is delivered; anything else waits ``WEBHOOK_BACKOFF[attempts-1]`` seconds, and after the
last one the delivery is failed.  Deliveries of a disabled webhook wait until it is enabled.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import deque
from datetime import datetime, timedelta, timezone

import httpx
from sqlalchemy import event as sa_event
from sqlalchemy import select, update

from centrala import webhooks as wh
from centrala.models_webhooks import Webhook, WebhookDelivery

from .. import background

log = logging.getLogger(__name__)
DEFAULTS = {"WEBHOOK_INTERVAL": 2.0, "WEBHOOK_TIMEOUT": 5.0, "WEBHOOK_BACKOFF": wh.BACKOFF}
BATCH = 100


def _now() -> datetime:
    return datetime.now(timezone.utc)


def queue(session, event: str, data: dict, at: datetime | None = None, webhook_id: int | None = None) -> list[str]:
    """Write the deliveries of one event (to one webhook: ``webhook_id``, e.g. a ping); their uuids.
    The caller commits."""
    if webhook_id is not None:
        hooks = [h for h in [session.get(Webhook, webhook_id)] if h is not None]
    else:
        hooks = [h for h in session.scalars(select(Webhook).where(Webhook.active.is_(True)))
                 if event in (h.events or [])]
    ids = []
    for h in hooks:
        delivery, text = wh.body(event, data, at)
        session.add(WebhookDelivery(uuid=delivery, webhook_id=h.id, event=event, payload=text,
                                    status="pending", attempts=0, next_attempt_at=_now()))
        ids.append(delivery)
    return ids


_changes = [0]   # bumped whenever this process writes a webhook: its own edits show at once


@sa_event.listens_for(Webhook, "after_insert")
@sa_event.listens_for(Webhook, "after_update")
@sa_event.listens_for(Webhook, "after_delete")
def _webhook_written(*_args) -> None:
    _changes[0] += 1


class Subscriptions:
    """Which events some active webhook wants, read from the database at most once a second per
    process (at once after this process changed a webhook): an event nobody subscribes to (most of a
    chat burst) never takes a connection."""

    TTL = 1.0

    def __init__(self, db):
        self._db = db
        self._lock = threading.Lock()
        self._events: frozenset[str] = frozenset()
        self._read_at = float("-inf")
        self._seen = _changes[0]

    def wanted(self, event: str) -> bool:
        with self._lock:
            if time.monotonic() - self._read_at >= self.TTL or self._seen != _changes[0]:
                self._refresh()
            return event in self._events

    def _refresh(self) -> None:
        seen = _changes[0]
        s = self._db.sessions()
        try:
            wanted: set[str] = set()
            for events in s.scalars(select(Webhook.events).where(Webhook.active.is_(True))):
                wanted.update(events or ())
        finally:
            s.close()
        self._events = frozenset(wanted)
        self._read_at = time.monotonic()
        self._seen = seen


class Backlog:
    """Events whose deliveries could not be written at once (no connection in time, a database
    restart): kept in order and written by the sender loop before it sends, never dropped."""

    def __init__(self):
        self._items: deque = deque()

    def add(self, name: str, data: dict, at) -> None:
        self._items.append((name, data, at))

    def __len__(self) -> int:
        return len(self._items)

    def flush(self, db) -> int:
        """Write what waits; stops at the first failure (tried again next sweep).  How many written."""
        written = 0
        while self._items:
            name, data, at = self._items[0]
            s = db.sessions()
            try:
                queue(s, name, data, at)
                s.commit()
            except Exception:
                s.rollback()
                log.warning("webhook backlog: %d event(s) wait for the database", len(self._items))
                return written
            finally:
                s.close()
            self._items.popleft()
            written += 1
        return written


def subscribe(app) -> None:
    db = app.extensions["centrala.db"]
    subs = app.extensions["centrala.webhook_subscriptions"] = Subscriptions(db)
    backlog = app.extensions["centrala.webhook_backlog"] = Backlog()

    def on_event(event) -> None:
        data = dict(event.data)
        try:
            if not subs.wanted(event.name):
                return
        except Exception:   # the database is unreachable: keep the event, decide when it is back
            backlog.add(event.name, data, event.at)
            return
        s = db.sessions()
        try:
            if queue(s, event.name, data, event.at):
                s.commit()
        except Exception:
            s.rollback()
            log.warning("webhook deliveries for %s delayed: the database did not answer in time",
                        event.name, exc_info=True)
            backlog.add(event.name, data, event.at)
        finally:
            s.close()

    for name in wh.EVENTS:
        app.extensions["centrala.bus"].subscribe(name, on_event)


def _cfg(app, key):
    return app.config.get(key, DEFAULTS[key])


def http_client() -> httpx.Client:
    """The sender's HTTP client.  The loop keeps one for its lifetime: a new client per delivery
    built a TLS context (tens of ms of CPU, holding the GIL) and a TCP connection every time, which
    a burst of deliveries to a failing receiver turned into seconds of the web process's CPU."""
    return httpx.Client(follow_redirects=False)


def deliver_due(app, now: datetime | None = None, client: httpx.Client | None = None) -> list[str]:
    """Send what is due; the uuids of the deliveries this call attempted.  ``client``: the
    sender loop's (else one for this call)."""
    if client is None:
        with http_client() as own:
            return deliver_due(app, now, own)
    now = now or _now()
    db = app.extensions["centrala.db"]
    s = db.sessions()
    done = []
    try:
        ids = list(s.scalars(
            select(WebhookDelivery.id).join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
            .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now,
                   Webhook.active.is_(True))
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id).limit(BATCH)))
        s.rollback()
        for did in ids:
            if app.extensions["centrala.stop"].is_set():
                break
            try:
                uid = _attempt(app, s, client, did, now)
                if uid:
                    done.append(uid)
            except Exception:
                s.rollback()
                log.exception("webhook delivery %s failed", did)
            now = _now()
    finally:
        s.close()
    return done


def _attempt(app, s, client: httpx.Client, did: int, now: datetime) -> str | None:
    timeout = float(_cfg(app, "WEBHOOK_TIMEOUT"))
    lease = now + timedelta(seconds=timeout + 30)
    claimed = s.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == did, WebhookDelivery.status == "pending",
               WebhookDelivery.next_attempt_at <= now)
        .values(attempts=WebhookDelivery.attempts + 1, next_attempt_at=lease, last_attempt_at=now)
        .execution_options(synchronize_session=False)).rowcount
    if claimed != 1:
        s.rollback()
        return None
    d = s.get(WebhookDelivery, did, populate_existing=True)
    hook = s.get(Webhook, d.webhook_id)
    url, secret, raw = hook.url, hook.secret, d.payload.encode()
    uid, event, attempts = d.uuid, d.event, d.attempts
    s.commit()   # the claim is visible to other workers before the (slow) request

    code, error = None, None
    try:
        r = client.post(url, content=raw, timeout=timeout, headers={
            "Content-Type": "application/json", "User-Agent": "Centrala-Webhooks/1",
            "X-Centrala-Event": event, "X-Centrala-Delivery": uid,
            "X-Centrala-Signature": wh.sign(secret, raw)})
        code = r.status_code
        if not 200 <= code < 300:
            error = f"HTTP {code}"
    except httpx.HTTPError as exc:   # the URL is logged, never the headers (the signature)
        error = f"{type(exc).__name__}: {exc}"[:500]
    values = {"response_code": code, "error": error}
    if error is None:
        values["status"] = "delivered"
    else:
        delay = wh.retry_delay(attempts, _cfg(app, "WEBHOOK_BACKOFF"))
        if delay is None:
            values["status"] = "failed"
            log.warning("webhook delivery %s to %s failed after %d attempts: %s", uid, url, attempts, error)
        else:
            values["next_attempt_at"] = _now() + timedelta(seconds=delay)
    s.execute(update(WebhookDelivery).where(WebhookDelivery.id == did, WebhookDelivery.attempts == attempts,
                                            WebhookDelivery.status == "pending")
              .values(**values).execution_options(synchronize_session=False))
    s.commit()
    return uid


def start(app, interval: float | None = None) -> None:
    """Deliver every ``interval`` seconds until the app's stop event is set."""
    stop = app.extensions["centrala.stop"]
    every = float(interval if interval is not None else _cfg(app, "WEBHOOK_INTERVAL"))

    def loop() -> None:
        with http_client() as client:
            while not stop.wait(every):
                try:
                    backlog = app.extensions.get("centrala.webhook_backlog")
                    if backlog:
                        backlog.flush(app.extensions["centrala.db"])
                    deliver_due(app, client=client)
                except Exception:
                    log.exception("webhook delivery sweep failed")

    background.start(app, loop)


def register(app, start_background: bool = True) -> None:
    subscribe(app)
    if start_background:
        start(app)
