"""Extension objects created once and bound to the app in ``create_app`` (``init_app``)."""
from flask import current_app
from flask_socketio import SocketIO

# async_mode='threading' on purpose: eventlet/gevent monkey-patching breaks the pbx
# controller's asyncio loop in the same process (docs/architecture.md).
socketio = SocketIO(async_mode="threading")


def settings():
    return current_app.extensions["centrala.settings"]


def db():
    return current_app.extensions["centrala.db"]


def bus():
    return current_app.extensions["centrala.bus"]
