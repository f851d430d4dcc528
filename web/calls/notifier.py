"""Calls as the panels see them (VOI-8, INB-1, VOI-3): domain events from the pbx controller
turned into Socket.IO events for the right agents, and drawer items."""
from __future__ import annotations

import logging

from flask_babel import force_locale, gettext as _
from sqlalchemy import select

from agents import events
from centrala.models import User

from ..notifications.services import push
from ..presence.services import NAMESPACE

log = logging.getLogger(__name__)


def register(app) -> None:
    sio = app.extensions["socketio"]
    bus = app.extensions["centrala.bus"]
    db = app.extensions["centrala.db"]

    def contact_of(number: str) -> dict | None:
        """The caller's contact (VOI-2: caller id matched to a contact), by any form of the number."""
        if not number:
            return None
        from centrala.account import default_region
        from centrala.contacts import find_by_phone

        s = db.sessions()
        try:
            c = find_by_phone(s, number, default_region(s, app.extensions["centrala.settings"]))
            return {"id": c.id, "name": c.display_name} if c else None
        except Exception:
            log.exception("contact lookup for %s failed", number)
            return None
        finally:
            s.close()

    def ringing(event):
        d = event.data
        sio.emit("call", {"state": "ringing", "call_id": d["call_id"], "caller": d.get("caller", ""),
                          "communication_id": d.get("communication_id"), "contact": contact_of(d.get("caller", ""))},
                 to=f"user:{d['user_id']}", namespace=NAMESPACE)

    def connected(event):
        d = event.data
        if d.get("user_id"):
            sio.emit("call", {"state": "talking", "call_id": d["call_id"],
                              "communication_id": d.get("communication_id")},
                     to=f"user:{d['user_id']}", namespace=NAMESPACE)

    def held(event):
        d = event.data
        if d.get("user_id"):
            sio.emit("call", {"state": "held" if d["held"] else "resumed", "call_id": d["call_id"],
                              "communication_id": d.get("communication_id")},
                     to=f"user:{d['user_id']}", namespace=NAMESPACE)

    def consulting(event):
        """Attended transfer: consulting → completed (the agent's part is over) or back to talking."""
        d = event.data
        if d.get("user_id"):
            state = {"consulting": "consulting", "completed": "transferred"}.get(d["state"], "resumed")
            sio.emit("call", {"state": state, "call_id": d["call_id"], "communication_id": d.get("communication_id"),
                              "label": d.get("label", ""), "failed": d["state"] == "failed"},
                     to=f"user:{d['user_id']}", namespace=NAMESPACE)

    def left(event):
        """A transfer target's part ended before the call did: their card closes."""
        d = event.data
        if d.get("user_id"):
            sio.emit("call", {"state": "ended", "call_id": d["call_id"], "outcome": None,
                              "communication_id": d.get("communication_id")},
                     to=f"user:{d['user_id']}", namespace=NAMESPACE)

    def logged(event):
        sio.emit("call", {"state": "ended", "call_id": event.data["call_id"], "outcome": event.data["outcome"],
                          "communication_id": event.data["communication_id"]}, namespace=NAMESPACE)

    def voicemail(event):
        """Every agent serving inbound voice finds the message in the drawer (now or when back)."""
        with app.app_context():
            s = db.sessions()
            try:
                users = [u for u in s.scalars(select(User).where(User.active.is_(True)))
                         if "voice_in" in (u.channels or [])]
                for u in users:
                    with app.test_request_context(), force_locale(u.language or "pl"):
                        title = _("Voicemail from %(caller)s", caller=event.data.get("caller") or _("unknown number"))
                    push(s, [u.id], "voicemail", title, link=f"/history/{event.data['communication_id']}")
            except Exception:
                log.exception("voicemail notification failed")
            finally:
                s.close()

    bus.subscribe(events.AGENT_RINGING, ringing)
    bus.subscribe(events.CALL_CONNECTED, connected)
    bus.subscribe(events.CALL_LOGGED, logged)
    bus.subscribe(events.CALL_HELD, held)
    bus.subscribe(events.CALL_CONSULTING, consulting)
    bus.subscribe(events.AGENT_LEFT_CALL, left)
    bus.subscribe(events.VOICEMAIL_RECEIVED, voicemail)
