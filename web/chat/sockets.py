"""Socket.IO for the website chat.

``/visitor``: the widget (anonymous; a visitor is known by the token issued at the first
interaction).  A visitor's sockets join the room ``visitor:<id>``; nothing is ever sent to the
whole namespace except the availability (anyone Online or not).
``/agent`` (the panels' namespace, web/presence/sockets.py): ``chat:*`` events, each checked
against the logged-in agent server-side.
"""
from __future__ import annotations

import logging
import threading
import time
from datetime import timezone

from flask import current_app, request
from flask_login import current_user
from flask_socketio import join_room

from agents import events
from agents.chat import (ChatInputError, RateLimiter, anyone_online, clean_email, clean_message, clean_name,
                         clean_page, origin_allowed, origin_of, page_language)
from sqlalchemy import select, update

from agents.offers import TRANSFER
from centrala.channels import ChannelError
from centrala.channels.chat import CHAT
from centrala.conversations import lifecycle
from centrala.models import Communication, User, iso, utcnow
from centrala.models_chat import ChatConversation, ChatMessage, ChatVisitor

from ..extensions import dbs
from .. import background
from ..conversations import live
from ..offers import engine as offer_engine
from . import services as svc
from . import transfers
from .offers import ChatOffers

log = logging.getLogger(__name__)
VISITOR_NS = "/visitor"
AGENT_NS = "/agent"

VISITOR_GRACE = 15.0   # seconds without any socket before a waiting visitor counts as gone (reloads are quicker)
# name -> (hits, window seconds); app.config["CHAT_RATE_LIMITS"] may override (the benchmark does)
RATE_LIMITS = {
    "visitor_message": (10, 10.0),      # one visitor: 10 messages in 10 s
    "address_message": (120, 60.0),     # one address (an office behind NAT): 120 a minute
    "address_visitor": (30, 600.0),     # new visitors from one address: 30 in 10 minutes
    "address_offline": (5, 600.0),      # contact forms from one address: 5 in 10 minutes
    "visitor_typing": (30, 10.0),
    "visitor_page": (60, 60.0),         # page changes reported by single-page sites
    "visitor_upload": (10, 600.0),      # attachments: 10 per visitor in 10 minutes
    "address_upload": (30, 600.0),
}


class ChatHub:
    """Per-process state: which socket is which visitor, rate limits.  Offers and transfers are
    not here: they are rows of the offer engine (centrala/conversations/offers.py)."""

    def __init__(self, app):
        limits = {**RATE_LIMITS, **app.config.get("CHAT_RATE_LIMITS", {})}
        self.limits = {k: RateLimiter(*v) for k, v in limits.items()}
        self.sids: dict[str, int] = {}          # visitor socket id -> visitor id
        self.online: bool | None = None
        self.left: dict[int, float] = {}        # visitor id -> when their last socket closed
        self.beat_at = float("-inf")            # when this process last stamped its visitors as seen
        self.lock = threading.Lock()

    def allow(self, name: str, key: str) -> bool:
        return self.limits[name].hit(key)


def hub() -> ChatHub:
    return current_app.extensions["centrala.chat"]


def _ip() -> str:
    return request.remote_addr or ""


def _err(code: str, field: str | None = None) -> dict:
    return {"ok": False, "error": code, **({"field": field} if field else {})}


def stamp(s, visitor_ids) -> None:
    """``last_seen_at = now`` for these visitors (in chunks), committed."""
    ids = list(visitor_ids)
    for i in range(0, len(ids), 500):
        s.execute(update(ChatVisitor).where(ChatVisitor.id.in_(ids[i:i + 500])).values(last_seen_at=utcnow())
                  .execution_options(synchronize_session=False))
    if ids:
        s.commit()


