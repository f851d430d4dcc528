"""Building the MIME message of an email we send (issue 13, EML-2/3, COM-1).

An outbound ``EmailMessage`` row already holds everything the headers need (Message-ID made when
it was queued, In-Reply-To, References, Date, the subject with the conversation token); this turns
it into bytes for SMTP and the Sent folder: ``multipart/alternative`` (plain text and the
sanitized HTML), attachments after it, UTF-8 throughout (RFC 6532/2047/2231 where needed).
"""
from __future__ import annotations

import html as html_lib
import re
from email.headerregistry import Address
from email.message import EmailMessage as MimeMessage
from email.policy import SMTP
from email.utils import format_datetime, formataddr
from pathlib import Path

from centrala.models import utcnow

from . import rich_text

_TAG = re.compile(r"<\s*/?\s*[a-zA-Z][^>]*>")


def body_html(body: str) -> str:
    """An agent's body as sanitized HTML: rich text is cleaned, plain text keeps its lines."""
    body = body or ""
    if _TAG.search(body):
        return rich_text.clean_html(body)
    paragraphs = [p for p in re.split(r"\n\s*\n", body.strip()) if p.strip()]
    return "".join("<p>" + html_lib.escape(p).replace("\n", "<br>") + "</p>" for p in paragraphs)


def with_signature(html: str, signature: str) -> str:
    """The body and the mailbox's signature (HTML, already sanitized by Settings / Email)."""
    signature = (signature or "").strip()
    if not signature:
        return html
    return f'{html}<div class="signature">-- <br>{rich_text.clean_html(signature)}</div>'


def plain_text(html: str) -> str:
    """The text/plain alternative of a body (also what History searches)."""
    text = rich_text.to_text(html)
    return re.sub(r"\n{3,}", "\n\n", text)


def _address(addr: str, name: str = "") -> str:
    try:
        return str(Address(display_name=name or "", addr_spec=addr))
    except (ValueError, IndexError):
        return formataddr((name, addr))


def build(msg, attachments: list[tuple[str, str, Path]] = ()) -> bytes:
    """The raw message of an outbound ``EmailMessage`` row; ``attachments``: (name, type, path)."""
    m = MimeMessage(policy=SMTP)
    m["From"] = _address(msg.from_addr, msg.from_name)
    m["To"] = ", ".join(_address(a) for a in msg.to)
    if msg.cc:
        m["Cc"] = ", ".join(_address(a) for a in msg.cc)
    m["Subject"] = msg.subject
    m["Date"] = format_datetime(msg.sent_at or utcnow())
    m["Message-ID"] = f"<{msg.message_id}>"
    if msg.in_reply_to:
        m["In-Reply-To"] = f"<{msg.in_reply_to}>"
    if msg.references:
        m["References"] = " ".join(f"<{r}>" for r in msg.references.split())
    m.set_content(msg.text or plain_text(msg.html or ""), charset="utf-8")
    if msg.html:
        m.add_alternative(f"<!DOCTYPE html><html><body>{msg.html}</body></html>", subtype="html", charset="utf-8")
    for name, content_type, path in attachments:
        maintype, _, subtype = (content_type or "application/octet-stream").partition("/")
        m.add_attachment(Path(path).read_bytes(), maintype=maintype, subtype=subtype or "octet-stream",
                         filename=name)
    return m.as_bytes()
