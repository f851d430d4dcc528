"""Revocable panel logins, Flask side: the token in the signed cookie, the check the user loader
makes on every request and socket event, and the sockets of ended logins disconnected.

The rules live in ``centrala.login_sessions``; this module only carries the token between the
cookie and them.  Ending logins publishes ``sessions.ended`` (deactivation publishes
``users.changed``): every web process (the bus is bridged through Redis when scaled out)
then disconnects its own sockets whose login is over.
"""
from __future__ import annotations

import threading

from flask import current_app, session

from agents import events
from centrala import login_sessions

TOKEN = "login"         # the key of the token in Flask's session
NAMESPACE = "/agent"


def start(s, user_id: int, ip: str) -> None:
    """Call right after ``login_user``: the new login's row and the cookie's token."""
    session[TOKEN] = login_sessions.open_session(s, user_id, ip)


def live_user(s, user_id: int):
    """The user, if this request's cookie carries a live login of theirs."""
    return login_sessions.live_user(s, user_id, session.get(TOKEN))


def end_here(s) -> None:
    """Logout: end this login only (other browsers stay logged in)."""
    login_sessions.end_session(s, session.get(TOKEN))


def end_everywhere(s, user_id: int) -> int:
    return login_sessions.end_all(s, user_id)


def announce(user_id: int) -> None:
    """After the commit: sockets of ended logins are disconnected (in every web process)."""
    current_app.extensions["centrala.bus"].publish(events.SESSIONS_ENDED, user_id=user_id)


class SessionSockets:
    """This process's panel sockets: socket id -> (user id, login token)."""

    def __init__(self):
        self._by_sid: dict[str, tuple[int, str | None]] = {}
        self._lock = threading.Lock()

    def add(self, sid: str, user_id: int, token: str | None) -> None:
        with self._lock:
            self._by_sid[sid] = (user_id, token)

    def pop(self, sid: str) -> int | None:
        with self._lock:
            entry = self._by_sid.pop(sid, None)
        return entry[0] if entry else None

    def of_user(self, user_id: int) -> list[tuple[str, str | None]]:
        with self._lock:
            return [(sid, token) for sid, (uid, token) in self._by_sid.items() if uid == user_id]


def sockets():
    return current_app.extensions["centrala.session_sockets"]


def connected(sid: str, user_id: int) -> None:
    """A panel socket was accepted (its handshake carried this login's cookie)."""
    sockets().add(sid, user_id, session.get(TOKEN))


def disconnected(sid: str) -> int | None:
    """The user id the socket belonged to (also when its login has ended meanwhile)."""
    return sockets().pop(sid)


def register(app) -> None:
    registry = app.extensions["centrala.session_sockets"] = SessionSockets()
    db = app.extensions["centrala.db"]
    sio = app.extensions["socketio"]

    def recheck(event) -> None:
        from centrala.models import User

        user_id = event.data.get("user_id")
        candidates = registry.of_user(user_id) if user_id else []
        if not candidates:
            return
        with db.session() as s:
            user = s.get(User, user_id)
            over = [sid for sid, token in candidates
                    if user is None or not user.active or not login_sessions.is_live(s, user_id, token)]
        for sid in over:
            sio.server.disconnect(sid, namespace=NAMESPACE)

    bus = app.extensions["centrala.bus"]
    bus.subscribe(events.SESSIONS_ENDED, recheck)
    bus.subscribe(events.USERS_CHANGED, recheck)
