"""A small asyncio IMAP client: what the mail worker needs and nothing more.

Written on asyncio streams rather than taken from a library: the maintained asyncio client
(aioimaplib 2.0) has no STARTTLS, which many company servers (port 143) require, and the worker
needs only LOGIN / AUTHENTICATE XOAUTH2, CAPABILITY, STARTTLS, SELECT, UID SEARCH, UID FETCH
BODY.PEEK[] (mail stays unread on the server), IDLE/DONE, NOOP and LOGOUT.  One connection is one
coroutine's state, so a worker holds any number of mailboxes on one event loop.

Failures are ``connect.MailConnectError`` (code dns|refused|timeout|tls|auth|protocol), the same
as the synchronous clients', so the mailbox's ``last_error`` reads alike.
"""
from __future__ import annotations

import asyncio
import base64
import re
from dataclasses import dataclass, field

from .connect import Endpoint, MailConnectError, classify, tls_context, xoauth2

_LITERAL = re.compile(rb"\{(\d+)\+?\}\r\n$")
_NEWS = re.compile(rb"^\* \d+ (EXISTS|RECENT|EXPUNGE|FETCH)\b", re.I)
_TAGGED = re.compile(rb"^(A\d+) (OK|NO|BAD)\b ?(.*)", re.S)


@dataclass
class Response:
    line: bytes                                   # the response with literals left out
    literals: list[bytes] = field(default_factory=list)


