"""Website chat logic shared by the HTTP routes and the Socket.IO handlers.

Settings are ``account_settings`` rows with keys ``chat.*``; the account key (the public id in
the embed snippet) is generated on first use.  Visitors are known by a random token issued at
their first interaction (only its SHA-256 is stored).
"""
from __future__ import annotations

import hashlib
import json
import logging
import secrets
import threading
from datetime import timezone

from sqlalchemy import func, select

from agents import offers as offer_rules
from agents.offers import OfferAgent
from centrala.channels.chat import CHAT, CORNERS, DEFAULTS, attachment_json, display_name  # noqa: F401 - used by the adapters
from centrala.conversations import lifecycle, offers
from centrala.mail import MailError, send_mail
from centrala.models import AccountSetting, Communication, User, iso, utcnow
from centrala.models_chat import ChatConversation, ChatMessage, ChatPageView, ChatTemplate, ChatVisitor
from centrala.models_offers import ConversationOffer

log = logging.getLogger(__name__)

_CACHE: dict[str, tuple[float, dict]] = {}
CACHE_SECONDS = 1.0   # every visitor event reads the settings; another process's change shows within 1 s


def get_settings(session) -> dict:
    import time

    where = str(session.get_bind().url)
    hit = _CACHE.get(where)
    if hit and time.monotonic() - hit[0] < CACHE_SECONDS:
        return dict(hit[1])
    out = CHAT.settings(session)
    _CACHE[where] = (time.monotonic(), out)
    return dict(out)


def save_settings(session, values: dict) -> None:
    for k, v in values.items():
        if k not in DEFAULTS:
            raise KeyError(k)
        row = session.get(AccountSetting, "chat." + k)
        if row is None:
            session.add(AccountSetting(key="chat." + k, value=v))
        else:
            row.value = v
    session.commit()
    _CACHE.pop(str(session.get_bind().url), None)


def snippet(base_url: str, key: str) -> str:
    return f'<script async src="{base_url}/widget/{key}/loader.js" charset="utf-8"></script>'


def allowed_origins(cfg: dict) -> list[str]:
    from agents.chat import origin_of

    out = list(cfg.get("origins") or [])
    site = origin_of(cfg.get("website"))
    if site and site not in out and out:
        out.append(site)
    return out


# -- agents ---------------------------------------------------------------------------
def chat_agents(session) -> list[OfferAgent]:
    return offers.channel_agents(session, CHAT.key)


def candidates(session) -> list[int]:
    return offers.candidates(session, CHAT.key)


def online_agent(session, prefer: int | None = None) -> User | None:
    """The agent whose face the widget shows: the chat's agent, else any Online chat agent."""
    if prefer:
        u = session.get(User, prefer)
        if u is not None:
            return u
    ids = candidates(session)
    return session.get(User, ids[0]) if ids else None


def agent_card(u: User | None, key: str) -> dict | None:
    if u is None:
        return None
    return {"name": u.name, "position": u.position or "",
            "avatar": f"/widget/{key}/avatar/{u.id}" if u.avatar else None,
            "initials": "".join(p[:1] for p in u.name.split()[:2]).upper() or "?"}


# -- visitors ---------------------------------------------------------------------------
def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def visitor_by_token(session, token) -> ChatVisitor | None:
    if not isinstance(token, str) or not 20 <= len(token) <= 100:
        return None
    return session.scalar(select(ChatVisitor).where(ChatVisitor.token_hash == _digest(token)))


def offered_visitors(session) -> list:
    """The chats offered to agents now (an open offer, not a transfer), oldest first, with their
    visitor and when a web process last saw that visitor: rows of (communication_id, visitor_id,
    last_seen_at), in one query (the abandoned-visitor sweep reads this twice a second)."""
    return session.execute(
        select(ConversationOffer.communication_id, ChatConversation.visitor_id, ChatVisitor.last_seen_at)
        .join(ChatConversation, ChatConversation.communication_id == ConversationOffer.communication_id)
        .outerjoin(ChatVisitor, ChatVisitor.id == ChatConversation.visitor_id)
        .where(ConversationOffer.channel == CHAT.key, ConversationOffer.kind == offer_rules.OFFER,
               ConversationOffer.state == offer_rules.OPEN)
        .order_by(ConversationOffer.communication_id)).all()


