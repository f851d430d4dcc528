"""The call card's states (VOI-8, VOI-9): domain events from the pbx controller turned into
Socket.IO events for the agent on the call.  Incoming work (a ringing call, a voicemail) goes
through the one notifier, ``web/notifications/notifier.py``."""
from __future__ import annotations

from agents import events

from ..presence.services import NAMESPACE


def register(app) -> None:
    sio = app.extensions["socketio"]
    bus = app.extensions["centrala.bus"]

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

    bus.subscribe(events.CALL_CONNECTED, connected)
    bus.subscribe(events.CALL_LOGGED, logged)
    bus.subscribe(events.CALL_HELD, held)
    bus.subscribe(events.CALL_CONSULTING, consulting)
    bus.subscribe(events.AGENT_LEFT_CALL, left)
