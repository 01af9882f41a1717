"""The log of platform requests, so tests can assert that retries (or no retries) happened."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from emulator.faults import FIRED_FAULTS_KEY
from emulator.platform import PlatformEmulator, split_platform_path
from emulator.timefmt import rfc3339

REQUEST_LOG_LIMIT = 5000


def redact_authorization(value: str) -> str:
    """Keeps the scheme and the first 6 characters of the credential: enough to tell
    accounts apart in a test, not enough to replay."""
    scheme, _, credential = value.partition(" ")
    if not credential:
        return value[:6] + "…"
    return f"{scheme} {credential[:6]}…"


@dataclass
class RequestRecord:
    platform: str
    method: str
    path: str
    query: str
    headers: dict[str, str]
    at: datetime
    status: int | None = None
    faults: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "platform": self.platform,
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": self.headers,
            "status": self.status,
            "at": rfc3339(self.at),
            "faults": self.faults,
        }


class RequestLog:
    def __init__(self, limit: int = REQUEST_LOG_LIMIT) -> None:
        self._records: deque[RequestRecord] = deque(maxlen=limit)

    def append(self, record: RequestRecord) -> None:
        self._records.append(record)

    def records(self) -> list[RequestRecord]:
        return list(self._records)

    def clear(self) -> None:
        self._records.clear()


# Headers worth seeing in a test; everything else is noise (and tokens stay redacted).
_KEPT_HEADERS = ("idempotency-key", "content-type", "user-agent")


class RequestLogMiddleware:
    """Outermost platform middleware: records every platform request with its final status."""

    def __init__(
        self,
        app: ASGIApp,
        log: RequestLog,
        now: Callable[[], datetime],
        platforms: Mapping[str, PlatformEmulator],
    ) -> None:
        self.app = app
        self.log = log
        self.now = now
        self.platforms = platforms

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        split = (
            split_platform_path(scope["path"], self.platforms) if scope["type"] == "http" else None
        )
        if split is None:
            await self.app(scope, receive, send)
            return
        raw = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        headers = {name: raw[name] for name in _KEPT_HEADERS if name in raw}
        if "authorization" in raw:
            headers["authorization"] = redact_authorization(raw["authorization"])
        record = RequestRecord(
            platform=split[0].name,
            method=scope["method"],
            path=scope["path"],
            query=scope.get("query_string", b"").decode("latin-1"),
            headers=headers,
            at=self.now(),
        )
        # Logged on arrival, so a request still sleeping in a delay fault is already visible.
        self.log.append(record)

        async def send_noting_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                record.status = int(message["status"])
                record.faults = list(scope.get(FIRED_FAULTS_KEY, []))
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            if record.status is None:
                record.faults = list(scope.get(FIRED_FAULTS_KEY, []))
