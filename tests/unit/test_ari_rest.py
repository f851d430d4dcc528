"""The controller's keep-alive ARI client (pbx/controller/ari_rest.py) against a real HTTP server
on loopback that behaves as Asterisk's does: 204 for a continue, 404 for a channel that is gone,
and idle keep-alive connections it closes."""
from __future__ import annotations

import asyncio

import pytest

from pbx.controller.ari_rest import AriRest, AriRestError

from ..helpers import run_coroutine


class Server:
    def __init__(self, close_after_each: bool = False):
        self.requests: list[str] = []
        self.connections = 0
        self.close_after_each = close_after_each

    async def handle(self, reader, writer):
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                line = head.split(b"\r\n", 1)[0].decode()
                self.requests.append(line)
                status = "404 Not Found" if "/gone/" in line else "204 No Content"
                body = b'{"message":"Channel not found"}' if "/gone/" in line else b""
                writer.write(f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
                await writer.drain()
                if self.close_after_each:
                    break
        except asyncio.IncompleteReadError:
            pass
        writer.close()


def run(server: Server, steps):
    async def go():
        srv = await asyncio.start_server(server.handle, "127.0.0.1", 0)
        port = srv.sockets[0].getsockname()[1]
        rest = AriRest("127.0.0.1", port, "centrala", "secret")
        try:
            return await steps(rest)
        finally:
            rest.close()
            srv.close()
            await srv.wait_closed()
    return run_coroutine(go())


def test_continue_posts_the_dialplan_target_over_one_kept_alive_connection():
    server = Server()

    async def steps(rest):
        for n in range(3):
            await rest.continue_in_dialplan(f"1733.{n}", "centrala-queue", "inbound", 1)
    run(server, steps)
    assert server.requests == [f"POST /ari/channels/1733.{n}/continue?context=centrala-queue&extension=inbound"
                               f"&priority=1 HTTP/1.1" for n in range(3)]
    assert server.connections == 1


def test_a_connection_the_server_closed_meanwhile_is_replaced():
    server = Server(close_after_each=True)   # as Asterisk closes an idle keep-alive connection

    async def steps(rest):
        await rest.continue_in_dialplan("1.1", "centrala-queue", "inbound")
        await rest.continue_in_dialplan("1.2", "centrala-queue", "inbound")
    run(server, steps)
    assert len(server.requests) == 2 and server.connections == 2


def test_an_error_status_is_raised_with_asterisks_message():
    async def steps(rest):
        with pytest.raises(AriRestError, match="404.*Channel not found"):
            await rest.continue_in_dialplan("gone", "centrala-queue", "inbound")
        await rest.continue_in_dialplan("1.1", "centrala-queue", "inbound")   # the connection lives on
    server = Server()
    run(server, steps)
    assert server.connections == 1
