"""The outbound clients' network stream (platforms/network_stream.py) against real servers on
sockets: a kept-alive connection carries the next request, and one the server closed while it
sat in the pool is never handed a request (which would fail with "server disconnected"); TLS
is negotiated and its certificate checked; a silent server times out and a closed port
refuses, as httpx's own errors."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from platforms import network_stream
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


def _self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


async def test_tls_is_negotiated_on_the_stream_and_the_certificate_checked(
    tmp_path: Path,
) -> None:
    cert_path, key_path = _self_signed(tmp_path)
    served = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    served.load_cert_chain(cert_path, key_path)
    state = _Server(close_after_answer=False)
    listening = await asyncio.start_server(state.handle, "127.0.0.1", 0, ssl=served)
    port = listening.sockets[0].getsockname()[1]
    async with listening:
        # Herald's clients trust the system's roots only: this certificate is refused.
        client = outbound_client(OutboundPolicy.of([], loopback=True), timeout_s=5)
        async with client:
            with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                await client.get(f"https://127.0.0.1:{port}/")
        # Trusting it, the same stream carries a request after its handshake.
        trusting = ssl.create_default_context(cafile=str(cert_path))
        stream = await network_stream.connect_tcp("127.0.0.1", port, 5, None, None)
        stream = await stream.start_tls(trusting, "127.0.0.1", 5)
        assert stream.get_extra_info("ssl_object") is not None
        await stream.write(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 5)
        answer = await stream.read(1024, 5)
        await stream.aclose()
    assert answer.startswith(b"HTTP/1.1 200 OK") and answer.endswith(b"ok")


async def test_a_silent_server_times_out_and_a_closed_port_refuses() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1024)
        await asyncio.sleep(5)
        writer.close()

    listening = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    async with (
        listening,
        outbound_client(OutboundPolicy.of([], loopback=True), timeout_s=0.2) as client,
    ):
        with pytest.raises(httpx.ReadTimeout):
            await client.get(f"http://127.0.0.1:{port}/")
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    free = closed.getsockname()[1]
    closed.close()
    async with outbound_client(OutboundPolicy.of([], loopback=True), timeout_s=2) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(f"http://127.0.0.1:{free}/")
