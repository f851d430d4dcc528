"""Socket.IO namespace ``/agent`` for panels: presence, status, notifications.

Every event checks the session server-side: anonymous sockets are refused at connect, admin
events are refused for agents.
"""
from __future__ import annotations

import logging
from functools import wraps

from flask import current_app, request
from flask_login import current_user
from flask_socketio import join_room

from agents import events
from centrala.models import User

from ..auth import sessions as login_sockets
from ..api.schemas import Body, DbId, validate
from ..extensions import dbs
from .. import background
from ..notifications import services as notifications
from .services import NAMESPACE, StatusChange, StatusName, change_status, roster, user_presence

log = logging.getLogger(__name__)
FORBIDDEN = {"ok": False, "error": "forbidden"}


class NotificationRef(Body):
    id: DbId


class PresenceChange(Body):
    user_id: DbId
    status: StatusName  # type: ignore[valid-type]


def _authenticated(handler):
    @wraps(handler)
    def wrapper(*args, **kwargs):
        if not current_user.is_authenticated:
            return {"ok": False, "error": "unauthorized"}
        return handler(*args, **kwargs)

    return wrapper


def _admin(handler):
    @wraps(handler)
    def wrapper(*args, **kwargs):
        if not current_user.is_authenticated:
            return {"ok": False, "error": "unauthorized"}
        if not current_user.is_admin:
            log.warning("refused admin socket event from %s", current_user.email)
            return FORBIDDEN
        return handler(*args, **kwargs)

    return wrapper


def snapshot(user_id: int) -> dict:
    s = dbs()
    me = s.get(User, user_id)
    return {"me": user_presence(me), "presence": roster(s),
            "badges": notifications.badges(s, user_id),
            "notifications": notifications.recent(s, user_id)}


def register(app, start_background: bool = True) -> None:
    sio = app.extensions["socketio"]
    tracker = app.extensions["centrala.presence"]

    @sio.on("connect", namespace=NAMESPACE)
    def on_connect(auth=None):
        if not current_user.is_authenticated:
            return False  # refused: the client sees connect_error
        join_room(f"user:{current_user.id}")
        login_sockets.connected(request.sid, current_user.id)
        tracker.connected(current_user.id, request.sid)
        sio.emit("snapshot", snapshot(current_user.id), to=request.sid, namespace=NAMESPACE)

    @sio.on("disconnect", namespace=NAMESPACE)
    def on_disconnect(*_args):
        # also a socket whose login has just been ended (no current user any more)
        user_id = login_sockets.disconnected(request.sid)
        if user_id is not None:
            tracker.disconnected(user_id, request.sid)

    @sio.on("resync", namespace=NAMESPACE)
    @_authenticated
    def on_resync(_data=None):
        return {"ok": True, **snapshot(current_user.id)}

    @sio.on("status:set", namespace=NAMESPACE)
    @_authenticated
    def on_status(data):
        change, error = validate(StatusChange, data)
        if error:
            return {"ok": False, "error": "invalid status"}
        s = dbs()
        user = s.get(User, current_user.id)
        change_status(s, user, change["status"], actor=user)
        return {"ok": True, "status": user.status}

    @sio.on("presence:set", namespace=NAMESPACE)
    @_admin
    def on_presence_set(data):
        """A supervisor sets another agent's status (e.g. Offline for someone who left)."""
        data, error = validate(PresenceChange, data)
        if error:
            return {"ok": False, "error": error}
        s = dbs()
        user = s.get(User, data["user_id"])
        if user is None:
            return {"ok": False, "error": "no such user"}
        change_status(s, user, data["status"], actor=s.get(User, current_user.id), reason="set by administrator")
        return {"ok": True, "status": user.status}

    @sio.on("notification:answer", namespace=NAMESPACE)
    @_authenticated
    def on_answer(data):
        ref, error = validate(NotificationRef, data)
        if error:
            return {"ok": False, "error": error, "link": None}
        n = notifications.resolve(dbs(), current_user.id, ref["id"], "answered")
        return {"ok": n is not None, "link": n.link if n else None}

    @sio.on("notification:ignore", namespace=NAMESPACE)
    @_authenticated
    def on_ignore(data):
        ref, error = validate(NotificationRef, data)
        if error:
            return {"ok": False, "error": error}
        n = notifications.resolve(dbs(), current_user.id, ref["id"], "ignored")
        return {"ok": n is not None}

    def on_registration(event):
        """Softphone registered or gone (from the pbx controller): tell the agent's panels."""
        sio.emit("sip", {"registered": bool(event.data.get("contact"))},
                 to=f"user:{event.data['user_id']}", namespace=NAMESPACE)

    app.extensions["centrala.bus"].subscribe(events.SIP_REGISTRATION_CHANGED, on_registration)

    if start_background:
        background.start(app, _offline_sweeper, app)


def _offline_sweeper(app) -> None:
    """Agents whose every panel has been gone for the grace period go Offline."""
    tracker = app.extensions["centrala.presence"]
    interval = max(0.2, min(1.0, tracker.grace / 4))
    stop = app.extensions["centrala.stop"]
    while not stop.wait(interval):   # threading mode: a plain wait, ended at once by stop
        due = tracker.due_offline()
        if not due:
            continue
        with app.app_context():
            s = app.extensions["centrala.db"].sessions()
            try:
                for uid in due:
                    user = s.get(User, uid)
                    if user is not None and tracker.panels(uid) == 0:
                        change_status(s, user, "offline", reason="no open panel")
            except Exception:
                log.exception("offline sweep failed")
            finally:
                s.close()
