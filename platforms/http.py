"""HTTP helpers shared by adapters: error bodies, error classification, Retry-After parsing."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from platforms.base import AuthExpired, PlatformError, RateLimited, Rejected, Transient


def json_object(response: httpx.Response) -> dict[str, Any] | None:
    """The answer's JSON object; None when the body is not one (an HTML error page, a proxy's
    plain text), for error readers that then fall back to the status."""
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


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


Answer = TypeVar("Answer", bound=BaseModel)


def parsed(model: type[Answer], body: Any, what: str) -> Answer:
    """A platform's answer read into `model`: a shape it does not have (a proxy's page, an
    API that changed) is a Transient error naming what was missing, never a KeyError."""
    try:
        return model.model_validate(body)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "the body"
        raise Transient(
            f"{what}: the platform answered in an unexpected shape ({where}: {first['msg']})",
            "unexpected_answer",
        ) from err


def json_body(response: httpx.Response, what: str) -> Any:
    """The answer's JSON ({} when empty); a body that is not JSON is a Transient error."""
    if not response.content:
        return {}
    try:
        return response.json()
    except ValueError as err:
        raise Transient(f"{what}: the platform answered with no JSON", "unexpected_answer") from err


def transport_error(exc: httpx.HTTPError) -> Transient:
    kind = "timed out" if isinstance(exc, httpx.TimeoutException) else "failed"
    return Transient(f"request to the platform {kind}: {type(exc).__name__}")


# A read (or a write that lands the same however often it is sent, like a chunk PUT with its
# byte range) that meets a 5xx or a dropped connection is tried again at once, inside the same
# attempt: a multi-step publish (upload, poll, publish) then does not start over for one flaky
# status poll. Writes that create something are never repeated here; the activity's retry,
# which first asks find_existing, handles those.
REPEAT_PAUSES_S = (0.2, 0.6)


async def send(
    http: httpx.AsyncClient, method: str, url: str, *, repeatable: bool, **kwargs: Any
) -> httpx.Response:
    """`http.request`, repeated on 5xx and transport errors when `repeatable`."""
    pauses = REPEAT_PAUSES_S if repeatable else ()
    for pause in pauses:
        try:
            response = await http.request(method, url, **kwargs)
        except httpx.TransportError:
            await asyncio.sleep(pause)
            continue
        if response.status_code < 500:
            return response
        await asyncio.sleep(pause)
    return await http.request(method, url, **kwargs)
