"""Reading a received email: headers, text, HTML, attachments, and whether a machine sent it.

``parse(raw)`` never raises: a message that cannot be read whole is returned with what could be
read and ``parse_error`` saying what went wrong, so it is stored (never dropped) and the mailbox
goes on.  The standard library's ``email`` with ``policy.default`` decodes RFC 2047 words, RFC 2231
file names, quoted-printable and base64; a text part is decoded with its declared charset, and when
that is unknown or wrong, as UTF-8 and then Windows-1250 (what Polish mail mislabelled most often
is), never failing.

``automatic`` tells mail no automatic answer may go to (``Auto-Submitted``, ``Precedence:
bulk/list/junk``, ``List-*``, ``Return-Path: <>``, delivery reports); ``report`` is a bounce's
delivery status (multipart/report), with the Message-ID of the message that failed.

``split_quoted(text)`` finds where the quoted history of a reply starts, for the UI to fold it.
"""
from __future__ import annotations

import email
import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email import policy
from email.utils import getaddresses, parseaddr, parsedate_to_datetime

MAX_PART_BYTES = 25 * 1024 * 1024        # one attachment (settings.mail_max_part_bytes overrides)
FALLBACK_CHARSETS = ("utf-8", "cp1250")
_MSGID = re.compile(r"<([^<>\s]+)>")


@dataclass
class Attachment:
    name: str
    content_type: str
    data: bytes
    content_id: str = ""


@dataclass
class Report:
    """A delivery status notification (RFC 3464): which message failed, for whom and why."""
    original_message_id: str = ""
    recipient: str = ""
    status: str = ""
    reason: str = ""
    failed: bool = True


@dataclass
class ParsedMail:
    message_id: str = ""
    in_reply_to: str = ""
    references: list[str] = field(default_factory=list)
    subject: str = ""
    from_addr: str = ""
    from_name: str = ""
    to: list[str] = field(default_factory=list)
    cc: list[str] = field(default_factory=list)
    sent_at: datetime | None = None
    text: str = ""
    html: str | None = None                  # as received (sanitize before storing)
    attachments: list[Attachment] = field(default_factory=list)
    automatic: str = ""                      # "" or why no automatic answer may go to it
    report: Report | None = None             # a bounce's delivery status
    parse_error: str = ""
    digest: str = ""                         # sha256 of the raw message

    @property
    def dedup_key(self) -> str:
        """Unique per mailbox: the Message-ID's digest, or the raw message's when it has none."""
        if self.message_id:
            return hashlib.sha256(self.message_id.encode("utf-8", "replace")).hexdigest()
        return self.digest


class _Errors(list):
    def note(self, what: str, exc: BaseException | None = None) -> None:
        text = f"{what}: {exc}" if exc is not None else what
        if text not in self:
            self.append(text)


def parse(raw: bytes, max_part_bytes: int = MAX_PART_BYTES) -> ParsedMail:
    out = ParsedMail(digest=hashlib.sha256(raw).hexdigest())
    errors = _Errors()
    try:
        msg = email.message_from_bytes(raw, policy=policy.default)
    except Exception as exc:          # the parser itself gave up: keep the bytes as text
        out.text = decode_bytes(raw)
        out.parse_error = f"unreadable message: {exc}"
        return out
    _headers(msg, out, errors)
    out.automatic = automatic_reason(msg)
    try:
        if msg.get_content_type() == "multipart/report":
            out.report = delivery_report(msg)
            out.automatic = out.automatic or "delivery report"
    except Exception as exc:
        errors.note("delivery report", exc)
    try:
        _body(msg, out, errors, max_part_bytes)
    except Exception as exc:
        errors.note("body", exc)
    if not out.text and out.html:
        out.text = html_to_text(out.html)
    for d in getattr(msg, "defects", []) or []:
        if "Missing" in type(d).__name__ or "Invalid" in type(d).__name__:
            errors.note(type(d).__name__)
    out.parse_error = "; ".join(errors)[:2000]
    return out


