"""The channels Centrala has, by key: adapters look a channel up here instead of ``if channel == …``."""
from __future__ import annotations

from agents import conversation

from .base import Channel, ChannelError

_CHANNELS: dict[str, Channel] = {}


def register(channel: Channel) -> Channel:
    if channel.key not in conversation.CHANNELS:
        raise ValueError(f"unknown channel key {channel.key!r}: add it to agents/conversation.py first")
    _CHANNELS[channel.key] = channel
    return channel


def get(key: str) -> Channel:
    try:
        return _CHANNELS[key]
    except KeyError:
        raise ChannelError(422, f"There is no {key} channel.", "no_channel") from None


def keys() -> tuple[str, ...]:
    """Registered channels, in the order of ``agents.conversation.CHANNELS``."""
    return tuple(k for k in conversation.CHANNELS if k in _CHANNELS)


def all() -> list[Channel]:  # noqa: A001 - the registry's natural name
    return [_CHANNELS[k] for k in keys()]


def types() -> tuple[str, ...]:
    """History's types for the channels that exist (voice brings voicemail)."""
    return tuple(t.key for t in conversation.TYPES.values() if t.channel in _CHANNELS)
