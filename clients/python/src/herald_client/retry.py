"""When the client sends a request again, and how long it waits first. Every write carries one
Idempotency-Key across all its attempts, so a retry never does the work twice."""

from __future__ import annotations

import email.utils
import time
from dataclasses import dataclass

import httpx

# Failures after which the request may or may not have reached the server: safe to send again
# only because the key makes the server answer a repeat with the first answer.
RETRYABLE_ERRORS: tuple[type[Exception], ...] = (
    httpx.ConnectError,
    httpx.ReadError,
    httpx.WriteError,
    httpx.RemoteProtocolError,
    httpx.TimeoutException,
)
RETRYABLE_STATUSES = frozenset({429, 503})


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    backoff_s: float = 0.5  # first wait without a Retry-After, doubling each time
    max_backoff_s: float = 8.0
    max_retry_after_s: float = 60.0  # a longer Retry-After is not waited out: the error is raised

    def _backoff(self, attempt: int) -> float:
        return float(min(self.max_backoff_s, self.backoff_s * 2 ** (attempt - 1)))

    def after_error(self, attempt: int) -> float | None:
        """Seconds to wait before sending again after a connection failure, or None: give up."""
        if attempt >= self.max_attempts:
            return None
        return self._backoff(attempt)

    def after_response(
        self, response: httpx.Response, attempt: int, *, resent: bool
    ) -> float | None:
        """Seconds to wait before sending again after this error answer, or None: raise it.

        429 and 503 are waited out (their Retry-After, else backoff). A 409 after a resend
        is the server still running the first attempt of the same key: wait and ask again."""
        if attempt >= self.max_attempts:
            return None
        if response.status_code in RETRYABLE_STATUSES:
            after = retry_after_s(response)
            if after is None:
                return self._backoff(attempt)
            return after if after <= self.max_retry_after_s else None
        if response.status_code == 409 and resent:
            return self._backoff(attempt)
        return None


def retry_after_s(response: httpx.Response) -> float | None:
    """The Retry-After header in seconds (delta-seconds or an HTTP date), None when absent."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        at = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, at.timestamp() - time.time())