# -- headers -------------------------------------------------------------------------------------
def _header(msg, name: str, errors: _Errors) -> str:
    try:
        value = msg.get(name)
        return str(value) if value is not None else ""
    except Exception as exc:
        errors.note(f"header {name}", exc)
        try:
            return _raw_header(msg, name)
        except Exception:
            return ""


def _raw_header(msg, name: str) -> str:
    for k, v in msg.raw_items():
        if k.lower() == name.lower():
            return str(v)
    return ""


def message_ids(value: str) -> list[str]:
    """The Message-IDs in a header (In-Reply-To, References), without angle brackets."""
    found = _MSGID.findall(value or "")
    if not found and value and "@" in value and " " not in value.strip():
        found = [value.strip()]
    return found


def _addresses(msg, name: str, errors: _Errors) -> list[tuple[str, str]]:
    try:
        h = msg.get(name)
        if h is None:
            return []
        if hasattr(h, "addresses"):
            return [(a.display_name or "", (a.addr_spec or "").lower()) for a in h.addresses if a.addr_spec
                    and a.addr_spec != "<>"]
        return [(n, a.lower()) for n, a in getaddresses([str(h)]) if a]
    except Exception as exc:
        errors.note(f"header {name}", exc)
        return [(n, a.lower()) for n, a in getaddresses([_raw_header(msg, name)]) if a]


def _headers(msg, out: ParsedMail, errors: _Errors) -> None:
    ids = message_ids(_header(msg, "Message-ID", errors))
    out.message_id = ids[0][:500] if ids else ""
    irt = message_ids(_header(msg, "In-Reply-To", errors))
    out.in_reply_to = irt[0][:500] if irt else ""
    out.references = [r[:500] for r in message_ids(_header(msg, "References", errors))]
    out.subject = " ".join(_header(msg, "Subject", errors).split())[:998]
    sender = _addresses(msg, "From", errors)
    if sender:
        out.from_name, out.from_addr = sender[0][0][:200], sender[0][1][:320]
    else:
        name, addr = parseaddr(_raw_header(msg, "From"))
        out.from_name, out.from_addr = name[:200], addr.lower()[:320]
    out.to = [a for _, a in _addresses(msg, "To", errors)]
    out.cc = [a for _, a in _addresses(msg, "Cc", errors)]
    date = _header(msg, "Date", errors)
    if date:
        try:
            d = parsedate_to_datetime(date)
            out.sent_at = d if d.tzinfo else d.replace(tzinfo=timezone.utc)
        except Exception as exc:
            errors.note("header Date", exc)


def automatic_reason(msg) -> str:
    """Why no automatic message may answer this one ("" when a person wrote it)."""
    def value(name: str) -> str:
        try:
            return str(msg.get(name) or "").strip().lower()
        except Exception:
            return _raw_header(msg, name).strip().lower()

    auto = value("Auto-Submitted")
    if auto and auto != "no":
        return f"Auto-Submitted: {auto}"
    prec = value("Precedence")
    if prec in ("bulk", "list", "junk", "auto_reply"):
        return f"Precedence: {prec}"
    names = {k.lower() for k in msg.keys()}
    for name in ("list-id", "list-unsubscribe", "list-post", "list-help"):
        if name in names:
            return name.title()
    if "x-autoreply" in names or "x-autorespond" in names or value("X-Auto-Response-Suppress") in ("all", "oof"):
        return "auto-reply header"
    if value("Return-Path").replace(" ", "") == "<>":
        return "Return-Path: <>"
    if msg.get_content_type() == "multipart/report":
        return "delivery report"
    return ""


# -- body ----------------------------------------------------------------------------------------
def decode_bytes(data: bytes, charset: str | None = None) -> str:
    """Bytes as text: the declared charset, else UTF-8, else Windows-1250 (never fails)."""
    for cs in ((charset,) if charset else ()) + FALLBACK_CHARSETS:
        try:
            return data.decode(cs)
        except (LookupError, UnicodeDecodeError):
            continue
    return data.decode("utf-8", "replace")


