"""Sending email (issue 13, EML-2/3, COM-1): replies, new conversations and the outbox.

``reply`` (the email channel's ``send``) and ``start`` (New email) only *queue* a message: it is
written ``queued`` with everything its headers need — its Message-ID (``ids.make_message_id``,
made at once so a customer's answer threads even before it went out), In-Reply-To and References
from the thread, Date, the subject with the conversation token, the mailbox's signature, the
attachments copied under ``<data dir>/email/``.  ``run_once`` (the outbox loop; the web process's
background loop and the mail worker call it) sends what is due over SMTP and APPENDs a copy to
the mailbox's Sent folder (found by its ``\\Sent`` special-use flag, kept in ``Mailbox.sent_folder``).

Never twice: a message is claimed with a conditional UPDATE (queued → sending) and a lease
(``next_attempt_at``); right before the DATA command ``data_at`` is committed.  A message found in
``sending`` with its lease run out (its worker died) is requeued when DATA never started; when it
had started, the Sent folder is searched for its Message-ID (our copy, or the one Gmail/Microsoft 365
file themselves): found → sent; not found → failed with "may have been delivered", and the agent
decides whether to Retry.  Temporary failures (4xx, connection trouble) are retried with back-off;
permanent ones (5xx, login refused, TLS) and the last attempt show as ``failed`` with the server's
reason.  Nothing here ever answers mail by itself: every message has an agent as its author.
"""
from __future__ import annotations

import hashlib
import imaplib
import logging
import re
import secrets
import smtplib
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Callable, Sequence

from sqlalchemy import select, update

from centrala.channels.base import ChannelError, Sent
from centrala.contacts import EMAIL_RE
from centrala.conversations import lifecycle
from centrala.models import Communication, User, utcnow
from centrala.models_email import (PERSONAL, QUEUED, SENDING, EmailAttachment, EmailConversation,
                                   EmailMessage, Mailbox, MailboxAgent)

from . import compose, connect, ids

log = logging.getLogger(__name__)

SENT, FAILED = "sent", "failed"
CONFIG_KEY = "centrala.email_outbox"
MB = 1024 * 1024
MAX_ATTACHMENTS = 25 * MB          # all attachments of one message together (most servers take 25–35 MB)
MAX_RECIPIENTS = 50
MAX_SUBJECT = 250
MAX_BODY = 100_000
MAYBE_DELIVERED = ("Sending was interrupted after the message was handed to the mail server; it may have been "
                   "delivered. Check with the recipient before you retry.")


@dataclass(frozen=True)
class Config:
    """What the outbox needs beyond the database: travels with the sessions (``bind``)."""
    id_key: str                         # Secrets.email_id_key: keys our Message-IDs
    data_dir: Path
    files_dir: Path                     # Files (FIL): attachments picked from there are copied
    ca_file: str = ""
    max_attempts: int = 5
    backoff: tuple[int, ...] = (60, 300, 900, 3600)    # seconds before attempt 2, 3, 4, 5
    lease: int = 600                    # seconds a claimed message may stay "sending" before it is recovered
    timeout: float = connect.TIMEOUT

    @property
    def attachments_dir(self) -> Path:
        return Path(self.data_dir) / "email"


def bind(db, settings, **overrides) -> Config:
    """Make the outbox's configuration travel with ``db``'s sessions (like its secret box)."""
    from centrala.config import Secrets

    cfg = Config(id_key=Secrets.load(settings.data_dir).email_id_key, data_dir=Path(settings.data_dir),
                 files_dir=Path(settings.files_dir), ca_file=getattr(settings, "mail_ca_file", "") or "", **overrides)
    info = dict(db.sessions.kw.get("info") or {})
    info[CONFIG_KEY] = cfg
    db.sessions.configure(info=info)
    return cfg


def config_of(session) -> Config:
    cfg = session.info.get(CONFIG_KEY)
    if cfg is None:
        raise RuntimeError("the email outbox is not bound to this database: call outbox.bind(db, settings)")
    return cfg


class ComposeError(ChannelError):
    """A message that cannot be sent as written; ``field`` names the form field at fault."""

    def __init__(self, message: str, field_name: str = "", status: int = 422, code: str = "invalid", value: str = ""):
        super().__init__(status, message, code)
        self.field, self.value = field_name, value   # value: the refused input (an address)


