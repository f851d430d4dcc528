"""A received email becomes a message of a conversation (the receiving use case).

``receive(session, mailbox, raw, uid, ctx)`` — what the mail worker calls for each fetched message:
1. parse it (``parse.py``; a broken message is kept with ``parse_error``);
2. drop it if this mailbox has it already (unique per mailbox: the Message-ID's digest, or the raw
   message's when there is none) — a re-sync after a UIDVALIDITY change or a second delivery
   fetches nothing twice;
3. a bounce (multipart/report) goes to the conversation of the message it is about, which is
   marked failed with the server's reason; a bounce about nothing we know is kept as a conversation
   closed at once as failed — never a new conversation to answer;
4. otherwise thread it (``threads.py``): into its open conversation, or — its conversation having
   ended — a new one linked to it (``reopened_from``); automatic mail (auto-replies, lists) is
   added to an ended conversation without opening anything;
5. a new conversation of a **personal** mailbox is its owner's at once; of a **shared** one it
   waits for the offer engine (the web side offers it on ``conversation.opened``, and every web
   process's sweep offers any it missed).

The commit publishes ``conversation.opened`` / ``conversation.message`` (``lifecycle.commit``): the
web side turns them into offers and drawer items (``web/emails/offers.py``).  Contacts are matched
by address: the conversation's ``remote`` is the customer's address, lower-cased, as contacts'
emails are (``contacts.communications``, ``contacts.find_by_email``).

``store(session, comm, inbound)`` is the channel interface's side: it writes the ``EmailMessage``
and its attachments (files under ``<data dir>/email/``).
"""
from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from agents import conversation
from centrala.channels.base import Inbound, Message
from centrala.conversations import lifecycle
from centrala.models import Communication
from centrala.models_email import PERSONAL, EmailAttachment, EmailConversation, EmailMessage, Mailbox

from . import ids, parse, sanitize, threads

log = logging.getLogger(__name__)
MESSAGE, BOUNCE, AUTO_REPLY = "message", "bounce", "auto_reply"


@dataclass
class Context:
    """What receiving needs beyond the database: the event bus, the Message-ID key, where
    attachments go and how big one may be."""
    bus: object
    key: str
    data_dir: Path
    max_part_bytes: int = parse.MAX_PART_BYTES

    @classmethod
    def for_settings(cls, settings, bus) -> "Context":
        from centrala.config import Secrets

        limit = int(settings.mail_max_part_mb) * 1024 * 1024 or parse.MAX_PART_BYTES
        return cls(bus=bus, key=Secrets.load(Path(settings.data_dir)).email_id_key,
                   data_dir=Path(settings.data_dir), max_part_bytes=limit)

    @property
    def files(self) -> Path:
        return self.data_dir / "email"


@dataclass
class Received:
    duplicate: bool = False
    communication_id: int | None = None
    message_id: int | None = None            # the EmailMessage row
    opened: bool = False                     # a new conversation was opened for it
    kind: str = MESSAGE
    parse_error: str = ""
    written: list[Path] = field(default_factory=list)


def kind_of(mail: parse.ParsedMail) -> str:
    if mail.report is not None:
        return BOUNCE
    return AUTO_REPLY if mail.automatic else MESSAGE


def is_duplicate(session, mailbox_id: int, dedup_key: str) -> bool:
    return session.scalar(select(EmailMessage.id).where(EmailMessage.mailbox_id == mailbox_id,
                                                        EmailMessage.dedup_key == dedup_key)) is not None


def receive(session, mailbox: Mailbox, raw: bytes, uid: int | None, ctx: Context) -> Received:
    """Keep one fetched message (committed, events published).  Never raises for what the mail
    holds; database errors propagate (the worker retries the message later)."""
    mail = parse.parse(raw, ctx.max_part_bytes)
    out = Received(kind=kind_of(mail), parse_error=mail.parse_error)
    if is_duplicate(session, mailbox.id, mail.dedup_key):
        session.rollback()
        out.duplicate = True
        return out
    try:
        c = _conversation(session, mailbox, mail, out, ctx)
        inbound = Inbound(remote=c.remote, text=mail.text, external_id=mail.message_id or None,
                          data={"mail": mail, "mailbox_id": mailbox.id, "uid": uid, "kind": out.kind,
                                "ctx": ctx, "written": out.written})
        m = lifecycle.add_inbound(session, c, inbound)
        out.communication_id, out.message_id = c.id, m.id
        lifecycle.commit(session, ctx.bus)
    except IntegrityError:            # the same message, kept meanwhile by another worker
        lifecycle.discard(session)
        _remove(out.written)
        return Received(duplicate=True, kind=out.kind)
    except Exception:
        lifecycle.discard(session)
        _remove(out.written)
        raise
    return out


