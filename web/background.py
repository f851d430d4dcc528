"""The web app's background loops (presence, chat offers, task reminders): started through
here so that stopping an app can wait for them to end — tests build many apps on one database,
and an old app's loop must not act on the next test's data."""
from __future__ import annotations


def start(app, fn, *args) -> None:
    thread = app.extensions["socketio"].start_background_task(fn, *args)
    app.extensions["centrala.background"].append(thread)


def stop(app, timeout: float = 5.0) -> None:
    """Ask this app's loops to stop (``centrala.stop``) and wait for each to end."""
    app.extensions["centrala.stop"].set()
    for thread in app.extensions["centrala.background"]:
        thread.join(timeout)
