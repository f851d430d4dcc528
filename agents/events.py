"""Domain events: one list of names, one small thread-safe bus.

``pbx`` publishes what Asterisk did, ``web`` subscribes to push it to panels.  When the
two run in separate processes the same names travel through Redis (see docs/architecture.md).
"""
from __future__ import annotations

import logging
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

log = logging.getLogger(__name__)

# -- event names (subscribe to these, never to Asterisk event names) --------------------
PBX_CONNECTED = "pbx.connected"          # data: {"link": "ami"|"ari", "version": str|None}
PBX_DISCONNECTED = "pbx.disconnected"    # data: {"link": "ami"|"ari", "error": str|None}
PBX_RESYNCED = "pbx.resynced"            # data: {"link": ..., "channels": int}
CALL_ENTERED = "call.entered"            # data: {"call_id", "caller", "number", "args"}
CALL_ANSWERED = "call.answered"          # data: {"call_id"}
CALL_ENDED = "call.ended"                # data: {"call_id", "cause", "cause_text", "duration"}
AGENT_STATUS_CHANGED = "agent.status_changed"  # data: {"user_id", "status", "channels"}
NOTIFICATION_CREATED = "notification.created"  # data: {"user_id", "id", "channel", "title"}
USERS_CHANGED = "users.changed"          # data: {"user_id"}: created, edited, (de)activated
SETTINGS_CHANGED = "settings.changed"    # data: {"area": "voice", "keys": [...]}
CALL_HANGUP_REQUESTED = "call.hangup_requested"  # data: {"communication_id", "pbx_id"}
CALL_TRANSFER_REQUESTED = "call.transfer_requested"  # blind transfer (VOI-9): {"communication_id",
                                                     #  "pbx_id", "target" (agentN or E.164), "label"}
QUEUE_MEMBERS_CHANGED = "queue.members_changed"  # data: {"queue", "members": {interface: paused}}
SIP_REGISTRATION_CHANGED = "sip.registration_changed"  # data: {"user_id", "contact" or None}
AGENT_RINGING = "call.agent_ringing"     # data: {"user_id", "call_id", "caller", "communication_id"}
CALL_CONNECTED = "call.connected"        # data: {"user_id", "call_id", "communication_id"}
CALL_LOGGED = "call.logged"              # data: {"communication_id", "outcome", "call_id"}
VOICEMAIL_RECEIVED = "call.voicemail"    # data: {"communication_id", "caller"}
CALL_REQUESTED = "call.requested"        # click-to-call (COM-2): {"communication_id", "sip_username",
                                         #  "number", "our_number", "trunk", "ring_timeout"}
# Hold and attended transfer (VOI-9): requests from the panel/API, and what happened.
CALL_HOLD_REQUESTED = "call.hold_requested"  # {"communication_id", "pbx_id", "hold": bool}
CALL_CONSULT_REQUESTED = "call.consult_requested"  # attended transfer: {"communication_id", "pbx_id",
                                         #  "step": "start"|"complete"|"cancel", "target", "label"}
CALL_HELD = "call.held"                  # {"user_id", "call_id", "communication_id", "held": bool}
CALL_CONSULTING = "call.consulting"      # {"user_id", "call_id", "communication_id",
                                         #  "state": "consulting"|"completed"|"cancelled"|"failed", "label"}
AGENT_LEFT_CALL = "call.agent_left"      # a transfer target's part ended before the call did (not
                                         #  answered, consultation cancelled): {"user_id", "call_id",
                                         #  "communication_id"}

ALL = (PBX_CONNECTED, PBX_DISCONNECTED, PBX_RESYNCED, CALL_ENTERED, CALL_ANSWERED, CALL_ENDED,
       AGENT_STATUS_CHANGED, NOTIFICATION_CREATED, USERS_CHANGED, QUEUE_MEMBERS_CHANGED,
       SIP_REGISTRATION_CHANGED, AGENT_RINGING, CALL_CONNECTED, CALL_LOGGED, VOICEMAIL_RECEIVED,
       CALL_REQUESTED, SETTINGS_CHANGED, CALL_HANGUP_REQUESTED,
       CALL_TRANSFER_REQUESTED, CALL_HOLD_REQUESTED, CALL_CONSULT_REQUESTED, CALL_HELD, CALL_CONSULTING,
       AGENT_LEFT_CALL)

