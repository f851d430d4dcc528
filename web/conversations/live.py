"""Live push of a stored message, per real-time channel, looked up by the channel's key.

A real-time channel's web adapter (``web/chat/sockets.py``) registers how a message it stored
reaches the customer's and the agent's open screens; the REST API pushes through here, so a
reply sent over the API appears in the widget like one typed in the panel.  Channels that are not
real-time (email, SMS) register nothing: their ``send`` already handed the message to the
provider."""
from __future__ import annotations

from typing import Callable

Pusher = Callable[..., dict]   # (session, communication, message id, skip_sid=None) -> the message as pushed


def register(app, channel: str, pusher: Pusher) -> None:
    app.extensions.setdefault("centrala.live", {})[channel] = pusher


def push(app, session, c, message_id: int) -> dict | None:
    """Show a stored message live; returns it as the channel's screens show it (None: not real-time)."""
    pusher = app.extensions.get("centrala.live", {}).get(c.channel)
    return pusher(session, c, message_id) if pusher is not None else None
