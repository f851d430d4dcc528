"""The voice channel: calls ring agents' phones through Asterisk's app_queue (``pbx/``).

A call has no written messages; its lifecycle (opened by the pbx controller, offered by ringing,
accepted by answering, closed with an outcome) is the conversation core's like any other."""
from __future__ import annotations

from . import registry
from .base import Channel, ChannelError, Inbound, Sent


class VoiceChannel(Channel):
    key = "voice"
    real_time = True
    text = False
    remote_is_phone = True

    def receive(self, payload: dict) -> Inbound:
        """The controller's ``call.entered``: the caller's number and the number dialled."""
        return Inbound(remote=str(payload.get("caller") or ""), external_id=payload.get("call_id"),
                       data={"number": payload.get("number")})

    def send(self, session, comm, author_id: int, text, attachments=()) -> Sent:
        raise ChannelError(422, "This is a call: it has no written messages to reply to.", "no_messages")

    def messages(self, session, comm):
        raise ChannelError(422, "This is a call: it has no written messages.", "no_messages")


VOICE = registry.register(VoiceChannel())
