"""The one exception the client raises: Herald's error shape, or the client's own reason."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

# Codes the client itself gives, beside the contract's (VALIDATION_ERROR, NOT_FOUND, ...).
CONNECTION_ERROR = "CONNECTION_ERROR"  # no answer after every retry
INVALID_RESPONSE = "INVALID_RESPONSE"  # an answer that is not Herald's shape


@dataclass(frozen=True)
class ErrorDetail:
    path: str
    message: str


class HeraldAPIError(Exception):
    """An answer of 4xx/5xx in the contract's `{"error": {...}}` shape, or no usable answer.

    `status` is the HTTP status (None when nothing answered), `code` the contract's error code
    (`VALIDATION_ERROR`, `RATE_LIMITED`, ...) or one of the client's own (`CONNECTION_ERROR`,
    `INVALID_RESPONSE`), `details` each problem's path and message, `request_id` the id to quote
    when asking about it.
    """

    def __init__(
        self,
        code: str,
        message: str,
        *,
        status: int | None = None,
        details: tuple[ErrorDetail, ...] = (),
        request_id: str | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}" + (f" ({request_id})" if request_id else ""))
        self.code = code
        self.message = message
        self.status = status
        self.details = details
        self.request_id = request_id

    @classmethod
    def from_response(cls, response: httpx.Response) -> HeraldAPIError:
        request_id = response.headers.get("x-request-id")
        try:
            body: Any = response.json()
            error = body["error"]
            details = tuple(
                ErrorDetail(str(d.get("path", "")), str(d.get("message", "")))
                for d in error.get("details") or ()
            )
            return cls(
                str(error["code"]),
                str(error.get("message", "")),
                status=response.status_code,
                details=details,
                request_id=str(error.get("request_id") or request_id or "") or None,
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            return cls(
                INVALID_RESPONSE,
                f"HTTP {response.status_code}: {response.text[:200]}",
                status=response.status_code,
                request_id=request_id,
            )
