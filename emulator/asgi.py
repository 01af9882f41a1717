"""Small raw-ASGI helpers for the middlewares that sit in front of the platform routers."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from emulator.platform import RequestInfo


def request_info(scope: Scope, subpath: str) -> RequestInfo:
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
    client = scope.get("client")
    return RequestInfo(
        method=scope["method"],
        path=subpath,
        query=scope.get("query_string", b"").decode("latin-1"),
        headers=headers,
        client_host=client[0] if client else "unknown",
    )


def encode_headers(headers: Mapping[str, str]) -> list[tuple[bytes, bytes]]:
    return [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]


async def send_json(send: Send, status: int, body: object, headers: Mapping[str, str]) -> None:
    """Writes a whole JSON response straight to ASGI (used where no route runs)."""
    payload = json.dumps(body).encode()
    raw_headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
        *encode_headers(headers),
    ]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": payload})


@dataclass
class CapturedResponse:
    """A response held back instead of sent, so it can still be replaced or delayed."""

    messages: list[Message] = field(default_factory=list)

    @property
    def status(self) -> int:
        for message in self.messages:
            if message["type"] == "http.response.start":
                return int(message["status"])
        return 500

    async def replay(self, send: Send) -> None:
        for message in self.messages:
            await send(message)


async def run_captured(app: ASGIApp, scope: Scope, receive: Receive) -> CapturedResponse:
    captured = CapturedResponse()

    async def capture(message: Message) -> None:
        captured.messages.append(message)

    await app(scope, receive, capture)
    return captured


async def read_body(receive: Receive) -> bytes:
    """The whole request body."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def replaying(body: bytes) -> Receive:
    """A receive channel that hands the app `body` again, then reports the client gone."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive
