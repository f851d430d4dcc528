"""The website chat channel (CHT-1…8): real-time, messages in ``chat_messages``.

The widget's Socket.IO adapter (``web/chat/sockets.py``) turns visitor events into calls of the
conversation core; this module is what the core needs to know of chat."""
from __future__ import annotations

import secrets

from sqlalchemy import insert, select

from agents import events
from agents.chat import ChatInputError, clean_message
from centrala.models import AccountSetting, User, utcnow
from centrala.models_chat import ChatMessage, ChatVisitor

from . import registry
from .base import DELIVERED, RECEIVED, SENT, Channel, ChannelError, Inbound, Message, Sent

# Settings / General, Chat, Triggers: account_settings rows "chat.<name>" over these defaults
CORNERS = ("bottom-right", "bottom-left", "top-right", "top-left")
DEFAULTS = {
    "company": "", "website": "", "origins": [], "default_email": "",
    "color": "#7318b6", "offset_x": 20, "offset_y": 20, "corner": "bottom-right",
    "enabled": True, "ask_data": False, "force_data": False, "offer_timeout": 30,
    "triggers_enabled": False, "triggers": {},
    "embed_seen_at": None, "embed_seen_url": "", "logo": "",
}
_DIRECTION = {"visitor": "inbound", "agent": "outbound", "system": "internal"}
_AUTHOR = {"visitor": "customer", "agent": "agent", "system": "system"}


def display_name(v: ChatVisitor) -> str:
    """How a visitor is shown (History's remote party, the drawer, the chat list)."""
    if v.name and v.email:
        return f"{v.name} <{v.email}>"[:64]
    return (v.name or v.email or f"#{v.id}")[:64]


def attachment_json(value: str | None, key: str) -> dict | None:
    """``ChatMessage.attachment`` ("<stored name>/<original name>") as the panels and the API show it."""
    if not value:
        return None
    stored, _, original = value.partition("/")
    ext = stored.rsplit(".", 1)[-1]
    return {"name": original, "url": f"/widget/{key}/files/{stored}", "image": ext != "pdf"}


class ChatChannel(Channel):
    key = "chat"
    real_time = True
    text = True
    legacy_events = {"closed": events.CHAT_CLOSED}

    def receive(self, payload: dict) -> Inbound:
        """A visitor's message event → an inbound message (raises ChatInputError)."""
        return Inbound(remote="", text=clean_message(payload.get("body")),
                       data={k: payload.get(k) for k in ("name", "email", "origin", "url", "title")})

    def store_inbound(self, session, comm, inbound: Inbound) -> Message:
        """The visitor's message (text, or one file stored by ``save_attachment``); one INSERT
        (the hot path of a busy widget)."""
        now = utcnow()
        ref = inbound.attachments[0]["ref"] if inbound.attachments else None
        mid = session.execute(insert(ChatMessage).values(communication_id=comm.id, sender="visitor",
                                                         body=inbound.text, attachment=ref,
                                                         created_at=now)).inserted_primary_key[0]
        files = [attachment_json(ref, self.account_key(session))] if ref else []
        return Message(id=mid, direction="inbound", author={"kind": "customer", "id": None, "name": None},
                       text=inbound.text, attachments=files, at=now, delivery=RECEIVED)

    def closed(self, session, comm) -> None:
        """The visitor's widget no longer has an open chat."""
        for v in session.scalars(select(ChatVisitor).where(ChatVisitor.communication_id == comm.id)):
            v.communication_id = None

    def send(self, session, comm, author_id: int, text, attachments=()) -> Sent:
        if comm.ended_at is not None:
            raise ChannelError(409, "This chat has ended.", "closed")
        try:
            body = clean_message(text)
        except ChatInputError as exc:
            raise ChannelError(422, _INPUT_TEXT.get(exc.code, "The reply is not valid."), exc.code) from None
        ref = attachments[0]["ref"] if attachments else None
        m = ChatMessage(communication_id=comm.id, sender="agent", body=body, user_id=author_id, attachment=ref,
                        created_at=utcnow())
        session.add(m)
        session.flush()
        author = session.get(User, author_id)
        return Sent(self._message(m, {author_id: author.name if author else None},
                                  self.account_key(session) if ref else ""))

    def messages(self, session, comm) -> list[Message]:
        rows = session.scalars(select(ChatMessage).where(ChatMessage.communication_id == comm.id)
                               .order_by(ChatMessage.id)).all()
        ids = {m.user_id for m in rows if m.user_id}
        names = dict(session.execute(select(User.id, User.name).where(User.id.in_(ids))).all()) if ids else {}
        key = self.account_key(session) if any(m.attachment for m in rows) else ""
        return [self._message(m, names, key) for m in rows]

    def offer_link(self, comm) -> str:
        return f"/chat/{comm.id}?accept=1"

    def settings(self, session) -> dict:
        """The widget's settings; the account key (the embed snippet's public id) is made on
        first use.  ``web/chat/services.get_settings`` caches this for a second."""
        rows = {r.key[5:]: r.value for r in session.scalars(
            select(AccountSetting).where(AccountSetting.key.like("chat.%")))}
        out = {k: rows.get(k, v) if rows.get(k) is not None else v for k, v in DEFAULTS.items()}
        out["key"] = rows.get("key") or self._new_key(session)
        return out

    @staticmethod
    def _new_key(session) -> str:
        key = secrets.token_hex(16)
        session.add(AccountSetting(key="chat.key", value=key))
        session.commit()
        return key

    def account_key(self, session) -> str:
        """The account's widget key (in the embed snippet and attachment URLs)."""
        row = session.get(AccountSetting, "chat.key")
        return row.value if row and row.value else self.settings(session)["key"]

    @staticmethod
    def _message(m: ChatMessage, names: dict, key: str) -> Message:
        author = {"kind": _AUTHOR.get(m.sender, m.sender), "id": m.user_id,
                  "name": names.get(m.user_id) if m.user_id else None}
        file = attachment_json(m.attachment, key)
        # real-time: a stored message is on the visitor's or agent's screen or waits for their reload
        delivery = RECEIVED if m.sender == "visitor" else (SENT if m.sender == "agent" else DELIVERED)
        return Message(id=m.id, direction=_DIRECTION.get(m.sender, "internal"), author=author,
                       text=m.body if m.sender != "system" else "", attachments=[file] if file else [],
                       at=m.created_at, delivery=delivery)


_INPUT_TEXT = {"required": "text is required: a string that is not empty.",
               "too_long": "text may be at most 2000 characters long."}

CHAT = registry.register(ChatChannel())