# Tasks and Files (TSK, FIL)
TASK_CHANGED = "task.changed"            # data: {"task_id", "action": created|updated|deleted, "user_ids"}
FILE_CHANGED = "file.changed"            # data: {"file_id"|"folder_id", "action": uploaded|deleted|folder_*}
TASK_REMINDED = "task.reminded"          # a due-date reminder was sent (once): {"task_id", "user_id"}
ALL += (TASK_CHANGED, FILE_CHANGED, TASK_REMINDED)

# -- website chat (issue #6) --
CHAT_STARTED = "chat.started"            # data: {"communication_id", "visitor_id", "origin"}
CHAT_ACCEPTED = "chat.accepted"          # data: {"communication_id", "user_id", "wait_seconds"}
CHAT_CLOSED = "chat.closed"              # data: {"communication_id", "outcome", "user_id" or None}
CHAT_OFFLINE_MESSAGE = "chat.offline_message"  # contact form (CHT-6): {"communication_id", "to"}
CHAT_TRANSFERRED = "chat.transferred"    # a colleague accepted the chat: {"communication_id", "from_user_id",
                                         #  "to_user_id"}
ALL = ALL + (CHAT_STARTED, CHAT_ACCEPTED, CHAT_CLOSED, CHAT_OFFLINE_MESSAGE, CHAT_TRANSFERRED)

# -- offers of conversations of any text channel (issue 11, centrala/conversations/offers.py) --
CONVERSATION_OFFERED = "conversation.offered"    # {"communication_id", "channel", "kind": offer|transfer,
                                                 #  "user_id", "from_user_id" (transfer) or None}
CONVERSATION_ACCEPTED = "conversation.accepted"  # {"communication_id", "channel", "user_id", "wait_seconds"}
CONVERSATION_TRANSFERRED = "conversation.transferred"  # a colleague accepted: {"communication_id", "channel",
                                                       #  "from_user_id", "to_user_id"}
CONVERSATION_OFFER_WITHDRAWN = "conversation.offer_withdrawn"  # an offer ended unaccepted: {"communication_id",
                                                 #  "channel", "kind", "user_id", "reason", "final"}
ALL = ALL + (CONVERSATION_OFFERED, CONVERSATION_ACCEPTED, CONVERSATION_TRANSFERRED, CONVERSATION_OFFER_WITHDRAWN)
# -- the conversation core (issue 11), every channel: published by centrala/conversations/lifecycle.py
# after the commit.  chat.* and call.* above stay while something subscribes to them (webhooks).
CONVERSATION_OPENED = "conversation.opened"    # {"communication_id", "channel", "direction", "remote", "agent_id"}
CONVERSATION_MESSAGE = "conversation.message"  # {"communication_id", "channel", "message_id", "direction":
                                               #  inbound|outbound|internal, "author": customer|agent|system,
                                               #  "user_id", "text", "attachments", "delivery"}
CONVERSATION_CLOSED = "conversation.closed"    # {"communication_id", "channel", "outcome", "user_id",
                                               #  "wait_seconds", "talk_seconds"}
ALL = ALL + (CONVERSATION_OPENED, CONVERSATION_MESSAGE, CONVERSATION_CLOSED)
# -- web security (issue 12) --
SESSIONS_ENDED = "sessions.ended"        # panel logins of a user ended (logout, everywhere, password,
                                         # deactivation): {"user_id"}; their sockets are disconnected
ALL = ALL + (SESSIONS_ENDED,)


@dataclass(frozen=True)
class Event:
    name: str
    data: dict[str, Any] = field(default_factory=dict)
    at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))


Handler = Callable[[Event], None]


class EventBus:
    """Synchronous publish/subscribe; a failing handler is logged and does not stop others."""

    def __init__(self) -> None:
        self._handlers: dict[str, list[Handler]] = defaultdict(list)
        self._lock = threading.Lock()

    def subscribe(self, name: str, handler: Handler) -> Callable[[], None]:
        """Subscribe to one event name, or ``"*"`` for all.  Returns an unsubscribe function."""
        with self._lock:
            self._handlers[name].append(handler)

        def unsubscribe() -> None:
            with self._lock:
                if handler in self._handlers[name]:
                    self._handlers[name].remove(handler)

        return unsubscribe

    def publish(self, name: str, **data: Any) -> Event:
        event = Event(name, data)
        with self._lock:
            handlers = list(self._handlers.get(name, ())) + list(self._handlers.get("*", ()))
        for handler in handlers:
            try:
                handler(event)
            except Exception:  # pragma: no cover - logged, not raised
                log.exception("event handler failed for %s", name)
        return event
