"""httpcore's network stream on asyncio's own streams, for every outbound client.

httpcore ships its network on anyio, and anyio wraps every read and write in a cancel scope
and a timeout scope of its own (a dozen objects per call) and rebuilds the socket's typed
attribute table whenever httpcore asks whether an idle connection is still usable, which it
asks of every pooled connection twice per request. Per request that was about a quarter of
the webhook dispatcher's CPU (issue #13: a webhook attempt to a local receiver, 0.59 ms of
CPU on anyio, 0.50 ms on this stream). The timeouts and errors are httpcore's, mapped as its
anyio backend maps them.
"""

from __future__ import annotations

import asyncio
import contextlib
import select
import socket
import ssl
from collections.abc import Iterable, Iterator
from typing import Any

import httpcore

# What a connect, a read and a write raise, as httpcore's own exceptions.
_CONNECT_ERRORS: dict[type[Exception], type[Exception]] = {
    TimeoutError: httpcore.ConnectTimeout,
    OSError: httpcore.ConnectError,
}
_READ_ERRORS: dict[type[Exception], type[Exception]] = {
    TimeoutError: httpcore.ReadTimeout,
    OSError: httpcore.ReadError,
}
_WRITE_ERRORS: dict[type[Exception], type[Exception]] = {
    TimeoutError: httpcore.WriteTimeout,
    OSError: httpcore.WriteError,
}


@contextlib.contextmanager
def _mapped(errors: dict[type[Exception], type[Exception]]) -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        for caught, raised in errors.items():
            if isinstance(exc, caught):
                raise raised(str(exc) or type(exc).__name__) from exc
        raise


def _readable(sock: socket.socket | None) -> bool:
    # Readable while idle means the server closed the connection or sent something unasked:
    # either way it must not carry another request. A socket already closed counts as that.
    if sock is None or sock.fileno() == -1:
        return True
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


class AsyncioStream(httpcore.AsyncNetworkStream):
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._socket: socket.socket | None = writer.get_extra_info("socket")

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:  # noqa: ASYNC109
        with _mapped(_READ_ERRORS):
            async with asyncio.timeout(timeout):
                return await self._reader.read(max_bytes)  # b"" at the end, as httpcore expects

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:  # noqa: ASYNC109
        if not buffer:
            return
        with _mapped(_WRITE_ERRORS):
            if self._writer.is_closing():
                raise ConnectionResetError("the connection is closed")
            self._writer.write(buffer)
            transport = self._writer.transport
            if transport.get_write_buffer_size() > transport.get_write_buffer_limits()[0]:
                async with asyncio.timeout(timeout):
                    await self._writer.drain()  # the peer is slower than we write: wait for it

    async def aclose(self) -> None:
        # Not waiting for the close to complete: a TLS peer that never answers close_notify
        # would hold the caller for asyncio's shutdown timeout.
        self._writer.close()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
    ) -> httpcore.AsyncNetworkStream:
        with _mapped(_CONNECT_ERRORS):
            async with asyncio.timeout(timeout):
                await self._writer.start_tls(ssl_context, server_hostname=server_hostname)
        return self

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            return _readable(self._socket)
        if info == "socket":
            return self._socket
        if info == "client_addr":
            return self._writer.get_extra_info("sockname")
        if info == "server_addr":
            return self._writer.get_extra_info("peername")
        if info == "ssl_object":
            return self._writer.get_extra_info("ssl_object")
        return None


async def connect_tcp(
    address: str,
    port: int,
    timeout: float | None,  # noqa: ASYNC109 (httpcore's interface)
    local_address: str | None,
    socket_options: Iterable[Any] | None,
) -> httpcore.AsyncNetworkStream:
    """A TCP connection to an address already checked (platforms.outbound)."""
    with _mapped(_CONNECT_ERRORS):
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(
                address, port, local_addr=(local_address, 0) if local_address else None
            )
    sock: socket.socket | None = writer.get_extra_info("socket")
    for option in socket_options or ():
        if sock is not None:
            sock.setsockopt(*option)
    return AsyncioStream(reader, writer)