# -- the mailbox's side: centrala.emails.mailboxes decides how to reach it and who may use it --
def smtp_endpoint(session, mailbox: Mailbox, cfg: Config) -> connect.Endpoint:
    """How to reach the mailbox's SMTP server (password opened, or an OAuth2 token refreshed)."""
    return _endpoint(session, mailbox, "smtp", cfg)


def _endpoint(session, mailbox: Mailbox, which: str, cfg: Config) -> connect.Endpoint:
    from types import SimpleNamespace

    from centrala.emails import mailboxes

    return mailboxes.endpoint(session, mailbox, which, SimpleNamespace(mail_ca_file=cfg.ca_file))


def usable_by(session, user_id: int) -> list[Mailbox]:
    """The enabled mailboxes a user may write from: the shared ones they serve and their own."""
    from centrala.emails import mailboxes

    return [mb for mb in mailboxes.usable_by(session, user_id) if mb.enabled]


def serves(session, user_id: int, mailbox_id: int | None) -> bool:
    """Whether a user reads and writes a mailbox's conversations (serves it, or owns it)."""
    if mailbox_id is None:
        return False
    mb = session.get(Mailbox, mailbox_id)
    if mb is None:
        return False
    if mb.kind == PERSONAL:
        return mb.user_id == user_id
    return session.get(MailboxAgent, (mailbox_id, user_id)) is not None


# -- queueing ------------------------------------------------------------------------------------
def reply(session, comm: Communication, author_id: int, text: str, attachments: Sequence[dict] = (),
          cc: Sequence[str] = ()) -> Sent:
    """The email channel's ``send``: an agent's reply (plain or rich text) queued to the customer.
    Replies after the conversation was closed are allowed (email is not real-time)."""
    conv = session.get(EmailConversation, comm.id)
    mailbox = session.get(Mailbox, conv.mailbox_id) if conv and conv.mailbox_id else None
    if mailbox is None:
        raise ComposeError("This conversation's mailbox was removed; the reply cannot be sent.", status=409,
                           code="no_mailbox")
    html = _body(text)
    cc_list = addresses(cc, "cc", required=False)
    last = session.scalars(select(EmailMessage).where(EmailMessage.communication_id == comm.id,
                                                      EmailMessage.message_id != "")
                           .order_by(EmailMessage.id.desc()).limit(1)).first()
    in_reply_to, references = "", []
    if last is not None:
        in_reply_to = last.message_id
        references = [r for r in (last.references or "").split() if r != last.message_id][-19:] + [last.message_id]
    msg = _queue(session, comm, mailbox, author_id, to=[_customer_of(session, comm, conv)], cc=cc_list,
                 subject=ids.with_token(conv.subject, conv.token), html=html, attachments=attachments,
                 in_reply_to=in_reply_to, references=references)
    return Sent(message=message_view(session, msg), external_id=msg.message_id)


def start(session, mailbox_id: int, author_id: int, to: Sequence[str], cc: Sequence[str], subject: str,
          html: str, attachments: Sequence[dict] = ()) -> Communication:
    """New email (COM-1): a new outbound conversation with its first message queued."""
    mailbox = session.get(Mailbox, mailbox_id) if isinstance(mailbox_id, int) else None
    if mailbox is None or not any(m.id == mailbox.id for m in usable_by(session, author_id)):
        raise ComposeError("Choose a mailbox you may send from.", "mailbox_id")
    to_list = addresses(to, "to", required=True)
    cc_list = addresses(cc, "cc", required=False)
    subject = (subject or "").strip()
    if not subject:
        raise ComposeError("Write a subject.", "subject")
    if len(subject) > MAX_SUBJECT or "\n" in subject or "\r" in subject:
        raise ComposeError(f"The subject may be at most {MAX_SUBJECT} characters on one line.", "subject")
    body = _body(html)
    comm = lifecycle.open(session, "email", remote=to_list[0], direction="outbound", agent_id=author_id)
    comm.answered_at = comm.started_at or utcnow()
    conv = EmailConversation(communication_id=comm.id, mailbox_id=mailbox.id, token=ids.new_token(),
                             subject=subject, customer=to_list[0])
    session.add(conv)
    session.flush()
    _queue(session, comm, mailbox, author_id, to=to_list, cc=cc_list, subject=f"{subject} [#{conv.token}]",
           html=body, attachments=attachments)
    return comm