def _text_of(part, errors: _Errors) -> str:
    charset = part.get_content_charset()
    try:
        payload = part.get_payload(decode=True) or b""
    except Exception as exc:
        errors.note("transfer encoding", exc)
        payload = str(part.get_payload()).encode("utf-8", "replace")
    if charset:
        try:
            return payload.decode(_charset_alias(charset))
        except LookupError:
            errors.note(f"unknown charset {charset}")
        except UnicodeDecodeError:
            errors.note(f"text not in its declared charset {charset}")
    return decode_bytes(payload)


def _charset_alias(charset: str) -> str:
    c = charset.strip().strip('"').lower()
    return {"windows-1250": "cp1250", "x-unknown": "utf-8", "unknown-8bit": "utf-8"}.get(c, c)


def _is_attachment(part) -> bool:
    disp = part.get_content_disposition()
    if disp == "attachment":
        return True
    if part.get_filename():
        return True
    return part.get_content_maintype() not in ("text", "multipart", "message")


def _body(msg, out: ParsedMail, errors: _Errors, max_part_bytes: int) -> None:
    texts: list[str] = []
    htmls: list[str] = []
    for part in _leaves(msg):
        ctype = part.get_content_type()
        if ctype in ("message/rfc822", "message/delivery-status", "text/rfc822-headers") or \
                (ctype.startswith("text/") and _is_attachment(part) and part.get_filename()) or \
                (not ctype.startswith("text/") and _is_attachment(part)):
            _attachment(part, out, errors, max_part_bytes)
            continue
        if ctype == "text/html":
            htmls.append(_text_of(part, errors))
        elif ctype.startswith("text/"):
            texts.append(_text_of(part, errors))
        else:
            _attachment(part, out, errors, max_part_bytes)
    out.text = "\n\n".join(t.strip("\n") for t in texts if t.strip())
    out.html = "\n".join(htmls) if htmls else None


def _leaves(msg):
    """The parts to show or keep, in order; an attached message (message/rfc822) is one part."""
    if msg.get_content_maintype() == "multipart":
        payload = msg.get_payload()
        for sub in payload if isinstance(payload, list) else []:
            yield from _leaves(sub)
    else:
        yield msg


def _attachment(part, out: ParsedMail, errors: _Errors, max_part_bytes: int) -> None:
    ctype = part.get_content_type()
    try:
        name = part.get_filename() or ""
    except Exception as exc:
        errors.note("attachment name", exc)
        name = ""
    try:
        if ctype.startswith("message/") or ctype == "text/rfc822-headers":
            payload = part.get_payload()
            if isinstance(payload, list):
                data = b"".join(p.as_bytes() if hasattr(p, "as_bytes") else bytes(str(p), "utf-8")
                                for p in payload)
            else:
                data = part.get_payload(decode=True) or str(payload).encode("utf-8", "replace")
        else:
            data = part.get_payload(decode=True) or b""
    except Exception as exc:
        errors.note(f"attachment {name or ctype}", exc)
        return
    if len(data) > max_part_bytes:
        errors.note(f"attachment {name or ctype} of {len(data)} bytes is over the limit of "
                    f"{max_part_bytes} bytes and was not kept")
        return
    if not name:
        ext = {"message/rfc822": ".eml", "message/delivery-status": ".txt", "text/rfc822-headers": ".txt"}
        name = "attachment" + ext.get(ctype, ".bin")
    cid = (part.get("Content-ID") or "").strip().strip("<>")
    out.attachments.append(Attachment(name=_safe_name(name), content_type=ctype[:127], data=data,
                                      content_id=cid[:255]))


