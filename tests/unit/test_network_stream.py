"""The outbound clients' idle-connection check (platforms/network_stream.py) against a real
HTTP server on a socket: a kept-alive connection carries the next request, and one the server
closed while it sat in the pool is never handed a request (which would fail with "server
disconnected")."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from platforms.outbound import OutboundPolicy, outbound_client


class _Server:
    """Answers each request with 200; closes the connection after each answer when
    `close_after_answer` (without saying so: no `Connection: close`)."""

    def __init__(self, close_after_answer: bool) -> None:
        self.close_after_answer = close_after_answer
        self.connections = 0
        self.requests = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while await reader.readuntil(b"\r\n\r\n"):
                self.requests += 1
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
                if self.close_after_answer:
                    break
        except asyncio.IncompleteReadError:
            pass  # the client closed its end
        writer.close()


@pytest.fixture(params=[False, True], ids=["kept-alive", "closed-by-server"])
async def server(request: pytest.FixtureRequest) -> AsyncIterator[tuple[_Server, str]]:
    state = _Server(close_after_answer=request.param)
    listening = await asyncio.start_server(state.handle, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    async with listening:
        yield state, f"http://127.0.0.1:{port}/"


async def test_an_idle_connection_is_reused_only_while_the_server_keeps_it(
    server: tuple[_Server, str],
) -> None:
    state, url = server
    async with outbound_client(OutboundPolicy.of([], loopback=True), timeout_s=5) as client:
        for _ in range(3):
            answer = await client.get(url)
            assert (answer.status_code, answer.text) == (200, "ok")
            await asyncio.sleep(0.05)  # the server's close reaches the client's socket
    assert state.requests == 3
    assert state.connections == (3 if state.close_after_answer else 1)
