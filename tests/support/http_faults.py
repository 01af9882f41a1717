"""An HTTP/1.1 proxy the test owns, in front of the suite's Herald: it passes requests through
one by one and, for requests whose line starts with a prefix the test names, can swallow the
answer (the request reached Herald and ran; the caller sees its connection dropped) or answer
429 itself with a Retry-After (what a rate limiter in front of Herald does). It keeps every
request line and headers it saw."""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass, field


@dataclass
class SeenRequest:
    line: str
    headers: dict[str, str]


@dataclass
class _Rule:
    prefix: str
    action: str  # "drop" or "429"
    count: int
    retry_after_s: int = 1


@dataclass
class HttpFaultProxy:
    upstream_host: str
    upstream_port: int
    port: int = 0
    seen: list[SeenRequest] = field(default_factory=list)
    dropped: int = 0
    refused: int = 0
    _rules: list[_Rule] = field(default_factory=list)
    _server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def drop_answers(self, prefix: str, count: int = 1) -> None:
        """The next `count` requests starting `prefix` (e.g. "POST /v1/posts ") run on
        Herald, but their answers are thrown away and the caller's connection reset."""
        self._rules.append(_Rule(prefix, "drop", count))

    def answer_429(self, prefix: str, count: int = 1, retry_after_s: int = 1) -> None:
        """The next `count` requests starting `prefix` get 429 RATE_LIMITED with Retry-After,
        in the contract's error shape, without reaching Herald."""
        self._rules.append(_Rule(prefix, "429", count, retry_after_s))

    def requests_to(self, prefix: str) -> list[SeenRequest]:
        return [r for r in self.seen if r.line.startswith(prefix)]

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def _rule_for(self, line: str) -> _Rule | None:
        for rule in self._rules:
            if rule.count > 0 and line.startswith(rule.prefix):
                rule.count -= 1
                return rule
        return None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(self.upstream_host, self.upstream_port)
        try:
            while (request := await _read_message(reader)) is not None:
                head = request.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
                self.seen.append(SeenRequest(head[0], _headers(head[1:])))
                rule = self._rule_for(head[0])
                if rule is not None and rule.action == "429":
                    self.refused += 1
                    writer.write(_too_many_requests(rule.retry_after_s))
                    await writer.drain()
                    continue
                up_writer.write(request)
                await up_writer.drain()
                answer = await _read_message(up_reader)
                if answer is None:
                    break
                if rule is not None:  # "drop": Herald answered; the caller never hears it
                    self.dropped += 1
                    writer.transport.abort()
                    return
                writer.write(answer)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            for each in (writer, up_writer):
                with contextlib.suppress(Exception):
                    each.close()


def _headers(lines: list[str]) -> dict[str, str]:
    pairs = (line.split(":", 1) for line in lines if ":" in line)
    return {name.strip().lower(): value.strip() for name, value in pairs}


async def _read_message(reader: asyncio.StreamReader) -> bytes | None:
    """One HTTP/1.1 request or answer with its body (Content-Length framed; Herald's answers
    and httpx's JSON requests are), or None when the peer closed."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    lines = head.decode("latin-1").split("\r\n")
    headers = _headers(lines[1:])
    if "chunked" in headers.get("transfer-encoding", ""):
        raise ValueError("the fault proxy reads Content-Length framed messages only")
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return head + body


def _too_many_requests(retry_after_s: int) -> bytes:
    body = json.dumps(
        {
            "error": {
                "code": "RATE_LIMITED",
                "message": "too many requests",
                "details": [],
                "request_id": "req_proxy",
            }
        }
    ).encode()
    head = (
        "HTTP/1.1 429 Too Many Requests\r\n"
        f"Retry-After: {retry_after_s}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        "X-Request-Id: req_proxy\r\n\r\n"
    )
    return head.encode() + body
