"""What the Meta adapters (Facebook, Instagram, Threads) share: Graph error classification (errors carry
their meaning in ``code``, most arrive as HTTP 400) and the usage headers' back-off hint.

developers.facebook.com "Graph API > Handling Errors" and "Rate Limiting": 190 (and 102) is an
invalid or expired token; 4, 17, 32, 613 and 80001-80014 are throttling; 1 and 2 are
temporary; ``is_transient`` marks others worth retrying; everything else is a refusal.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from platforms.base import AuthExpired, PlatformError, RateLimited, Rejected, Transient
from platforms.http import retry_after_seconds

GRAPH_VERSION = "v26.0"
RATE_LIMIT_CODES = frozenset({4, 17, 32, 613, *range(80001, 80015)})
TOKEN_CODES = frozenset({190, 102})
TRANSIENT_CODES = frozenset({1, 2})


def graph_error(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}


def usage_retry_after(response: httpx.Response) -> float | None:
    """X-Business-Use-Case-Usage names the minutes until access returns when throttled."""
    raw = response.headers.get("x-business-use-case-usage")
    if not raw:
        return None
    try:
        usage = json.loads(raw)
    except ValueError:
        return None
    minutes = [
        entry.get("estimated_time_to_regain_access")
        for entries in (usage.values() if isinstance(usage, dict) else [])
        if isinstance(entries, list)
        for entry in entries
        if isinstance(entry, dict)
    ]
    waits = [float(m) for m in minutes if isinstance(m, int | float) and m > 0]
    return max(waits) * 60 if waits else None


def classify(
    response: httpx.Response, transient_codes: frozenset[int] = TRANSIENT_CODES
) -> PlatformError:
    """Graph errors carry their meaning in ``code``, not the HTTP status (most are 400);
    `transient_codes` adds an API's own retryable codes (Threads: 9007, media not ready)."""
    error = graph_error(response)
    status = response.status_code
    code = error.get("code")
    subcode = error.get("error_subcode")
    label = None if code is None else f"{code}/{subcode}" if subcode else str(code)
    message = str(error.get("message") or f"HTTP {status}")
    if error.get("error_user_msg"):
        message = f"{message}: {error['error_user_msg']}"
    if status == 429 or code in RATE_LIMIT_CODES:
        retry = retry_after_seconds(response) or usage_retry_after(response)
        return RateLimited(message, retry, code=label, status=status)
    if code in TOKEN_CODES or status == 401:
        return AuthExpired(message, code=label, status=status)
    if status >= 500 or status in (408, 425) or code in transient_codes:
        return Transient(message, code=label, status=status)
    if error.get("is_transient") is True:
        return Transient(message, code=label, status=status)
    return Rejected(message, code=label, status=status)