def _safe_name(name: str) -> str:
    """A file name as shown (no path parts, no control characters)."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip() or "attachment"
    return name[:255]


# -- delivery reports ----------------------------------------------------------------------------
def delivery_report(msg) -> Report:
    rep = Report()
    for part in msg.walk():
        ctype = part.get_content_type()
        if ctype == "message/delivery-status":
            fields = _status_fields(part)
            rep.recipient = fields.get("final-recipient", fields.get("original-recipient", "")).split(";")[-1].strip()
            rep.status = fields.get("status", "")
            action = fields.get("action", "failed").lower()
            rep.failed = action in ("failed", "")
            rep.reason = fields.get("diagnostic-code", "").split(";", 1)[-1].strip() or \
                (f"Status {rep.status}" if rep.status else "")
        elif ctype in ("message/rfc822", "text/rfc822-headers") and not rep.original_message_id:
            rep.original_message_id = _original_id(part)
    if not rep.reason:
        rep.reason = "The message could not be delivered."
    return rep


def _status_fields(part) -> dict:
    """The delivery-status fields (the per-message and first per-recipient group)."""
    payload = part.get_payload()
    blocks = payload if isinstance(payload, list) else [payload]
    fields: dict[str, str] = {}
    for b in blocks:
        if hasattr(b, "items"):
            items = [(k, str(v)) for k, v in b.items()]
        else:
            text = b if isinstance(b, str) else decode_bytes(part.get_payload(decode=True) or b"")
            items = [tuple(x.strip() for x in line.split(":", 1)) for line in
                     re.sub(r"\r?\n[ \t]+", " ", text).splitlines() if ":" in line]
        for k, v in items:
            fields.setdefault(k.lower(), " ".join(v.split()))
    return fields


def _original_id(part) -> str:
    payload = part.get_payload()
    if isinstance(payload, list) and payload:
        inner = payload[0]
        ids = message_ids(str(inner.get("Message-ID", "")))
        return ids[0] if ids else ""
    text = payload if isinstance(payload, str) else decode_bytes(part.get_payload(decode=True) or b"")
    m = re.search(r"(?im)^message-id:\s*(<[^>]+>)", text)
    return m.group(1).strip("<>") if m else ""


# -- text helpers --------------------------------------------------------------------------------
def html_to_text(html: str) -> str:
    """Plain text of an HTML body (for search and the preview), paragraphs kept."""
    from html import unescape

    t = re.sub(r"(?is)<(script|style|head)\b.*?</\1\s*>", " ", html)
    t = re.sub(r"(?i)<br\s*/?>|</(p|div|tr|li|h[1-6]|blockquote)\s*>", "\n", t)
    t = re.sub(r"(?s)<[^>]+>", "", t)
    t = unescape(t)
    lines = [" ".join(line.split()) for line in t.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


_QUOTE_HEAD = re.compile(
    r"(?im)^(?:"
    r"On .{3,200}? wrote:\s*$"                                    # Gmail, Apple Mail, Thunderbird (EN)
    r"|W dniu .{3,200}? (?:pisze|napisał\(a\)|napisał|napisała):\s*$"   # Polish clients
    r"|Dnia .{3,200}? (?:pisze|napisał\(a\)|napisał|napisała):\s*$"
    r"|-{2,}\s*(?:Original Message|Oryginalna wiadomość|Wiadomość oryginalna|Forwarded message"
    r"|Przekazana wiadomość)\s*-{2,}\s*$"
    r"|_{10,}\s*$"                                                 # Outlook's rule before From:
    r"|(?:From|Od|Von): .+\n(?:(?:Sent|Wysłano|Date|Data|Gesendet): .+\n)"  # Outlook's header block
    r")")


def split_quoted(text: str) -> tuple[str, str]:
    """(what the sender wrote, the quoted history): the history starts at an attribution line
    ("On … wrote:", "W dniu … pisze:", "-----Original Message-----", Outlook's header block) or
    at the first run of ``>`` lines that goes on to the end.  ("", …) never: a message that is
    all quote keeps it as its own text."""
    text = text or ""
    cut = None
    m = _QUOTE_HEAD.search(text)
    if m:
        cut = m.start()
    lines = text.splitlines(keepends=True)
    pos, start = 0, None
    for line in lines:
        if line.startswith(">"):
            if start is None:
                start = pos
        elif line.strip() and start is not None:
            start = None        # quoted lines with an answer after them: inline reply, not history
        pos += len(line)
    if start is not None and (cut is None or start < cut):
        cut = start
    if cut is None or not text[:cut].strip():
        return text, ""
    return text[:cut].rstrip(), text[cut:]


def quote_start(text: str) -> int | None:
    """Where the quoted history starts in ``text`` (for folding), or None."""
    fresh, quoted = split_quoted(text)
    return len(text) - len(quoted) if quoted else None