def _customer_of(session, comm: Communication, conv: EmailConversation) -> str:
    return conv.customer or (comm.remote or "").lower()


def _body(text: str) -> str:
    if len(text or "") > MAX_BODY:
        raise ComposeError(f"The message may be at most {MAX_BODY:,} characters.", "text")
    html = compose.body_html(text or "")
    if not compose.plain_text(html).strip() and "<img" not in html:
        raise ComposeError("Write a message.", "text")
    return html


def add_cc(session, message_id: int, cc: Sequence[str]) -> None:
    """Copies of a reply to ``cc`` (checked by ``addresses``), set before the reply is committed."""
    msg = session.get(EmailMessage, message_id)
    if cc and msg is not None and msg.delivery == QUEUED:
        msg.cc = [a for a in cc if a not in msg.to]


def addresses(values, field_name: str, required: bool) -> list[str]:
    if isinstance(values, str):
        values = [values]
    out: list[str] = []
    for raw in values or ():
        for part in re.split(r"[,;]", str(raw)):
            a = part.strip().lower()
            if not a:
                continue
            if len(a) > 254 or not EMAIL_RE.match(a):
                raise ComposeError(f"{part.strip()!r} is not a valid email address.", field_name,
                                   code="bad_address", value=part.strip())
            if a not in out:
                out.append(a)
    if required and not out:
        raise ComposeError("Add at least one recipient.", field_name)
    if len(out) > MAX_RECIPIENTS:
        raise ComposeError(f"At most {MAX_RECIPIENTS} recipients.", field_name)
    return out


def _queue(session, comm: Communication, mailbox: Mailbox, author_id: int, *, to: list[str], cc: list[str],
           subject: str, html: str, attachments: Sequence[dict], in_reply_to: str = "",
           references: Sequence[str] = ()) -> EmailMessage:
    cfg = config_of(session)
    html = compose.with_signature(html, mailbox.signature)
    domain = mailbox.address.rpartition("@")[2]
    mid = ids.make_message_id(cfg.id_key, comm.id, domain)
    now = utcnow()
    author = session.get(User, author_id)
    msg = EmailMessage(communication_id=comm.id, mailbox_id=mailbox.id, direction="outbound", kind="message",
                       message_id=mid, dedup_key=hashlib.sha256(mid.encode()).hexdigest(),
                       in_reply_to=in_reply_to, references=" ".join(references), subject=subject,
                       from_addr=mailbox.address, from_name=mailbox.label or (author.name if author else ""),
                       to=list(to), cc=list(cc), sent_at=now, text=compose.plain_text(html), html=html,
                       user_id=author_id, delivery=QUEUED, attempts=0, next_attempt_at=now)
    session.add(msg)
    session.flush()
    _store_attachments(session, cfg, msg, attachments)
    return msg


def _store_attachments(session, cfg: Config, msg: EmailMessage, attachments: Sequence[dict]) -> None:
    """Copy each attachment under ``<data dir>/email/``: ``{"file_id": …}`` (from Files) or
    ``{"stream": …, "name": …, "content_type": …}`` (uploaded with the message)."""
    from centrala import files as team_files
    from centrala.models_files import StoredFile

    total = 0
    for a in attachments or ():
        if a.get("file_id") is not None:
            f = session.get(StoredFile, a["file_id"]) if isinstance(a["file_id"], int) else None
            if f is None:
                raise ComposeError("A file picked from Files no longer exists.", "attachments")
            source = open(team_files.path_of(cfg.files_dir, f), "rb")
            name, ctype = f.name, f.content_type
        else:
            source = a["stream"]
            name = team_files.clean_name(a.get("name") or "attachment")
            ctype = a.get("content_type") or team_files.content_type_for(name)
        stored = secrets.token_hex(16)
        cfg.attachments_dir.mkdir(parents=True, exist_ok=True)
        path = cfg.attachments_dir / stored
        size = 0
        try:
            with open(path, "wb") as out:
                while chunk := source.read(1024 * 1024):
                    size += len(chunk)
                    if total + size > MAX_ATTACHMENTS:
                        raise ComposeError(f"Attachments may be at most {MAX_ATTACHMENTS // MB} MB together.",
                                           "attachments")
                    out.write(chunk)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        finally:
            if a.get("file_id") is not None:
                source.close()
        total += size
        session.add(EmailAttachment(message_id=msg.id, name=name[:255], content_type=ctype[:127] or
                                    "application/octet-stream", size=size, stored_name=stored))
    session.flush()