class ImapClient:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, timeout: float):
        self.reader, self.writer, self.timeout = reader, writer, timeout
        self.capabilities: set[str] = set()
        self._tag = 0

    # -- opening ------------------------------------------------------------------------------
    @classmethod
    async def open(cls, ep: Endpoint, timeout: float = 20.0) -> "ImapClient":
        """Connected, TLS as the endpoint says, logged in.  Raises ``MailConnectError``."""
        client = None
        try:
            ssl = tls_context(ep.ca_file) if ep.security == "ssl" else None
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(ep.host, ep.port, ssl=ssl, server_hostname=ep.host if ssl else None),
                timeout)
            client = cls(reader, writer, timeout)
            greeting = await client._read()
            if not greeting.line.startswith(b"* OK") and not greeting.line.startswith(b"* PREAUTH"):
                raise MailConnectError("protocol", greeting.line.decode("utf-8", "replace").strip())
            await client.capability()
            if ep.security == "starttls":
                if "STARTTLS" not in client.capabilities:
                    raise MailConnectError("tls", "the server does not offer STARTTLS")
                await client.command("STARTTLS")
                await asyncio.wait_for(writer.start_tls(tls_context(ep.ca_file), server_hostname=ep.host), timeout)
                await client.capability()
            if ep.oauth_token:
                token = base64.b64encode(xoauth2(ep.username, ep.oauth_token).encode()).decode()
                await client.command(f"AUTHENTICATE XOAUTH2 {token}", auth=True)
            else:
                await client.command(f"LOGIN {quote(ep.username)} {quote(ep.password)}", auth=True)
            await client.capability()
            return client
        except BaseException as exc:
            if client is not None:
                client.abort()
            if isinstance(exc, asyncio.CancelledError):
                raise
            raise classify(exc) from exc

    # -- the protocol -------------------------------------------------------------------------
    async def _readline(self, timeout: float | None) -> bytes:
        line = await asyncio.wait_for(self.reader.readline(), timeout)
        if not line:
            raise ConnectionResetError("the server closed the connection")
        return line

    async def _read(self, timeout: float | None = None) -> Response:
        """One whole response (literals read in full)."""
        t = self.timeout if timeout is None else timeout
        line = await self._readline(t)
        out = Response(b"")
        while True:
            m = _LITERAL.search(line)
            if not m:
                out.line += line.rstrip(b"\r\n")
                return out
            out.line += line[:m.start()] + b"{}"
            out.literals.append(await asyncio.wait_for(self.reader.readexactly(int(m.group(1))), self.timeout))
            line = await self._readline(self.timeout)

    def _send(self, text: str) -> None:
        self.writer.write(text.encode("utf-8") + b"\r\n")

    def _next_tag(self) -> str:
        self._tag += 1
        return f"A{self._tag}"

    async def command(self, text: str, *, auth: bool = False, timeout: float | None = None) -> list[Response]:
        """Send a command; its untagged responses when it ends OK, else ``MailConnectError``."""
        tag = self._next_tag()
        self._send(f"{tag} {text}")
        await self.writer.drain()
        untagged = []
        while True:
            r = await self._read(timeout)
            if r.line.startswith(b"+"):
                if auth:        # a SASL error challenge: answer empty, the server then says NO
                    self._send("")
                    await self.writer.drain()
                continue
            m = _TAGGED.match(r.line)
            if m and m.group(1).decode() == tag:
                if m.group(2) != b"OK":
                    said = m.group(3).decode("utf-8", "replace").strip()
                    raise MailConnectError("auth" if auth else "protocol", said)
                return untagged
            untagged.append(r)

    async def capability(self) -> set[str]:
        for r in await self.command("CAPABILITY"):
            if r.line.upper().startswith(b"* CAPABILITY"):
                self.capabilities = set(r.line.decode("ascii", "replace").upper().split()[2:])
        return self.capabilities

    async def select(self, mailbox: str = "INBOX") -> dict:
        """``uidvalidity``, ``exists``, ``uidnext`` of the mailbox (read-write: PEEK keeps mail unread)."""
        info = {"uidvalidity": None, "exists": 0, "uidnext": None}
        for r in await self.command(f"SELECT {quote(mailbox)}"):
            text = r.line.decode("utf-8", "replace")
            if m := re.search(r"UIDVALIDITY (\d+)", text):
                info["uidvalidity"] = int(m.group(1))
            elif m := re.search(r"UIDNEXT (\d+)", text):
                info["uidnext"] = int(m.group(1))
            elif m := re.match(r"\* (\d+) EXISTS", text):
                info["exists"] = int(m.group(1))
        return info

    async def uids_after(self, last_uid: int) -> list[int]:
        """UIDs above ``last_uid``, ascending (``n:*`` also names the last message: filtered)."""
        found: list[int] = []
        for r in await self.command(f"UID SEARCH UID {last_uid + 1}:*"):
            if r.line.upper().startswith(b"* SEARCH"):
                found += [int(x) for x in r.line.split()[2:] if x.isdigit()]
        return sorted(u for u in set(found) if u > last_uid)

    async def fetch(self, uids: list[int]) -> list[tuple[int, bytes]]:
        """The raw messages of ``uids`` (BODY.PEEK: the \\Seen flag is left as it was)."""
        if not uids:
            return []
        out = []
        for r in await self.command(f"UID FETCH {','.join(map(str, uids))} (UID BODY.PEEK[])",
                                    timeout=max(self.timeout, 120)):
            if b" FETCH " not in r.line or not r.literals:
                continue
            m = re.search(rb"UID (\d+)", r.line)
            if m:
                out.append((int(m.group(1)), r.literals[0]))
        return out

    async def idle(self, seconds: float) -> bool:
        """Wait in IDLE up to ``seconds`` (re-issued by the caller before the server's timeout):
        True when the server told of new mail (EXISTS/RECENT) or anything else changed."""
        tag = self._next_tag()
        self._send(f"{tag} IDLE")
        await self.writer.drain()
        first = await self._read()
        if not first.line.startswith(b"+"):
            m = _TAGGED.match(first.line)
            raise MailConnectError("protocol", (m.group(3) if m else first.line).decode("utf-8", "replace"))
        news = False
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while not news and (left := deadline - loop.time()) > 0:
            try:
                r = await self._read(timeout=left)
            except asyncio.TimeoutError:
                break
            news = _NEWS.match(r.line) is not None    # "* OK Still here" keep-alives are not news
        self._send("DONE")
        await self.writer.drain()
        while True:
            r = await self._read()
            m = _TAGGED.match(r.line)
            if m and m.group(1).decode() == tag:
                return news

    async def noop(self) -> None:
        await self.command("NOOP")

    async def logout(self) -> None:
        try:
            await asyncio.wait_for(self.command("LOGOUT"), 5)
        except Exception:
            pass
        self.abort()

    def abort(self) -> None:
        try:
            self.writer.close()
        except Exception:
            pass


def quote(s: str) -> str:
    """An IMAP quoted string."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'
