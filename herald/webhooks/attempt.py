"""One delivery attempt over HTTP, and what its answer means for the delivery."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import httpx

from platforms.base import PlatformError
from platforms.http import retry_after_seconds

# What of a receiver's answer is kept in the delivery log.
RESPONSE_EXCERPT_BYTES = 1024
RETRY_AFTER_STATUSES = frozenset({429, 503})


class Verdict(StrEnum):
    DELIVERED = "delivered"  # 2xx
    GONE = "gone"  # 410: the receiver asks never to be called again
    RETRY = "retry"  # anything else: another status, a timeout, a refused connection


@dataclass(frozen=True)
class AttemptResult:
    at: datetime
    duration_ms: int
    status_code: int | None = None
    response: str | None = None
    error: str | None = None
    retry_after_s: float | None = None

    @property
    def verdict(self) -> Verdict:
        code = self.status_code
        if code is not None and 200 <= code < 300:
            return Verdict.DELIVERED
        return Verdict.GONE if code == 410 else Verdict.RETRY

    def summary(self) -> str:
        if self.status_code is not None:
            return f"HTTP {self.status_code}"
        return self.error or "no answer"


async def post_once(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], body: str, at: datetime
) -> AttemptResult:
    """POSTs the body; never raises for the receiver's sake (every outcome is a result)."""
    started = time.monotonic()

    def elapsed() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        async with client.stream("POST", url, content=body.encode(), headers=headers) as answer:
            excerpt = b""
            async for chunk in answer.aiter_bytes():
                excerpt += chunk
                if len(excerpt) >= RESPONSE_EXCERPT_BYTES:
                    break
            retry_after = (
                retry_after_seconds(answer) if answer.status_code in RETRY_AFTER_STATUSES else None
            )
            return AttemptResult(
                at,
                elapsed(),
                status_code=answer.status_code,
                response=excerpt[:RESPONSE_EXCERPT_BYTES].decode("utf-8", "replace"),
                retry_after_s=retry_after,
            )
    except httpx.TimeoutException:
        return AttemptResult(at, elapsed(), error="timed out waiting for the receiver")
    except PlatformError as err:  # the address policy refused where the URL leads
        return AttemptResult(at, elapsed(), error=err.message)
    except httpx.HTTPError as err:
        return AttemptResult(at, elapsed(), error=f"{type(err).__name__}: {err}".strip(": "))