def new_visitor(session, ip: str, language: str) -> tuple[ChatVisitor, str]:
    token = secrets.token_urlsafe(32)
    v = ChatVisitor(token_hash=_digest(token), ip=ip, language=language, name="", email="")
    session.add(v)
    session.flush()
    return v, token


def message_json(m: ChatMessage, names: dict | None = None, key: str = "") -> dict:
    out = {"id": m.id, "chat_id": m.communication_id, "sender": m.sender, "body": m.body,
           "at": iso(m.created_at), "agent": (names or {}).get(m.user_id) if m.user_id else None,
           "file": attachment_json(m.attachment, key)}
    if m.sender == "system":
        out.update(system_json(m.body, names or {}))
    return out


# -- system entries of the transcript (transfers) ------------------------------------------
# A system row's body is JSON, e.g. {"event": "transfer", "from": 3, "to": 5, "note": "…"}: the
# text is made when it is shown, in the reader's language; the visitor only ever gets the
# "joined" line (public_system_text), never the note.
def system_body(event: str, **data) -> str:
    return json.dumps({"event": event, **data}, ensure_ascii=False)


def system_data(body: str) -> dict:
    try:
        data = json.loads(body)
    except (TypeError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _name(names: dict, uid) -> str:
    return names.get(uid) or (f"#{uid}" if uid else "?")


def system_json(body: str, names: dict) -> dict:
    """What an agent sees of a system entry, in the current language (English from background
    work outside a request, e.g. the offer sweeper reading the transcript)."""
    from flask import has_request_context
    from flask_babel import gettext

    _ = gettext if has_request_context() else (lambda text: text)
    d = system_data(body)
    if d.get("event") == "joined":   # the first agent accepted: kept, so a reload shows it too
        who = _name(names, d.get("to"))
        return {"event": "joined", "to": who, "note": "", "body": _("{name} joined the chat.").replace("{name}", who)}
    if d.get("event") != "transfer":
        return {"event": d.get("event") or "", "body": "", "note": ""}
    old, new = _name(names, d.get("from")), _name(names, d.get("to"))
    return {"event": "transfer", "from": old, "to": new, "note": d.get("note") or "",
            "body": _("{old} transferred the chat to {new}.").replace("{old}", old).replace("{new}", new)}


def public_system_text(m: dict, lang: str) -> str:
    """The visitor's line for a system entry (in the page's language): "<agent> joined the chat."."""
    from flask_babel import force_locale
    from flask_babel import gettext as _

    with force_locale(lang or "en"):
        return _("{name} joined the chat.").replace("{name}", m.get("to") or "")


def public_message(m: dict, lang: str = "en") -> dict:
    """What a visitor may see of a message: no agent ids, the agent's name only; of a system
    entry only the "joined" line (never the note for the colleague)."""
    body = public_system_text(m, lang) if m["sender"] == "system" else m["body"]
    return {"id": m["id"], "sender": m["sender"], "body": body, "at": m["at"],
            "agent": m.get("agent") if m["sender"] == "agent" else None, "file": m.get("file")}


def system_user_ids(rows) -> set[int]:
    ids = set()
    for m in rows:
        if m.sender == "system":
            d = system_data(m.body)
            ids |= {u for u in (d.get("from"), d.get("to")) if isinstance(u, int)}
    return ids


def previous_agents(session, comm_id: int) -> list[int]:
    """Agents who had the chat before it was transferred on, in order (History's "handled before")."""
    rows = session.scalars(select(ChatMessage).where(ChatMessage.communication_id == comm_id,
                                                     ChatMessage.sender == "system")
                           .order_by(ChatMessage.id)).all()
    out: list[int] = []
    for m in rows:
        d = system_data(m.body)
        if d.get("event") == "transfer" and isinstance(d.get("from"), int) and d["from"] not in out:
            out.append(d["from"])
    return out


def transcript(session, comm_id: int) -> list[dict]:
    rows = session.scalars(select(ChatMessage).where(ChatMessage.communication_id == comm_id)
                           .order_by(ChatMessage.id)).all()
    ids = {m.user_id for m in rows if m.user_id} | system_user_ids(rows)
    names = {u.id: u.name for u in session.scalars(select(User).where(User.id.in_(ids)))} if ids else {}
    key = account_key(session) if any(m.attachment for m in rows) else ""
    return [message_json(m, names, key) for m in rows]


def account_key(session) -> str:
    return CHAT.account_key(session)


def pages(session, comm_id: int) -> list[dict]:
    rows = session.scalars(select(ChatPageView).where(ChatPageView.communication_id == comm_id)
                           .order_by(ChatPageView.id)).all()
    return [page_json(p) for p in rows]


def page_json(p: ChatPageView) -> dict:
    return {"id": p.id, "url": p.url, "title": p.title, "at": iso(p.at)}


def add_page(session, v: ChatVisitor, url: str, title: str) -> ChatPageView | None:
    if not url:
        return None
    last = session.scalar(select(ChatPageView).where(ChatPageView.visitor_id == v.id)
                          .order_by(ChatPageView.id.desc()).limit(1))
    if last and last.url == url and last.communication_id == v.communication_id and \
            (utcnow() - last.at.replace(tzinfo=last.at.tzinfo or timezone.utc)).total_seconds() < 2:
        return None   # the same page twice in a row (e.g. a socket reconnect)
    p = ChatPageView(visitor_id=v.id, communication_id=v.communication_id, url=url, title=title)
    session.add(p)
    session.flush()
    return p


def open_chat(session, v: ChatVisitor, origin: str, kind: str = "live") -> Communication:
    """A visitor's new chat (or, ``kind="offline"``, their contact form: closed at once)."""
    c = lifecycle.open(session, CHAT.key, remote=display_name(v),
                       outcome="in_progress" if kind == "live" else "offline_form")
    session.add(ChatConversation(communication_id=c.id, visitor_id=v.id, origin=origin[:255], kind=kind))
    if kind == "live":
        v.communication_id = c.id
        # the pages seen before the first message belong to this chat too
        for p in session.scalars(select(ChatPageView).where(ChatPageView.visitor_id == v.id,
                                                            ChatPageView.communication_id.is_(None))):
            p.communication_id = c.id
    return c


def add_message(session, comm_id: int, sender: str, body: str, user_id: int | None = None,
                attachment: str | None = None) -> ChatMessage:
    m = ChatMessage(communication_id=comm_id, sender=sender, body=body, user_id=user_id, attachment=attachment)
    session.add(m)
    session.flush()
    return m


def conversation(session, comm_id: int) -> tuple[Communication | None, ChatConversation | None, ChatVisitor | None]:
    c = lifecycle.get(session, comm_id, CHAT.key)
    if c is None:
        return None, None, None
    conv = session.get(ChatConversation, comm_id)
    v = session.get(ChatVisitor, conv.visitor_id) if conv else None
    return c, conv, v


def templates(session) -> list[ChatTemplate]:
    return list(session.scalars(select(ChatTemplate).order_by(ChatTemplate.title)))


# -- offline form -------------------------------------------------------------------------
def default_address(session, cfg: dict) -> str | None:
    if cfg.get("default_email"):
        return cfg["default_email"]
    admin = session.scalar(select(User).where(User.role == "admin", User.active.is_(True)).order_by(User.id))
    return admin.email if admin else None


def offline_mail_texts(session, to: str, name: str, email: str, message: str, page: str, comm_id: int,
                       base_url: str) -> tuple[str, str]:
    """Subject and body in the recipient's language (a user's choice, else Polish)."""
    from flask_babel import force_locale
    from flask_babel import gettext as _

    user = session.scalar(select(User).where(func.lower(User.email) == to.lower()))
    with force_locale((user.language if user else None) or "pl"):
        subject = _("Website message from %(name)s", name=name)
        text = "\n".join([
            _("%(name)s left a message in the website chat while nobody was Online.", name=name),
            "", f"{name} <{email}>", page, "", message, "", "-- ",
            _("Open it in Centrala: %(url)s", url=f"{base_url}/history/{comm_id}"), ""])
    return subject, text


def send_offline_mail(settings, to: str, subject: str, text: str) -> None:
    """Send in a thread: the visitor's answer does not wait for the SMTP server."""
    def run():
        try:
            send_mail(settings, to, subject, text)
        except MailError:
            log.exception("offline form email to %s failed", to)

    threading.Thread(target=run, name="chat-offline-mail", daemon=True).start()


# -- attachments ----------------------------------------------------------------------------
MAX_ATTACHMENT = 5 * 1024 * 1024
IMAGE_FORMATS = {"PNG": "png", "JPEG": "jpg", "GIF": "gif", "WEBP": "webp"}
MIMETYPES = {"png": "image/png", "jpg": "image/jpeg", "gif": "image/gif", "webp": "image/webp",
             "pdf": "application/pdf"}


class AttachmentError(ValueError):
    """``code``: empty | too_large | bad_type (stable, for the widget's texts)."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


def files_dir(settings):
    return settings.uploads_dir / "chat"


def save_attachment(settings, stream, filename: str) -> str:
    """Check an upload for real (images decoded by Pillow, PDFs by their header) and store it
    under an unguessable name.  Returns the value for ``ChatMessage.attachment``:
    ``"<stored name>/<original name>"``."""
    import io
    import re

    from PIL import Image, UnidentifiedImageError

    from centrala import images

    data = stream.read(MAX_ATTACHMENT + 1)
    if not data:
        raise AttachmentError("empty")
    if len(data) > MAX_ATTACHMENT:
        raise AttachmentError("too_large")
    if data[:5] == b"%PDF-":
        ext = "pdf"
    else:
        try:
            with Image.open(io.BytesIO(data)) as img:
                fmt = img.format
                images.check(img)        # pixels and frames from the header, before decoding
                img.verify()
        except images.ImageRefused as e:
            raise AttachmentError("bad_type" if e.code == "not_image" else "too_large") from None
        except Image.DecompressionBombError:       # Pillow's own limit (the same 25 MP), at open
            raise AttachmentError("too_large") from None
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
            raise AttachmentError("bad_type") from None
        if fmt not in IMAGE_FORMATS:
            raise AttachmentError("bad_type")
        ext = IMAGE_FORMATS[fmt]
    stored = f"{secrets.token_urlsafe(24)}.{ext}"
    target = files_dir(settings)
    target.mkdir(parents=True, exist_ok=True)
    (target / stored).write_bytes(data)
    original = re.sub(r"[\x00-\x1f/\\]", "_", (filename or "").strip())[-150:] or f"file.{ext}"
    return f"{stored}/{original}"




# -- transfer -----------------------------------------------------------------------------
def transfer_targets(session, me: int) -> list[dict]:
    """Colleagues who serve chat (active, not me): Online ones first, each saying whether they
    can take the chat now (only Online agents can)."""
    people = [u for u in session.scalars(select(User).where(User.active.is_(True), User.id != me)
                                         .order_by(User.name, User.id)) if "chat" in (u.channels or ())]
    items = [{"id": u.id, "name": u.name, "status": u.status, "available": u.status == "online"} for u in people]
    items.sort(key=lambda p: not p["available"])
    return items