def message_view(session, msg: EmailMessage):
    """The stored message as the conversation core shows it (``channels.email``'s rendering)."""
    from centrala.channels.email import EMAIL, attachment_json

    names = dict(session.execute(select(User.id, User.name).where(User.id == msg.user_id)).all()) if msg.user_id else {}
    files = [attachment_json(a) for a in session.scalars(
        select(EmailAttachment).where(EmailAttachment.message_id == msg.id).order_by(EmailAttachment.id))]
    return EMAIL.message(msg, names, files)


def retry(session, msg: EmailMessage) -> bool:
    """An agent's Retry of a failed message: queued again, due now (the caller checks who may)."""
    if msg.direction != "outbound" or msg.delivery != FAILED:
        return False
    msg.delivery, msg.error, msg.attempts, msg.data_at = QUEUED, "", 0, None
    msg.next_attempt_at = utcnow()
    return True


# -- the outbox loop -------------------------------------------------------------------------------
Checkpoint = Callable[[str], None]   # tests: called at "claimed", "data", "accepted" (raise to crash there)


@dataclass
class _Outcome:
    sent: list[int] = field(default_factory=list)
    retried: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)


def run_once(db, now: datetime | None = None, checkpoint: Checkpoint | None = None, limit: int = 50) -> _Outcome:
    """Recover messages whose sender died, then send what is due.  One pass; the loop calls it."""
    now = now or utcnow()
    out = _Outcome()
    with db.session() as s:
        cfg = config_of(s)
    recover(db, cfg, now, out)
    with db.session() as s:
        due = list(s.scalars(select(EmailMessage.id).where(EmailMessage.delivery == QUEUED,
                                                           EmailMessage.next_attempt_at <= now)
                             .order_by(EmailMessage.next_attempt_at, EmailMessage.id).limit(limit)))
    for msg_id in due:
        if _claim(db, cfg, msg_id, now):
            if checkpoint:
                checkpoint("claimed")
            _deliver(db, cfg, msg_id, now, out, checkpoint)
    return out


def loop(db, stop, interval: float = 2.0) -> None:
    """Run the outbox until ``stop`` (a threading.Event) is set (web background loop, mail worker)."""
    while not stop.wait(interval):
        try:
            run_once(db)
        except Exception:
            log.exception("email outbox pass failed")


def _claim(db, cfg: Config, msg_id: int, now: datetime) -> bool:
    with db.session() as s:
        claimed = s.execute(update(EmailMessage).where(EmailMessage.id == msg_id, EmailMessage.delivery == QUEUED)
                            .values(delivery=SENDING, data_at=None,
                                    next_attempt_at=now + timedelta(seconds=cfg.lease))
                            .execution_options(synchronize_session=False)).rowcount
    return claimed == 1


def _set(db, msg_id: int, **values) -> None:
    with db.session() as s:
        s.execute(update(EmailMessage).where(EmailMessage.id == msg_id).values(**values)
                  .execution_options(synchronize_session=False))


class _Ambiguous(Exception):
    """The connection broke after DATA began: the server may have taken the message."""


