"""What the Threads routes share: Graph-style errors, token auth, parameters, text length.

Errors follow the Graph API's shape (developers.facebook.com "Handling Errors"):
``{"error": {"message", "type", "code", "error_subcode"?, "error_user_msg"?, "fbtrace_id"}}``,
answered with HTTP 400 like graph.threads.net does for most refusals, including an invalid or
expired token (``OAuthException`` code 190).

Credentials: ``Authorization: Bearer <token>`` (or ``OAuth <token>``), or an ``access_token``
query / form parameter, as the Graph API accepts. The token is the account's fixed emulator
token or one issued through the emulated OAuth flow (emulator/threads_oauth.py).
"""

from __future__ import annotations

import base64
import secrets
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Request

from emulator.forms import MalformedBody, Params, read_params
from emulator.platform import PlatformError
from emulator.state import Account, state_of

PLATFORM = "threads"
GRAPH_VERSION = "v1.0"
PARAMS_KEY = "threads.params"

# Graph error codes used here (Graph API "Handling Errors"; Threads publishing docs).
INVALID_PARAMETER = 100
ACCESS_TOKEN = 190
TOO_MANY_CALLS = 4
USER_TOO_MANY_CALLS = 17
PERMISSION = 10
UNKNOWN = 1
SERVICE = 2
UNKNOWN_PATH = 2500
NOT_READY = 9007


def fbtrace_id() -> str:
    return secrets.token_urlsafe(8)[:11]


def graph_body(
    message: str,
    code: int,
    *,
    type_: str = "OAuthException",
    subcode: int | None = None,
    user_title: str | None = None,
    user_msg: str | None = None,
    transient: bool | None = None,
) -> dict[str, Any]:
    error: dict[str, Any] = {"message": message, "type": type_, "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    if transient is not None:
        error["is_transient"] = transient
    if user_title is not None:
        error["error_user_title"] = user_title
    if user_msg is not None:
        error["error_user_msg"] = user_msg
    error["fbtrace_id"] = fbtrace_id()
    return {"error": error}


def graph_error(
    message: str,
    code: int = INVALID_PARAMETER,
    status: int = 400,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> PlatformError:
    return PlatformError(status, graph_body(message, code, **extra), headers)


def invalid_parameter(user_msg: str, subcode: int | None = None) -> PlatformError:
    return graph_error("Invalid parameter", INVALID_PARAMETER, subcode=subcode, user_msg=user_msg)


def missing_object(object_id: str, method: str = "get") -> PlatformError:
    return graph_error(
        f"Unsupported {method} request. Object with ID '{object_id}' does not exist, cannot be "
        "loaded due to missing permissions, or does not support this operation.",
        INVALID_PARAMETER,
        type_="GraphMethodException",
        subcode=33,
    )


def invalid_token(
    message: str = "Invalid OAuth access token - Cannot parse access token",
) -> PlatformError:
    return graph_error(
        message,
        ACCESS_TOKEN,
        headers={"WWW-Authenticate": f'OAuth "Facebook Platform" "invalid_token" "{message}"'},
    )


async def params_of(request: Request) -> Params:
    """Query string merged with a form or JSON body (Graph takes parameters in either); read
    once per request."""
    cached: Params | None = getattr(request.state, "threads_params", None)
    if cached is not None:
        return cached
    try:
        params = await read_params(request)
    except MalformedBody as exc:
        raise invalid_parameter(f"The request body could not be parsed: {exc}") from exc
    request.state.threads_params = params
    return params


def request_token(request: Request, params: Params | None = None) -> str | None:
    scheme, _, credential = request.headers.get("authorization", "").strip().partition(" ")
    if scheme.lower() in ("bearer", "oauth") and credential.strip():
        return credential.strip()
    if params is not None:
        return params.get_str("access_token")
    return request.query_params.get("access_token")


async def token_account(request: Request) -> Account:
    params = await params_of(request)
    token = request_token(request, params)
    if not token:
        raise graph_error(
            "An active access token must be used to query information about the current user.",
            2500,
        )
    account = state_of(request).account_by_token(PLATFORM, token)
    if account is None:
        raise invalid_token()
    return account


Me = Annotated[Account, Depends(token_account)]


def resolve_user(me: Account, user_id: str) -> None:
    """The path's user must be the token's own (``me`` is its alias): the Threads API only
    serves the app-scoped user."""
    if user_id not in ("me", me.id):
        raise missing_object(user_id)


def graph_time(moment: datetime) -> str:
    """Graph timestamps: ``2024-04-15T14:30:00+0000``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


_SHORTCODE_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def shortcode(media_id: str) -> str:
    """Instagram-style shortcode: the numeric id in base 64 (URL alphabet)."""
    number = int(media_id)
    out = ""
    while number:
        number, rest = divmod(number, 64)
        out = _SHORTCODE_ALPHABET[rest] + out
    return out or "A"


def encode_cursor(media_id: str) -> str:
    return base64.urlsafe_b64encode(media_id.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str | None:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    return raw if raw.isdigit() else None


def _is_emoji(code: int) -> bool:
    return (
        code >= 0x1F000
        or 0x2190 <= code <= 0x21FF
        or 0x2300 <= code <= 0x23FF
        or 0x2600 <= code <= 0x27BF
        or 0x2B00 <= code <= 0x2BFF
        or code in (0x200D, 0xFE0F, 0x20E3, 0x00A9, 0x00AE, 0x203C, 0x2049, 0x2122, 0x3030)
    )


def threads_length(text: str) -> int:
    """Length as the Threads docs count it: one per character, but emoji code points (and
    the joiners and selectors that build emoji sequences) count as their UTF-8 bytes."""
    return sum(len(ch.encode()) if _is_emoji(ord(ch)) else 1 for ch in text)
