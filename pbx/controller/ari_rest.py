"""The ARI requests made at the call rate (the continue that hands each call to the queue), over
kept-alive HTTP/1.1 connections of a plain asyncio client.

asyncari sends them through asyncswagger and httpx: ~1.4 ms of the event loop's CPU per call at
20 calls/s, a quarter of the controller's loop (measured with py-spy, docs/performance.md).
Everything else (events, subscriptions, hang-ups, playbacks) stays on asyncari."""
from __future__ import annotations

import asyncio
import base64
from urllib.parse import quote, urlencode


class AriRestError(RuntimeError):
    pass


class AriRest:
    def __init__(self, host: str, port: int, user: str, password: str, keep: int = 8, timeout: float = 10.0):
        self.host, self.port, self.keep, self.timeout = host, port, keep, timeout
        self._auth = base64.b64encode(f"{user}:{password}".encode()).decode()
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def post(self, path: str, params: dict) -> int:
        """POST ``/ari/<path>?<params>``; the HTTP status (raises AriRestError from 400 on)."""
        request = (f"POST /ari/{quote(path)}?{urlencode(params)} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                   f"Authorization: Basic {self._auth}\r\nContent-Length: 0\r\n\r\n").encode()
        for attempt in (0, 1):
            reused = bool(self._idle)
            reader, writer = self._idle.pop() if reused else await asyncio.open_connection(self.host, self.port)
            try:
                writer.write(request)
                status, body, keep_alive = await asyncio.wait_for(_response(reader), self.timeout)
            except (ConnectionError, asyncio.IncompleteReadError) as exc:
                writer.close()
                if reused and attempt == 0:   # the server closed an idle connection: once more, fresh
                    continue
                raise AriRestError(f"ARI {path}: {exc}") from exc
            except BaseException:
                writer.close()
                raise
            if keep_alive and len(self._idle) < self.keep:
                self._idle.append((reader, writer))
            else:
                writer.close()
            if status >= 400:
                raise AriRestError(f"ARI {path}: HTTP {status} {body[:200]!r}")
            return status
        raise AssertionError("unreachable")

    def close(self) -> None:
        while self._idle:
            self._idle.pop()[1].close()

    async def continue_in_dialplan(self, channel_id: str, context: str, extension: str, priority: int = 1) -> None:
        await self.post(f"channels/{channel_id}/continue",
                        {"context": context, "extension": extension, "priority": priority})


async def _response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    line = await reader.readline()
    if not line:
        raise ConnectionResetError("connection closed")
    parts = line.split(None, 2)
    status = int(parts[1])
    length, keep_alive = 0, not parts[0].endswith(b"/1.0")
    while True:
        header = await reader.readline()
        if header in (b"\r\n", b"\n", b""):
            break
        name, _, value = header.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value.strip())
        elif name == b"connection":
            keep_alive = value.strip().lower() != b"close"
    body = await reader.readexactly(length) if length else b""
    return status, body, keep_alive
