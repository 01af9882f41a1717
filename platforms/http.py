"""HTTP helpers shared by adapters: error classification and Retry-After parsing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from platforms.base import AuthExpired, PlatformError, RateLimited, Rejected, Transient


def retry_after_seconds(response: httpx.Response, reset_header: str | None = None) -> float | None:
    """Seconds to wait, from Retry-After (seconds or HTTP date) or a reset-time header."""
    now = datetime.now(UTC)
    raw = response.headers.get("retry-after")
    if raw:
        try:
            return max(0.0, float(raw))
        except ValueError:
            try:
                return max(0.0, (parsedate_to_datetime(raw) - now).total_seconds())
            except (TypeError, ValueError):
                pass
    reset = response.headers.get(reset_header) if reset_header else None
    if reset:
        try:
            return max(0.0, float(reset) - now.timestamp())
        except ValueError:
            try:
                return max(0.0, (datetime.fromisoformat(reset) - now).total_seconds())
            except ValueError:
                return None
    return None


def classify_response(
    response: httpx.Response,
    message_of: Callable[[httpx.Response], str],
    reset_header: str | None = None,
) -> PlatformError:
    """Maps a failed response onto the error taxonomy, keeping the platform's own message."""
    message = message_of(response)
    status = response.status_code
    if status == 429:
        return RateLimited(message, retry_after_seconds(response, reset_header))
    if status == 401:
        return AuthExpired(message, status=status)
    if status >= 500 or status in (408, 425):
        return Transient(message, status=status)
    return Rejected(message, status=status)


def transport_error(exc: httpx.HTTPError) -> Transient:
    kind = "timed out" if isinstance(exc, httpx.TimeoutException) else "failed"
    return Transient(f"request to the platform {kind}: {type(exc).__name__}")
