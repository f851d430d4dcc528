"""What every channel offers the conversation core (DESIGN.md, "Channels behind one interface").

A channel is one module with one ``Channel`` subclass: its key (and through it the agent skills
it needs), whether it is real-time, how a provider's payload becomes a normalised inbound
message, how a reply goes out (returning its id and delivery state), how the remote party is
shown, its settings, and the messages of a conversation.  Everything else — opening, offering,
accepting, closing, History, drawer, events — is the conversation core's, the same for all.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Sequence

from agents import conversation

# delivery states of a message (per message; real-time channels deliver at once)
SENT, DELIVERED, FAILED, RECEIVED = "sent", "delivered", "failed", "received"
DIRECTIONS = ("inbound", "outbound", "internal")


class ChannelError(Exception):
    """A channel cannot do what was asked: ``status`` is the HTTP answer an adapter gives
    (409: not possible for this conversation now; 422: not possible on this channel)."""

    def __init__(self, status: int, message: str, code: str = ""):
        super().__init__(message)
        self.status, self.code = status, code or "refused"


@dataclass(frozen=True)
class Inbound:
    """An inbound message, normalised from whatever the provider sent."""
    remote: str                                     # the customer's address/number/visitor
    text: str = ""
    attachments: list[dict] = field(default_factory=list)   # {"ref": <channel's reference>, "name"}
    external_id: str | None = None                  # the provider's id of the message
    data: dict = field(default_factory=dict)        # what only this channel needs


@dataclass(frozen=True)
class Message:
    """One message of a text conversation, as every adapter (panel, REST, webhooks) shows it."""
    id: int
    direction: str                                  # inbound | outbound | internal (system entries)
    author: dict | None                             # {"kind": "customer"|"agent"|"system", "id", "name"}
    text: str
    attachments: list[dict]
    at: datetime
    delivery: str

    def as_dict(self) -> dict:
        from centrala.models import iso

        return {"id": self.id, "direction": self.direction, "author": self.author, "text": self.text,
                "attachments": self.attachments, "at": iso(self.at), "delivery": self.delivery}


@dataclass(frozen=True)
class Sent:
    message: Message
    external_id: str | None = None                  # the provider's id, when it gives one


class Channel:
    """The interface; a channel module subclasses it and registers one instance."""
    key: str = ""
    real_time: bool = True
    text: bool = True          # has messages (voice does not)
    # the names this channel published before the conversation core ("closed" -> "chat.closed"):
    # the core publishes them beside conversation.* while something (webhooks) subscribes to them
    legacy_events: dict[str, str] = {}
    remote_is_phone: bool = False   # the remote party is a phone number (History offers "Add to contacts")

    @property
    def skills(self) -> tuple[str, ...]:
        return conversation.SKILLS_BY_CHANNEL[self.key]

    @property
    def inbound_skill(self) -> str:
        """The skill of the agents who are offered this channel's inbound conversations."""
        return conversation.INBOUND_SKILL[self.key]

    def outcomes(self) -> tuple[str, ...]:
        return conversation.OUTCOMES_BY_CHANNEL[self.key]

    # -- provider side ---------------------------------------------------------------------
    def receive(self, payload: dict) -> Inbound:
        raise ChannelError(422, f"The {self.key} channel takes no inbound payloads.", "no_inbound")

    def store_inbound(self, session, comm, inbound: Inbound) -> Message:
        """Keep a received message of the conversation (the caller commits)."""
        raise ChannelError(422, f"The {self.key} channel has no messages.", "no_messages")

    def send(self, session, comm, author_id: int, text: str, attachments: Sequence[dict] = ()) -> Sent:
        """Store an agent's reply and hand it to the provider: the message with its delivery state.
        ``attachments``: files the channel already stored, ``{"ref": <channel's reference>, "name"}``."""
        raise ChannelError(422, f"Replies cannot be written on the {self.key} channel.", "no_messages")

    def closed(self, session, comm) -> None:
        """The conversation just ended: tidy what only this channel keeps (the caller commits)."""

    # -- how it is shown --------------------------------------------------------------------
    def remote_label(self, comm) -> str:
        return comm.remote or ""

    def messages(self, session, comm) -> list[Message]:
        raise ChannelError(422, f"The {self.key} channel has no messages.", "no_messages")

    def settings(self, session) -> dict:
        return {}

    def offer_link(self, comm) -> str:
        """Where the drawer item of an offered conversation leads."""
        return f"/history/{comm.id}"
