"""What the Facebook and Instagram routes share: the Graph API version, error bodies
(developers.facebook.com "Graph API > Handling Errors"), token lookup and cursor paging.

Errors: ``{"error": {"message", "type", "code", "error_subcode"?, "fbtrace_id"}}``. Graph
answers most refusals, including an invalid or expired token (``OAuthException`` code 190),
with HTTP 400; the meaning is in ``code``.
"""

from __future__ import annotations

import base64
import json
import secrets
from datetime import UTC, datetime
from typing import Any

from fastapi import Request

from emulator.forms import MalformedBody, Params, read_params
from emulator.platform import PlatformError

GRAPH_VERSION = "v26.0"
INVALID_PARAMETER = 100
ACCESS_TOKEN = 190
TOO_MANY_CALLS = 4
UNKNOWN = 1
SERVICE = 2


def fbtrace_id() -> str:
    return secrets.token_urlsafe(8)[:11]


def graph_body(
    message: str,
    code: int,
    *,
    type_: str = "OAuthException",
    subcode: int | None = None,
    transient: bool | None = None,
) -> dict[str, Any]:
    error: dict[str, Any] = {"message": message, "type": type_, "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    if transient is not None:
        error["is_transient"] = transient
    error["fbtrace_id"] = fbtrace_id()
    return {"error": error}


def graph_error(
    message: str, code: int = INVALID_PARAMETER, status: int = 400, **extra: Any
) -> PlatformError:
    return PlatformError(status, graph_body(message, code, **extra))


def invalid_token(
    message: str = "Invalid OAuth access token - Cannot parse access token",
) -> PlatformError:
    return PlatformError(
        400,
        graph_body(message, ACCESS_TOKEN),
        {"WWW-Authenticate": f'OAuth "Facebook Platform" "invalid_token" "{message}"'},
    )


def missing_object(object_id: str, method: str = "get") -> PlatformError:
    return graph_error(
        f"Unsupported {method} request. Object with ID '{object_id}' does not exist, cannot be "
        "loaded due to missing permissions, or does not support this operation.",
        INVALID_PARAMETER,
        type_="GraphMethodException",
        subcode=33,
    )


def error_body_for_status(status: int, message: str | None) -> dict[str, Any]:
    """The Graph error an injected fault of this HTTP status stands for."""
    if status == 401:
        return graph_body(message or "Error validating access token: Session has expired", 190)
    if status == 403:
        return graph_body(message or "(#10) Application does not have permission", 10)
    if status == 404:
        return graph_body(message or "Unsupported request.", 100, subcode=33)
    if status == 429:
        return graph_body(message or "(#4) Application request limit reached", 4, transient=True)
    if status >= 500:
        if status == 500:
            return graph_body(message or "An unknown error has occurred.", UNKNOWN, transient=True)
        return graph_body(
            message or "An unexpected error has occurred. Please retry your request later.",
            SERVICE,
            transient=True,
        )
    return graph_body(message or "Invalid parameter", INVALID_PARAMETER)


def app_usage_header(call_count: int = 100) -> dict[str, str]:
    """X-App-Usage as Graph sends it: percentages of the app's hourly budget."""
    usage = {"call_count": call_count, "total_cputime": 0, "total_time": 0}
    return {"X-App-Usage": json.dumps(usage)}


async def params_of(request: Request) -> Params:
    """Query string merged with a form, multipart or JSON body; read once per request."""
    cached: Params | None = getattr(request.state, "graph_params", None)
    if cached is not None:
        return cached
    try:
        params = await read_params(request)
    except MalformedBody as exc:
        raise graph_error(f"(#100) The request body could not be parsed: {exc}") from exc
    request.state.graph_params = params
    return params


def request_token(request: Request, params: Params) -> str | None:
    scheme, _, credential = request.headers.get("authorization", "").strip().partition(" ")
    if scheme.lower() in ("bearer", "oauth") and credential.strip():
        return credential.strip()
    return params.get_str("access_token")


def graph_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def encode_cursor(value: str) -> str:
    return base64.urlsafe_b64encode(value.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str | None:
    try:
        return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        return None
