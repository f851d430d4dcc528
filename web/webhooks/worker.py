"""Outgoing webhooks (BEY-1): events become persisted deliveries; a background loop POSTs them.

Queueing: a bus handler per offered event writes one ``webhook_deliveries`` row for each active
webhook that wants it (the body is fixed then, so a restart loses nothing and retries send the
same bytes).

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
from datetime import datetime, timedelta, timezone

import httpx
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


def subscribe(app) -> None:
    db = app.extensions["centrala.db"]

    def on_event(event) -> None:
        s = db.sessions()
        try:
            if queue(s, event.name, dict(event.data), event.at):
                s.commit()
        except Exception:
            s.rollback()
            log.exception("webhook deliveries for %s not queued", event.name)
        finally:
            s.close()

    for name in wh.EVENTS:
        app.extensions["centrala.bus"].subscribe(name, on_event)


def _cfg(app, key):
    return app.config.get(key, DEFAULTS[key])


def deliver_due(app, now: datetime | None = None) -> list[str]:
    """Send what is due; the uuids of the deliveries this call attempted."""
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
                uid = _attempt(app, s, did, now)
                if uid:
                    done.append(uid)
            except Exception:
                s.rollback()
                log.exception("webhook delivery %s failed", did)
            now = _now()
    finally:
        s.close()
    return done


def _attempt(app, s, did: int, now: datetime) -> str | None:
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
        r = httpx.post(url, content=raw, timeout=timeout, follow_redirects=False, headers={
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
        while not stop.wait(every):
            try:
                deliver_due(app)
            except Exception:
                log.exception("webhook delivery sweep failed")

    background.start(app, loop)


def register(app, start_background: bool = True) -> None:
    subscribe(app)
    if start_background:
        start(app)