def register(app, start_background: bool = True) -> None:
    sio = app.extensions["socketio"]
    db = app.extensions["centrala.db"]
    bus = app.extensions["centrala.bus"]
    chub = ChatHub(app)
    app.extensions["centrala.chat"] = chub
    engine = offer_engine(app)
    engine.register(CHAT.key, ChatOffers(app, sio, bus))
    transfers.register(sio, engine)
    svc._CACHE.clear()   # a new app may face a database that was just recreated (tests)

    def session():
        return db.sessions()

    # -- visitors who left before anyone accepted ----------------------------------------------
    def drop_abandoned(s, grace: float, waiting) -> None:
        """A visitor who left before anyone accepted: stop offering (like a caller hanging up);
        the chat stays in History as missed.  Gone means: no socket in this process for ``grace``
        seconds *and* no process has seen one for as long (``chat_visitors.last_seen_at``, kept
        fresh by ``heartbeat``), so with several web processes a visitor connected to another
        one is never taken for gone.  ``waiting``: ``svc.offered_visitors``, read once per pass."""
        now = time.monotonic()
        for comm_id, vid, seen in waiting:
            with chub.lock:
                present = vid in chub.sids.values()
                left = chub.left.setdefault(vid, now) if not present else None
            if present or now - left < grace or seen_lately(seen, grace):
                continue
            c = s.get(Communication, comm_id)
            if c is None or c.agent_id is not None or c.ended_at is not None:
                continue
            engine.conversation_ended(s, c.id, with_claim=lambda s, cid=c.id: missed(s, cid))  # drawer item back; once

    def missed(s, comm_id: int) -> None:
        c = s.get(Communication, comm_id, populate_existing=True)
        if c is not None and c.agent_id is None and c.ended_at is None:
            lifecycle.close(s, c, "missed")

    def seen_lately(seen, grace: float) -> bool:
        if seen is None:
            return False
        seen = seen if seen.tzinfo else seen.replace(tzinfo=timezone.utc)
        return (utcnow() - seen).total_seconds() < grace

    def heartbeat(s, grace: float, waiting) -> None:
        """Every third of the grace, stamp the waiting visitors (their chat offered, nobody has
        accepted) who have a socket here: other web processes read it before they take a visitor
        for gone.  Nobody else reads the stamp, so visitors whose chat is not offered cost nothing."""
        now = time.monotonic()
        if now - chub.beat_at < min(5.0, grace / 3):
            return
        chub.beat_at = now
        with chub.lock:
            here = set(chub.sids.values())
        stamp(s, sorted({vid for _cid, vid, _seen in waiting if vid in here}))

    def sweep_once() -> None:
        """One pass: one read of the offered chats, then only the writes that pass calls for."""
        with app.app_context():
            s = session()
            try:
                grace = float(app.config.get("CHAT_VISITOR_GRACE", VISITOR_GRACE))
                waiting = svc.offered_visitors(s)
                s.rollback()     # end the read: the writes below start from a fresh snapshot
                heartbeat(s, grace, waiting)
                drop_abandoned(s, grace, waiting)
            finally:
                s.close()

    def sweeper():
        stop = app.extensions["centrala.stop"]
        while not stop.wait(0.5):
            try:
                sweep_once()
            except Exception:
                log.exception("abandoned chat sweep failed")

    chub.sweep_once = sweep_once

    # -- availability (STA-3) --------------------------------------------------------------
    def availability(_event=None) -> None:
        with app.app_context():
            s = session()
            try:
                on = anyone_online(svc.chat_agents(s))
                cfg = svc.get_settings(s)
                card = svc.agent_card(svc.online_agent(s), cfg["key"])
            finally:
                s.close()
        if on != chub.online:
            chub.online = on
            sio.emit("availability", {"online": on, "agent": card}, namespace=VISITOR_NS)

    app.extensions["centrala.bus"].subscribe(events.AGENT_STATUS_CHANGED, availability)
    app.extensions["centrala.bus"].subscribe(events.USERS_CHANGED, availability)

    # -- /visitor ----------------------------------------------------------------------------
    def visitor_state(s, v: ChatVisitor, cfg: dict) -> dict:
        c = s.get(Communication, v.communication_id) if v.communication_id else None
        return {"visitor": {"name": v.name, "email": v.email},
                "chat": ({"id": c.id, "accepted": c.agent_id is not None,
                          "agent": svc.agent_card(s.get(User, c.agent_id), cfg["key"]) if c.agent_id else None,
                          "messages": [_public(m, v.language) for m in svc.transcript(s, c.id)]} if c else None)}

    @sio.on("connect", namespace=VISITOR_NS)
    def v_connect(auth=None):
        auth = auth if isinstance(auth, dict) else {}
        s = dbs()   # one session per event: Flask-Login's user loader uses it too (no second pool slot)
        try:
            cfg = svc.get_settings(s)
            if auth.get("key") != cfg["key"] or not cfg["enabled"]:
                return False
            if not origin_allowed(auth.get("origin"), svc.allowed_origins(cfg)):
                return False
            v = svc.visitor_by_token(s, auth.get("token"))
            if v is None:
                sio.emit("state", {"visitor": None, "chat": None, "known": False}, to=request.sid,
                         namespace=VISITOR_NS)
                return None
            with chub.lock:
                chub.sids[request.sid] = v.id
                chub.left.pop(v.id, None)
            join_room(f"visitor:{v.id}", namespace=VISITOR_NS)
            v.last_seen_at = utcnow()
            url, title = clean_page(auth.get("url"), auth.get("title"))
            p = svc.add_page(s, v, url, title)
            state = visitor_state(s, v, cfg)
            s.commit()
            if p is not None and v.communication_id:
                c = s.get(Communication, v.communication_id)
                if c is not None and c.agent_id:
                    sio.emit("chat:page", {"chat_id": c.id, "page": svc.page_json(p)},
                             to=f"user:{c.agent_id}", namespace=AGENT_NS)
            sio.emit("state", {**state, "known": True}, to=request.sid, namespace=VISITOR_NS)
            tell_presence(s, v.id)
        finally:
            s.close()

    def tell_presence(s, vid: int) -> None:
        """The agent's chat view shows whether the visitor still has the website open."""
        v = s.get(ChatVisitor, vid)
        c = s.get(Communication, v.communication_id) if v and v.communication_id else None
        if c is not None and c.agent_id and c.ended_at is None:
            with chub.lock:
                here = any(x == vid for x in chub.sids.values())
            sio.emit("chat:visitor", {"chat_id": c.id, "online": here}, to=f"user:{c.agent_id}",
                     namespace=AGENT_NS)

    @sio.on("disconnect", namespace=VISITOR_NS)
    def v_disconnect(*_args):
        with chub.lock:
            vid = chub.sids.pop(request.sid, None)
            if vid and vid not in chub.sids.values():
                now = chub.left[vid] = time.monotonic()
                if len(chub.left) > 10_000:   # forget visitors long gone
                    for k in [k for k, t in chub.left.items() if now - t > 3600]:
                        del chub.left[k]
        if vid:
            try:
                stamp(dbs(), [vid])            # the moment it left, for the other processes
                tell_presence(dbs(), vid)
            except Exception:
                log.exception("visitor presence update failed")

    @sio.on("page", namespace=VISITOR_NS)
    def v_page(data=None):
        """A single-page site changed its page without a reload (reported by the loader)."""
        with chub.lock:
            vid = chub.sids.get(request.sid)
        if not vid or not chub.allow("visitor_page", f"v{vid}"):
            return
        data = data if isinstance(data, dict) else {}
        s = dbs()
        v = s.get(ChatVisitor, vid)
        url, title = clean_page(data.get("url"), data.get("title"))
        p = svc.add_page(s, v, url, title) if v else None
        s.commit()
        if p is not None and v.communication_id:
            c = s.get(Communication, v.communication_id)
            if c is not None and c.agent_id:
                sio.emit("chat:page", {"chat_id": c.id, "page": svc.page_json(p)},
                         to=f"user:{c.agent_id}", namespace=AGENT_NS)

    def current_visitor(s) -> ChatVisitor | None:
        with chub.lock:
            vid = chub.sids.get(request.sid)
        return s.get(ChatVisitor, vid) if vid else None

    def adopt(s, data: dict, cfg: dict) -> tuple[ChatVisitor | None, str | None, dict | None]:
        """The socket's visitor, or a new one (first interaction): (visitor, new token, error)."""
        v = current_visitor(s)
        if v is not None:
            return v, None, None
        if not chub.allow("address_visitor", _ip()):
            return None, None, _err("rate_limited")
        v, token = svc.new_visitor(s, _ip(), page_language(data.get("lang")))
        with chub.lock:
            chub.sids[request.sid] = v.id
        join_room(f"visitor:{v.id}", namespace=VISITOR_NS)
        url, title = clean_page(data.get("url"), data.get("title"))
        svc.add_page(s, v, url, title)
        return v, token, None

    def next_message(s, inbound) -> dict | None:
        """The common case, kept lean (one query, one insert): a known visitor writing in an
        open chat.  None: take the full path (first message, data, closed chat...)."""
        with chub.lock:
            vid = chub.sids.get(request.sid)
        if vid is None:
            return None
        row = s.execute(select(Communication.id, Communication.channel, Communication.agent_id, Communication.remote)
                        .join(ChatVisitor, ChatVisitor.communication_id == Communication.id)
                        .where(ChatVisitor.id == vid, Communication.ended_at.is_(None))).first()
        if row is None:
            return None
        if not chub.allow("visitor_message", f"v{vid}"):
            return _err("rate_limited")
        m = lifecycle.add_inbound(s, row, inbound)
        lifecycle.commit(s, bus)
        out = visitor_json(row.id, m)
        sio.emit("message", _public(out), to=f"visitor:{vid}", namespace=VISITOR_NS, skip_sid=request.sid)
        if row.agent_id:
            sio.emit("chat:message", {**out, "who": row.remote}, to=f"user:{row.agent_id}", namespace=AGENT_NS)
        return {"ok": True, "message": _public(out), "chat_id": row.id}

    @sio.on("message", namespace=VISITOR_NS)
    def v_message(data=None):
        data = data if isinstance(data, dict) else {}
        try:
            inbound = CHAT.receive(data)
        except ChatInputError as exc:
            return _err(exc.code, exc.field)
        if not chub.allow("address_message", _ip()):
            return _err("rate_limited")
        s = dbs()   # one session per event: Flask-Login's user loader uses it too (no second pool slot)
        try:
            if data.get("name") is None and data.get("email") is None:
                fast = next_message(s, inbound)
                if fast is not None:
                    return fast
            cfg = svc.get_settings(s)
            known = current_visitor(s)
            if known is not None and not chub.allow("visitor_message", f"v{known.id}"):
                return _err("rate_limited")
            name = email = None
            if data.get("name") is not None or data.get("email") is not None:
                try:
                    name, email = clean_name(data.get("name")), clean_email(data.get("email"))
                except ChatInputError as exc:
                    return _err(exc.code, exc.field)
            has_data = bool(name and email) or bool(known and known.name and known.email)
            if cfg["ask_data"] and cfg["force_data"] and not has_data:
                return _err("data_required")
            open_id = known.communication_id if known else None
            if open_id is None and not anyone_online(svc.chat_agents(s)):
                return _err("offline")
            v, token, error = adopt(s, data, cfg)
            if error:
                return error
            if known is None:
                chub.allow("visitor_message", f"v{v.id}")   # the first message counts too
            if name:
                v.name, v.email = name, email
            created = None
            c = s.get(Communication, v.communication_id) if v.communication_id else None
            if c is None or c.ended_at is not None:
                c = created = svc.open_chat(s, v, origin_of(data.get("origin")) or "")
            elif name:
                c.remote = svc.display_name(v)
            m = lifecycle.add_inbound(s, c, inbound)
            lifecycle.commit(s, bus)
            out = visitor_json(c.id, m)
            sio.emit("message", _public(out), to=f"visitor:{v.id}", namespace=VISITOR_NS, skip_sid=request.sid)
            if created is not None:
                bus.publish(events.CHAT_STARTED, communication_id=c.id, visitor_id=v.id, origin=created_origin(s, c))
                engine.offer(s, c.id)
            elif c.agent_id:
                sio.emit("chat:message", {**out, "who": c.remote}, to=f"user:{c.agent_id}", namespace=AGENT_NS)
            return {"ok": True, "message": _public(out), "chat_id": c.id,
                    **({"token": token} if token else {})}
        finally:
            s.close()

    @sio.on("typing", namespace=VISITOR_NS)
    def v_typing(data=None):
        with chub.lock:
            vid = chub.sids.get(request.sid)
        if not vid or not chub.allow("visitor_typing", f"v{vid}"):
            return
        s = dbs()   # one session per event: Flask-Login's user loader uses it too (no second pool slot)
        try:
            v = s.get(ChatVisitor, vid)
            c = s.get(Communication, v.communication_id) if v and v.communication_id else None
            if c is not None and c.agent_id:
                sio.emit("chat:typing", {"chat_id": c.id, "typing": bool((data or {}).get("typing"))},
                         to=f"user:{c.agent_id}", namespace=AGENT_NS)
        finally:
            s.close()

    @sio.on("offline", namespace=VISITOR_NS)
    def v_offline(data=None):
        """STA-4/CHT-6: the contact form while nobody is Online."""
        data = data if isinstance(data, dict) else {}
        try:
            name, email = clean_name(data.get("name")), clean_email(data.get("email"))
            body = clean_message(data.get("message"))
        except ChatInputError as exc:
            return _err(exc.code, exc.field)
        if not chub.allow("address_offline", _ip()):
            return _err("rate_limited")
        s = dbs()   # one session per event: Flask-Login's user loader uses it too (no second pool slot)
        try:
            cfg = svc.get_settings(s)
            v, token, error = adopt(s, data, cfg)
            if error:
                return error
            v.name, v.email = name, email
            c = svc.open_chat(s, v, origin_of(data.get("origin")) or "", kind="offline")
            lifecycle.add_inbound(s, c, CHAT.receive({"body": body}))
            to = svc.default_address(s, cfg)
            lifecycle.commit(s, bus)
            url, _title = clean_page(data.get("url"), data.get("title"))
            bus.publish(events.CHAT_OFFLINE_MESSAGE, communication_id=c.id, to=to)
            if to:
                conf = current_app.extensions["centrala.settings"]
                subject, text = svc.offline_mail_texts(s, to, name, email, body, url, c.id, conf.base_url)
                svc.send_offline_mail(conf, to, subject, text)
            return {"ok": True, "chat_id": c.id, **({"token": token} if token else {})}
        finally:
            s.close()

    # -- /agent: chat events -------------------------------------------------------------
    def mine(s, data) -> tuple[Communication | None, ChatVisitor | None]:
        if not current_user.is_authenticated:
            return None, None
        try:
            cid = int((data or {}).get("chat_id") or 0)
        except (TypeError, ValueError):
            return None, None
        c, _conv, v = svc.conversation(s, cid)
        if c is None or c.agent_id != current_user.id:
            return None, None
        return c, v

    @sio.on("chat:accept", namespace=AGENT_NS)
    def a_accept(data=None):
        """A waiting chat offered to me, or one a colleague hands over (the engine tells which)."""
        if not current_user.is_authenticated:
            return _err("unauthorized")
        try:
            cid = int((data or {}).get("chat_id") or 0)
        except (TypeError, ValueError):
            return _err("invalid")
        s = dbs()   # one session per event: Flask-Login's user loader uses it too (no second pool slot)
        try:
            c, _conv, _v = svc.conversation(s, cid)
            if c is None:
                return _err("not_found")
            r = engine.accept(s, cid, current_user.id)
            if r.ok and r.offer is not None and r.offer.kind == TRANSFER:
                return {"ok": True, "transferred": True}
            return r.as_dict()
        finally:
            s.close()

    @sio.on("chat:send", namespace=AGENT_NS)
    def a_send(data=None):
        s = dbs()   # one session per event: Flask-Login's user loader uses it too (no second pool slot)
        try:
            c, v = mine(s, data)
            if c is None or c.ended_at is not None:
                return _err("forbidden")
            try:
                sent = lifecycle.reply(s, c, current_user, (data or {}).get("body"))
            except ChannelError as exc:
                lifecycle.discard(s)
                return _err(exc.code, "message")
            lifecycle.commit(s, bus)
            return {"ok": True, "message": push_message(s, c, sent.message.id, skip_sid=request.sid)}
        finally:
            s.close()

    @sio.on("chat:typing", namespace=AGENT_NS)
    def a_typing(data=None):
        s = dbs()   # one session per event: Flask-Login's user loader uses it too (no second pool slot)
        try:
            c, v = mine(s, data)
            if c is not None and v is not None and c.ended_at is None:
                sio.emit("typing", {"typing": bool((data or {}).get("typing"))}, to=f"visitor:{v.id}",
                         namespace=VISITOR_NS)
        finally:
            s.close()

    @sio.on("chat:close", namespace=AGENT_NS)
    def a_close(data=None):
        s = dbs()   # one session per event: Flask-Login's user loader uses it too (no second pool slot)
        try:
            c, v = mine(s, data)
            if c is None:
                return _err("forbidden")
            if lifecycle.close(s, c, "answered", by=current_user.id):
                lifecycle.commit(s, bus)
                engine.conversation_ended(s, c.id)     # a pending transfer is taken back
                if v is not None:
                    sio.emit("closed", {"chat_id": c.id}, to=f"visitor:{v.id}", namespace=VISITOR_NS)
            return {"ok": True}
        finally:
            s.close()

    def push_message(s, c: Communication, message_id: int, skip_sid: str | None = None) -> dict:
        """A stored message, live to the visitor's widget and the agent's panels: an agent's reply
        (socket, upload, REST API alike, through ``web.conversations.live``) or a visitor's file."""
        m = s.get(ChatMessage, message_id)
        author = s.get(User, m.user_id) if m.user_id else None
        out = svc.message_json(m, {author.id: author.name} if author else {},
                               key=svc.account_key(s) if m.attachment else "")
        conv = s.get(ChatConversation, c.id)
        v = s.get(ChatVisitor, conv.visitor_id) if conv else None
        if v is not None:
            sio.emit("message", _public(out), to=f"visitor:{v.id}", namespace=VISITOR_NS)
        if c.agent_id:
            sio.emit("chat:message", {**out, "who": c.remote} if m.sender == "visitor" else out,
                     to=f"user:{c.agent_id}", namespace=AGENT_NS, skip_sid=skip_sid)
        return out

    live.register(app, CHAT.key, push_message)

    if start_background:
        background.start(app, sweeper)


def visitor_json(chat_id: int, m) -> dict:
    """A visitor's stored message (``centrala.channels.Message``) as the chat screens show it."""
    return {"id": m.id, "chat_id": chat_id, "sender": "visitor", "body": m.text, "at": iso(m.at), "agent": None,
            "file": None}


def created_origin(s, c) -> str:
    conv = s.get(ChatConversation, c.id)
    return conv.origin if conv else ""


def _public(m: dict, lang: str = "en") -> dict:
    """What a visitor may see of a message (services.public_message)."""
    return svc.public_message(m, lang)
