"""The offer engine's web side (issue 11): one ``OfferEngine`` per app, its sweep loop, and
agents leaving.  Channels register their presenter (e.g. ``web/chat/offers.py``).

The loop moves on offers whose deadline passed every ``OFFER_SWEEP_INTERVAL`` seconds (0.2 by
default), and every ``OFFER_WAITING_INTERVAL`` seconds (2) offers conversations that another
process opened without offering them (mail received by ``centrala mail worker``).  It holds no database connection while it waits, and its wait ends at once when the
app stops.  Every web process runs one; the rows in ``conversation_offers`` and their claims keep
them from acting twice (centrala/conversations/offers.py).
"""
from __future__ import annotations

import logging
import time

from agents import events
from centrala.conversations.offers import OfferEngine

from . import background

log = logging.getLogger(__name__)
DEFAULT_INTERVAL = 0.2
DEFAULT_WAITING_INTERVAL = 2.0


def engine(app) -> OfferEngine:
    return app.extensions["centrala.offers"]


def take_back(session, offer, state: str) -> None:
    """A presenter's drawer item of an offer that ended (``answered`` or ``ignored``)."""
    from .notifications import services as notifications

    if offer.notification_id and offer.agent_id:
        notifications.resolve(session, offer.agent_id, offer.notification_id, state)


def sweep_once(app) -> int:
    """One pass of the sweep (also what tests call on an app built without background loops)."""
    with app.app_context():
        s = app.extensions["centrala.db"].sessions()
        try:
            return engine(app).sweep(s)
        finally:
            s.close()


def offer_waiting(app, channels=None) -> None:
    """Conversations left waiting with no offer row get one (rows that exist carry on)."""
    with app.app_context():
        s = app.extensions["centrala.db"].sessions()
        try:
            for channel in channels if channels is not None else list(engine(app).presenters):
                engine(app).offer_waiting(s, channel)
        finally:
            s.close()


def _loop(app) -> None:
    stop = app.extensions["centrala.stop"]
    every = float(app.config.get("OFFER_SWEEP_INTERVAL", DEFAULT_INTERVAL))
    # conversations opened by another process (the mail worker) with no offer yet: looked for at
    # start and then every so often, so none waits for a web restart
    waiting_every = float(app.config.get("OFFER_WAITING_INTERVAL", DEFAULT_WAITING_INTERVAL))
    started: set[str] = set()
    next_look = time.monotonic() + waiting_every
    while not stop.wait(every):
        try:
            channels = list(engine(app).presenters)
            due = time.monotonic() >= next_look
            new = channels if due else [c for c in channels if c not in started]
            if new:
                offer_waiting(app, new)
                started.update(new)
            if due:
                next_look = time.monotonic() + waiting_every
            sweep_once(app)
        except Exception:
            log.exception("offer sweep failed")


def init_app(app, start_background: bool = True) -> None:
    app.extensions["centrala.offers"] = OfferEngine(app.extensions["centrala.bus"])
    db = app.extensions["centrala.db"]

    def agent_left(event) -> None:
        """Break/Offline: the agent's offers move on at the next sweep, not after the timeout."""
        if event.data.get("status") == "online" or not event.data.get("user_id"):
            return
        s = db.sessions()
        try:
            engine(app).agent_left(s, int(event.data["user_id"]))
        except Exception:
            s.rollback()
            log.exception("offers of agent %s not moved on", event.data.get("user_id"))
        finally:
            s.close()

    app.extensions["centrala.bus"].subscribe(events.AGENT_STATUS_CHANGED, agent_left)
    if start_background:
        background.start(app, _loop, app)
