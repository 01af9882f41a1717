"""A network stream for httpcore whose "is the idle connection still usable?" check is cheap.

httpcore asks every pooled connection whether it has expired each time it assigns a request
to a connection, twice per request, so the check runs (connections x requests) times: with a
dozen connections in the pool, dozens of times per request. Its anyio stream answers it by
rebuilding the socket's typed-attribute table each time: about a tenth of the webhook
dispatcher's CPU in issue #13's profile. This stream looks the socket up once and polls it
directly, the same readability test."""

from __future__ import annotations

import select
import socket
import ssl
from typing import Any

import httpcore


def _readable(sock: socket.socket | None) -> bool:
    # Readable while idle means the server closed the connection or sent something unasked:
    # either way it must not carry another request. A socket already closed counts as that.
    if sock is None or sock.fileno() == -1:
        return True
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


class PolledStream(httpcore.AsyncNetworkStream):
    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self._inner = inner
        self._socket: socket.socket | None = inner.get_extra_info("socket")

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:  # noqa: ASYNC109
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:  # noqa: ASYNC109
        await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
    ) -> httpcore.AsyncNetworkStream:
        return PolledStream(await self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            return _readable(self._socket)
        return self._inner.get_extra_info(info)
