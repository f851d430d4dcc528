"""Channels behind one interface (``base.Channel``) and their registry.

Importing the package registers every channel Centrala has; a new channel is one module here
plus one line below (docs/architecture.md, "Adding a channel")."""
from . import registry
from .base import Channel, ChannelError, Inbound, Message, Sent
from .chat import CHAT
from .email import EMAIL
from .voice import VOICE

__all__ = ["registry", "Channel", "ChannelError", "Inbound", "Message", "Sent", "CHAT", "EMAIL", "VOICE"]
