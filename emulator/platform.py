"""What every emulated platform provides, so adding one is adding one module.

A platform is mounted under ``/<name>`` and owns everything below that prefix. The shared
machinery (faults, rate limiting, the request log) talks to it only through this interface,
because each platform words its errors and rate-limit headers in its own way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

if TYPE_CHECKING:
    from emulator.faults import Fault
    from emulator.ratelimit import RateLimitResult
    from emulator.state import EmulatorState, MediaItem

# Every platform Herald targets; each has a sandbox account even before its module exists.
KNOWN_PLATFORMS: tuple[str, ...] = (
    "mastodon",
    "bluesky",
    "x",
    "linkedin",
    "facebook",
    "instagram",
    "threads",
    "tiktok",
)


class PlatformError(Exception):
    """An error answer already shaped as the platform would send it."""

    def __init__(
        self, status: int, body: dict[str, Any], headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body
        self.headers = dict(headers or {})


async def platform_error_handler(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, PlatformError)
    return JSONResponse(exc.body, status_code=exc.status, headers=exc.headers)


@dataclass(frozen=True)
class RequestInfo:
    """The parts of a request the shared middleware hands to a platform (path without prefix)."""

    method: str
    path: str
    query: str
    headers: Mapping[str, str]  # lower-cased names
    client_host: str


class PlatformEmulator:
    """Base class: override what the platform does differently."""

    name: str = ""

    def router(self) -> APIRouter:
        raise NotImplementedError

    def default_message(self, status: int) -> str:
        try:
            return HTTPStatus(status).phrase
        except ValueError:
            return f"HTTP {status}"

    def error_body(self, status: int, message: str | None = None) -> dict[str, Any]:
        return {"error": message or self.default_message(status)}

    def error(
        self, status: int, message: str | None = None, headers: Mapping[str, str] | None = None
    ) -> PlatformError:
        return PlatformError(status, self.error_body(status, message), headers)

    def fault_headers(self, state: EmulatorState, fault: Fault) -> dict[str, str]:
        """Headers of an injected error answer; a 429 says when to come back."""
        if fault.spec.status == 429 and fault.spec.retry_after is not None:
            return {"Retry-After": str(fault.spec.retry_after)}
        return {}

    def rate_limit(self, state: EmulatorState, request: RequestInfo) -> RateLimitResult | None:
        """Counts the request against the platform's limits; None when it is not limited."""
        return None

    def rate_limit_headers(self, result: RateLimitResult) -> dict[str, str]:
        return {}

    def rate_limited_error(self, result: RateLimitResult) -> PlatformError:
        return self.error(429, None, self.rate_limit_headers(result))

    def media_url(self, base_url: str, media: MediaItem) -> str:
        """Where the uploaded bytes are served (the platform router must serve this path)."""
        return f"{base_url.rstrip('/')}/{self.name}/media-files/{media.id}"


def split_platform_path(
    path: str, platforms: Mapping[str, PlatformEmulator]
) -> tuple[PlatformEmulator, str] | None:
    """('/mastodon/api/v1/statuses') → (mastodon, '/api/v1/statuses'); None off-platform."""
    first, _, rest = path.lstrip("/").partition("/")
    platform = platforms.get(first)
    if platform is None:
        return None
    return platform, "/" + rest