def _deliver(db, cfg: Config, msg_id: int, now: datetime, out: _Outcome, checkpoint: Checkpoint | None) -> None:
    with db.session() as s:
        msg = s.get(EmailMessage, msg_id)
        mailbox = s.get(Mailbox, msg.mailbox_id) if msg.mailbox_id else None
        if mailbox is None:
            _give_up(db, msg_id, "The mailbox of this message was removed.", out)
            return
        attempts = msg.attempts + 1
        try:
            ep = smtp_endpoint(s, mailbox, cfg)
        except Exception as exc:   # a sealed password this data dir cannot open
            _give_up(db, msg_id, f"The mailbox's password cannot be read: {exc}", out)
            return
        files = [(a.name, a.content_type, cfg.attachments_dir / a.stored_name) for a in s.scalars(
            select(EmailAttachment).where(EmailAttachment.message_id == msg_id).order_by(EmailAttachment.id))]
        try:
            raw = compose.build(msg, files)
        except OSError as exc:
            _give_up(db, msg_id, f"An attachment could not be read: {exc}", out)
            return
        sender, recipients, mailbox_id = mailbox.address, list(msg.to) + list(msg.cc), mailbox.id
    try:
        _smtp_send(db, cfg, ep, msg_id, sender, recipients, raw, now, checkpoint)
    except _Ambiguous as exc:
        _give_up(db, msg_id, f"{MAYBE_DELIVERED} ({exc})", out, attempts=attempts)
        return
    except Exception as exc:
        permanent, reason = _reason(exc)
        if permanent or attempts >= cfg.max_attempts:
            _give_up(db, msg_id, reason, out, attempts=attempts)
        else:
            wait = cfg.backoff[min(attempts - 1, len(cfg.backoff) - 1)]
            _set(db, msg_id, delivery=QUEUED, attempts=attempts, error=reason, data_at=None,
                 next_attempt_at=now + timedelta(seconds=wait))
            out.retried.append(msg_id)
        return
    _set(db, msg_id, delivery=SENT, attempts=attempts, error="", next_attempt_at=None)
    out.sent.append(msg_id)
    if checkpoint:
        checkpoint("sent")
    try:
        copy_to_sent(db, cfg, mailbox_id, msg_id, raw)
    except Exception as exc:   # delivered all the same: say why the copy is missing
        log.warning("email %s sent, but not copied to the Sent folder: %s", msg_id, exc)
        _set(db, msg_id, error=f"Sent, but the copy in the Sent folder failed: {_reason(exc)[1]}")


def _smtp_send(db, cfg, ep, msg_id, sender, recipients, raw, now, checkpoint) -> None:
    conn = connect.open_smtp(ep, timeout=cfg.timeout)
    try:
        code, resp = conn.mail(sender, ["SMTPUTF8"] if _needs_utf8(sender, recipients) and
                               conn.has_extn("smtputf8") else [])
        if code != 250:
            raise smtplib.SMTPSenderRefused(code, resp, sender)
        refused = {}
        for r in recipients:
            code, resp = conn.rcpt(r)
            if code not in (250, 251):
                refused[r] = (code, resp)
        if len(refused) == len(recipients):
            raise smtplib.SMTPRecipientsRefused(refused)
        _set(db, msg_id, data_at=utcnow())   # from here on the server may take it: never resent blindly
        if checkpoint:
            checkpoint("data")
        try:
            code, resp = conn.data(raw)
        except smtplib.SMTPResponseException:
            raise
        except Exception as exc:
            raise _Ambiguous(str(exc) or exc.__class__.__name__) from exc
        if code != 250:
            raise smtplib.SMTPDataError(code, resp)
        if checkpoint:
            checkpoint("accepted")
    finally:
        try:
            conn.quit()
        except Exception:
            conn.close()


def _needs_utf8(sender: str, recipients: list[str]) -> bool:
    return any(not a.isascii() for a in [sender, *recipients])