def _conversation(session, mailbox: Mailbox, mail: parse.ParsedMail, out: Received, ctx: Context) -> Communication:
    if out.kind == BOUNCE:
        original = threads.original_of(session, mailbox.id, ctx.key, mail.report.original_message_id)
        if original is not None:
            if original.direction == "outbound" and mail.report.failed:
                original.delivery = "failed"
                original.error = mail.report.reason[:2000]
            return session.get(Communication, original.communication_id)
        # about nothing we know (backscatter, a message sent from elsewhere): kept, closed as failed
        return _open(session, mailbox, mail, out, outcome=conversation.FAILED)
    match = threads.find(session, mailbox.id, ctx.key, sender=mail.from_addr, in_reply_to=mail.in_reply_to,
                         references=mail.references, subject=mail.subject)
    if match is None:
        return _open(session, mailbox, mail, out)
    c = threads.follow(session, match.communication_id)
    if c.ended_at is None or out.kind != MESSAGE:
        return c
    return _open(session, mailbox, mail, out, reopened_from=c.id)


def _open(session, mailbox: Mailbox, mail: parse.ParsedMail, out: Received, *,
          outcome: str = conversation.IN_PROGRESS, reopened_from: int | None = None) -> Communication:
    customer = mail.from_addr or "unknown"
    owner = mailbox.user_id if mailbox.kind == PERSONAL else None
    c = lifecycle.open(session, "email", remote=customer, direction="inbound", agent_id=owner, outcome=outcome)
    subject = mail.subject
    if reopened_from is not None and not subject:
        prev = session.get(EmailConversation, reopened_from)
        subject = prev.subject if prev else ""
    session.add(EmailConversation(communication_id=c.id, mailbox_id=mailbox.id, token=_unique_token(session),
                                  subject=subject, customer=customer, reopened_from=reopened_from))
    out.opened = outcome == conversation.IN_PROGRESS
    return c


def _unique_token(session) -> str:
    while True:
        t = ids.new_token()
        if session.scalar(select(EmailConversation.communication_id).where(EmailConversation.token == t)) is None:
            return t


# -- the channel interface ------------------------------------------------------------------------
def store(session, comm, inbound: Inbound) -> Message:
    """Write a received email (``inbound.data["mail"]``: a ``parse.ParsedMail``) and its
    attachments; the caller commits.  Attachment files are written now: a caller whose commit
    fails removes them (``inbound.data["written"]``)."""
    from centrala.channels.email import EMAIL, attachment_json

    d = inbound.data
    mail: parse.ParsedMail = d["mail"]
    ctx: Context = d["ctx"]
    m = EmailMessage(communication_id=comm.id, mailbox_id=d.get("mailbox_id"), direction="inbound",
                     kind=d.get("kind") or kind_of(mail), message_id=mail.message_id, dedup_key=mail.dedup_key,
                     in_reply_to=mail.in_reply_to, references=" ".join(mail.references)[:20000],
                     subject=mail.subject, from_addr=mail.from_addr, from_name=mail.from_name, to=mail.to,
                     cc=mail.cc, sent_at=mail.sent_at, text=mail.text, html=_safe_html(mail),
                     parse_error=mail.parse_error, uid=d.get("uid"), delivery="received")
    session.add(m)
    session.flush()
    files = []
    written = d.setdefault("written", [])
    if mail.attachments:
        ctx.files.mkdir(parents=True, exist_ok=True)
    for a in mail.attachments:
        stored = secrets.token_hex(16)
        path = ctx.files / stored
        path.write_bytes(a.data)
        written.append(path)
        row = EmailAttachment(message_id=m.id, name=a.name, content_type=a.content_type, size=len(a.data),
                              stored_name=stored, content_id=a.content_id)
        session.add(row)
        session.flush()
        files.append(attachment_json(row))
    return EMAIL.message(m, {}, files)


def _safe_html(mail: parse.ParsedMail) -> str | None:
    try:
        return sanitize.clean(mail.html)
    except Exception as exc:          # never show what could not be sanitized
        mail.parse_error = "; ".join(x for x in (mail.parse_error, f"HTML not shown: {exc}") if x)
        return None


def _remove(paths) -> None:
    for p in paths:
        try:
            Path(p).unlink()
        except OSError:
            pass
