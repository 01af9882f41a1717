"""What the TikTok routes share: the response envelope, error bodies and user-token auth.

TikTok API v2 answers every call with ``{"data": {...}, "error": {"code": "ok", "message": "",
"log_id": "..."}}``; a failure carries the same ``error`` struct with a readable code and the
HTTP status TikTok documents for it (developers.tiktok.com "Error Handling"):
``access_token_invalid`` and ``scope_not_authorized`` 401, ``invalid_params`` 400,
``rate_limit_exceeded`` 429, ``internal_error`` 500. The Content Posting reference adds its own
codes (``invalid_param``, ``spam_risk_too_many_posts``, ``privacy_level_option_mismatch`` ...).
An injected 403 fault says ``access_denied`` (TikTok has no generic 403 code).
"""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import Depends, Request

from emulator.platform import PlatformError
from emulator.state import Account, EmulatorState, state_of

PLATFORM = "tiktok"

_CODE_BY_STATUS = {
    400: "invalid_params",
    401: "access_token_invalid",
    403: "access_denied",
    404: "invalid_params",
    429: "rate_limit_exceeded",
}
_MESSAGE_BY_CODE = {
    "invalid_params": "One or more fields in request is invalid.",
    "access_token_invalid": "The access token is invalid or not found in the request.",
    "rate_limit_exceeded": "The API rate limit was exceeded. Please try again later.",
    "internal_error": "Something went wrong. Please try again later.",
}


def log_id(state: EmulatorState) -> str:
    """Like TikTok's: the UTC time to the second, then random hex (34 characters)."""
    return state.now().strftime("%Y%m%d%H%M%S") + secrets.token_hex(10).upper()


def error_struct(state: EmulatorState | None, code: str, message: str | None) -> dict[str, Any]:
    stamp = log_id(state) if state else secrets.token_hex(17).upper()
    return {"code": code, "message": message or _MESSAGE_BY_CODE.get(code, code), "log_id": stamp}


def code_for_status(status: int) -> str:
    return _CODE_BY_STATUS.get(status, "internal_error" if status >= 500 else "invalid_params")


def tiktok_error(
    state: EmulatorState | None, status: int, code: str, message: str | None = None
) -> PlatformError:
    return PlatformError(status, {"error": error_struct(state, code, message)})


def invalid(state: EmulatorState, message: str, code: str = "invalid_params") -> PlatformError:
    return tiktok_error(state, 400, code, message)


def ok(state: EmulatorState, data: dict[str, Any]) -> dict[str, Any]:
    return {"data": data, "error": {"code": "ok", "message": "", "log_id": log_id(state)}}


def bearer_token(authorization: str) -> str | None:
    scheme, _, credential = authorization.strip().partition(" ")
    if scheme.lower() == "bearer" and credential.strip():
        return credential.strip()
    return None


def user_account(request: Request) -> Account:
    """``Authorization: Bearer <user access token>`` (the emulator account's token or one issued
    through OAuth); anything else is ``access_token_invalid`` (401)."""
    state = state_of(request)
    token = bearer_token(request.headers.get("authorization", ""))
    account = state.account_by_token(PLATFORM, token) if token else None
    if account is None:
        raise tiktok_error(state, 401, "access_token_invalid")
    return account


Me = Annotated[Account, Depends(user_account)]


async def json_object(request: Request) -> dict[str, Any]:
    state = state_of(request)
    try:
        body = await request.json()
    except ValueError:
        raise invalid(state, "The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise invalid(state, "The request body must be a JSON object.")
    return body


def utf16_length(text: str) -> int:
    """TikTok counts title lengths in UTF-16 runes."""
    return len(text.encode("utf-16-le")) // 2