def _reason(exc: BaseException) -> tuple[bool, str]:
    """(permanent?, the server's reason as the agent reads it)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [c for c, _ in exc.recipients.values()]
        text = "; ".join(f"{addr}: {c} {_text(m)}" for addr, (c, m) in exc.recipients.items())
        return all(c >= 500 for c in codes), text
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code >= 500, f"{exc.smtp_code} {_text(exc.smtp_error)}"
    err = connect.classify(exc)
    reason = err.message + (f" ({err.detail})" if err.detail else "")
    return err.code in ("auth", "tls"), reason


def _text(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _give_up(db, msg_id: int, reason: str, out: _Outcome, attempts: int | None = None) -> None:
    values = {"delivery": FAILED, "error": reason, "next_attempt_at": None}
    if attempts is not None:
        values["attempts"] = attempts
    _set(db, msg_id, **values)
    out.failed.append(msg_id)


# -- after a crash ---------------------------------------------------------------------------------
def recover(db, cfg: Config, now: datetime, out: _Outcome | None = None) -> None:
    """Messages left ``sending`` by a worker that died (their lease ran out)."""
    out = out or _Outcome()
    with db.session() as s:
        stuck = list(s.scalars(select(EmailMessage.id).where(EmailMessage.delivery == SENDING,
                                                             EmailMessage.next_attempt_at <= now)))
    for msg_id in stuck:
        with db.session() as s:   # one recoverer per message: renew the lease conditionally
            taken = s.execute(update(EmailMessage).where(EmailMessage.id == msg_id, EmailMessage.delivery == SENDING,
                                                         EmailMessage.next_attempt_at <= now)
                              .values(next_attempt_at=now + timedelta(seconds=cfg.lease))
                              .execution_options(synchronize_session=False)).rowcount
            msg = s.get(EmailMessage, msg_id) if taken == 1 else None
            started, mid, mailbox_id = (msg.data_at is not None, msg.message_id, msg.mailbox_id) if msg else (None,) * 3
        if msg is None:
            continue
        if not started:   # it never reached DATA: nothing went out
            _set(db, msg_id, delivery=QUEUED, next_attempt_at=now)
            continue
        try:
            found = in_sent_folder(db, cfg, mailbox_id, mid)
        except Exception as exc:   # cannot tell now: look again when the lease runs out
            log.warning("email %s: cannot search the Sent folder: %s", msg_id, exc)
            continue
        if found:
            _set(db, msg_id, delivery=SENT, error="", next_attempt_at=None)
            out.sent.append(msg_id)
        else:
            _give_up(db, msg_id, MAYBE_DELIVERED, out)


# -- the Sent folder (IMAP) --------------------------------------------------------------------------
_LIST = re.compile(r'^\((?P<flags>[^)]*)\) (?P<delim>"[^"]*"|NIL) (?P<name>.+)$')
_SENT_NAMES = ("Sent", "Sent Items", "Sent Messages", "INBOX.Sent", "Wysłane")


def _quote(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def find_sent_folder(conn: imaplib.IMAP4) -> str:
    """The folder with the ``\\Sent`` special-use flag (RFC 6154), else a usual name, else ""."""
    typ, lines = conn.list()
    names = []
    for line in lines or ():
        if not isinstance(line, bytes):
            continue
        m = _LIST.match(line.decode("utf-8", "replace"))
        if not m:
            continue
        name = m.group("name")
        if name.startswith('"') and name.endswith('"'):
            name = name[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        if "\\sent" in m.group("flags").lower().split():
            return name
        names.append(name)
    return next((n for n in _SENT_NAMES if n in names), "")


def _sent_folder(db, cfg: Config, mailbox_id: int, conn: imaplib.IMAP4) -> str:
    with db.session() as s:
        known = s.get(Mailbox, mailbox_id).sent_folder
    if known:
        return known
    found = find_sent_folder(conn)
    if found:
        with db.session() as s:
            s.execute(update(Mailbox).where(Mailbox.id == mailbox_id).values(sent_folder=found)
                      .execution_options(synchronize_session=False))
    return found


def _imap(db, cfg: Config, mailbox_id: int) -> imaplib.IMAP4:
    with db.session() as s:
        ep = _endpoint(s, s.get(Mailbox, mailbox_id), "imap", cfg)
    return connect.open_imap(ep, timeout=cfg.timeout)


def _search(conn: imaplib.IMAP4, folder: str, message_id: str) -> bool:
    typ, _ = conn.select(_quote(folder), readonly=True)
    if typ != "OK":
        raise connect.MailConnectError("protocol", f"cannot open the folder {folder!r}")
    typ, data = conn.uid("SEARCH", None, "HEADER", "Message-ID", _quote(f"<{message_id}>"))
    return typ == "OK" and bool(data and data[0] and data[0].split())


def in_sent_folder(db, cfg: Config, mailbox_id: int, message_id: str) -> bool:
    conn = _imap(db, cfg, mailbox_id)
    try:
        folder = _sent_folder(db, cfg, mailbox_id, conn)
        return bool(folder) and _search(conn, folder, message_id)
    finally:
        _logout(conn)


def copy_to_sent(db, cfg: Config, mailbox_id: int, msg_id: int, raw: bytes) -> None:
    """APPEND the sent message to the Sent folder (unless the server filed it there itself)."""
    with db.session() as s:
        message_id = s.get(EmailMessage, msg_id).message_id
    conn = _imap(db, cfg, mailbox_id)
    try:
        folder = _sent_folder(db, cfg, mailbox_id, conn)
        if not folder:
            raise connect.MailConnectError("protocol", "the mailbox has no Sent folder")
        if _search(conn, folder, message_id):
            return
        typ, data = conn.append(_quote(folder), "(\\Seen)", imaplib.Time2Internaldate(time.time()), raw)
        if typ != "OK":
            raise connect.MailConnectError("protocol", _text(data[0]) if data else "APPEND refused")
    finally:
        _logout(conn)


def _logout(conn) -> None:
    try:
        conn.logout()
    except Exception:
        pass
