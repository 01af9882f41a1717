"""What the OAuth adapters share about token endpoints: when a token runs out, and how a refused
token request reads (a refused refresh means the grant is gone, a refused code exchange is the
callback's problem)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from platforms.base import AuthExpired, PlatformError, Rejected
from platforms.http import transport_error


def expires_after(seconds: Any) -> datetime | None:
    """When a token given `expires_in` seconds from now stops working; None if not said."""
    if not isinstance(seconds, int | float):
        return None
    return datetime.now(UTC) + timedelta(seconds=float(seconds))


async def token_request(
    http: httpx.AsyncClient,
    url: str,
    classify: Callable[[httpx.Response], PlatformError],
    *,
    refreshing: bool,
    **kwargs: Any,
) -> dict[str, Any]:
    """POSTs to an RFC 6749 token endpoint (never repeated: a code is single-use and refresh
    tokens may rotate). A 400 or 401 refusal is AuthExpired when `refreshing`, else Rejected."""
    try:
        response = await http.post(url, **kwargs)
    except httpx.HTTPError as exc:
        raise transport_error(exc) from exc
    if response.is_success:
        answer: dict[str, Any] = response.json()
        return answer
    error = classify(response)
    if response.status_code in (400, 401) and isinstance(error, Rejected | AuthExpired):
        kind = AuthExpired if refreshing else Rejected
        raise kind(error.message, code=error.code, status=response.status_code)
    raise error
