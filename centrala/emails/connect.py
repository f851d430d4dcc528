"""Connecting to a mailbox's IMAP and SMTP servers, and saying exactly what failed.

Every failure becomes a ``MailConnectError`` with a ``code`` (``dns``, ``refused``, ``timeout``,
``tls``, ``auth``, ``protocol``) and the server's words; ``describe(code)`` is the sentence an
administrator reads (translated by the caller with ``_``/``lazy_gettext``).  Certificates are
verified (system CAs, or ``ca_file`` — Settings' ``mail_ca_file``, for a company CA or the tests'
self-signed server).

The test-connection button, the outbox (SMTP, APPEND to Sent) and the receiving worker use these;
the worker's asynchronous IMAP client classifies its errors with ``classify`` the same way.
"""
from __future__ import annotations

import imaplib
import smtplib
import socket
import ssl
from dataclasses import dataclass

TIMEOUT = 20.0

CODES = ("dns", "refused", "timeout", "tls", "auth", "protocol")
# English source texts; adapters translate them (web/translations …/messages.po)
MESSAGES = {
    "dns": "The server's name could not be found (DNS).",
    "refused": "The server refused the connection (wrong port, or nothing listens there).",
    "timeout": "The server did not answer in time.",
    "tls": "The secure connection (TLS) failed: certificate, or the security setting does not match the port.",
    "auth": "The server refused the login or password.",
    "protocol": "The server answered something unexpected.",
}


class MailConnectError(Exception):
    def __init__(self, code: str, detail: str = ""):
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code, self.detail = code, detail

    @property
    def message(self) -> str:
        return MESSAGES[self.code]


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int
    security: str          # ssl | starttls | none
    username: str
    password: str = ""
    oauth_token: str = ""  # XOAUTH2 access token (instead of the password)
    ca_file: str = ""


def tls_context(ca_file: str = "") -> ssl.SSLContext:
    return ssl.create_default_context(cafile=ca_file or None)


def classify(exc: BaseException) -> MailConnectError:
    """Any exception of a connection attempt as one of ``CODES``."""
    if isinstance(exc, MailConnectError):
        return exc
    text = str(exc) or exc.__class__.__name__
    if isinstance(exc, socket.gaierror):
        return MailConnectError("dns", text)
    if isinstance(exc, ConnectionRefusedError):
        return MailConnectError("refused", text)
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return MailConnectError("timeout", text)
    if isinstance(exc, ssl.SSLError) or isinstance(exc, ssl.CertificateError):
        return MailConnectError("tls", text)
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return MailConnectError("auth", _smtp_text(exc))
    if isinstance(exc, imaplib.IMAP4.error) and _looks_like_auth(text):
        return MailConnectError("auth", text)
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return MailConnectError("tls" if "STARTTLS" in text.upper() else "protocol", text)
    if isinstance(exc, OSError) and getattr(exc, "errno", None) in (111, 113, 101):
        return MailConnectError("refused", text)
    return MailConnectError("protocol", text)


def _smtp_text(exc: smtplib.SMTPResponseException) -> str:
    msg = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
    return f"{exc.smtp_code} {msg}"


def _looks_like_auth(text: str) -> bool:
    t = text.upper()
    return any(w in t for w in ("AUTHENTICATIONFAILED", "AUTHENTICATION FAILED", "LOGIN FAILED", "INVALID CREDENTIALS",
                                "[AUTH", "AUTHORIZATIONFAILED"))


def xoauth2(username: str, token: str) -> str:
    """The SASL XOAUTH2 initial response (RFC 7628-style, as Google and Microsoft define it)."""
    return f"user={username}\x01auth=Bearer {token}\x01\x01"


# -- IMAP ----------------------------------------------------------------------------------------
def open_imap(ep: Endpoint, timeout: float = TIMEOUT) -> imaplib.IMAP4:
    """A logged-in IMAP connection (the caller logs out).  Raises ``MailConnectError``."""
    conn = None
    try:
        if ep.security == "ssl":
            conn = imaplib.IMAP4_SSL(ep.host, ep.port, ssl_context=tls_context(ep.ca_file), timeout=timeout)
        else:
            conn = imaplib.IMAP4(ep.host, ep.port, timeout=timeout)
            if ep.security == "starttls":
                conn.starttls(ssl_context=tls_context(ep.ca_file))
        if ep.oauth_token:
            conn.authenticate("XOAUTH2", lambda _: xoauth2(ep.username, ep.oauth_token).encode())
        else:
            conn.login(ep.username, ep.password)
        return conn
    except Exception as exc:
        _close_quietly(conn)
        raise classify(exc) from exc


# -- SMTP ----------------------------------------------------------------------------------------
def open_smtp(ep: Endpoint, timeout: float = TIMEOUT) -> smtplib.SMTP:
    """A logged-in SMTP connection (the caller quits).  Raises ``MailConnectError``."""
    conn = None
    try:
        if ep.security == "ssl":
            conn = smtplib.SMTP_SSL(ep.host, ep.port, timeout=timeout, context=tls_context(ep.ca_file))
        else:
            conn = smtplib.SMTP(ep.host, ep.port, timeout=timeout)
            if ep.security == "starttls":
                conn.starttls(context=tls_context(ep.ca_file))
        conn.ehlo_or_helo_if_needed()
        if ep.oauth_token:
            conn.auth("XOAUTH2", lambda challenge=None: xoauth2(ep.username, ep.oauth_token), initial_response_ok=True)
        elif ep.username and conn.has_extn("auth"):
            conn.login(ep.username, ep.password)
        return conn
    except Exception as exc:
        _close_quietly(conn)
        raise classify(exc) from exc


def _close_quietly(conn) -> None:
    if conn is None:
        return
    try:
        if isinstance(conn, smtplib.SMTP):
            conn.close()
        else:
            conn.shutdown()
    except Exception:
        pass
