"""What the X routes share: error bodies, OAuth 2 user-token auth, snowflake ids.

X API v2 answers errors in two shapes (docs.x.com "Error responses"):

* problem JSON (RFC 7807) for request-level failures, e.g. 401
  ``{"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"}``
  and 403 ``{"detail": "You are not allowed to create a Tweet with duplicate content.", ...}``;
* validation failures as 400 ``{"errors": [{"parameters": {...}, "message": "..."}],
  "title": "Invalid Request", "detail": "One or more parameters to your request was invalid.",
  "type": "https://api.x.com/2/problems/invalid-request"}``;

and "partial errors" (a resource not found) inside a 200 answer's ``errors`` array.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated, Any

from fastapi import Depends, Request

from emulator.platform import PlatformError
from emulator.state import Account, EmulatorState, state_of

PLATFORM = "x"
# X's snowflake epoch (2010-11-04T01:42:54.657Z).
TWEPOCH_MS = 1288834974657
PROBLEMS = "https://api.x.com/2/problems"


def problem(status: int, detail: str | None = None, title: str | None = None) -> PlatformError:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    return PlatformError(
        status,
        {
            "title": title or phrase,
            "detail": detail or phrase,
            "type": "about:blank",
            "status": status,
        },
    )


def problem_body(status: int, detail: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = problem(status, detail).body
    return body


def invalid_request(message: str, parameters: dict[str, list[str]] | None = None) -> PlatformError:
    return PlatformError(
        400,
        {
            "errors": [{"parameters": parameters or {}, "message": message}],
            "title": "Invalid Request",
            "detail": "One or more parameters to your request was invalid.",
            "type": f"{PROBLEMS}/invalid-request",
        },
    )


def not_found_error(resource_type: str, value: str, parameter: str = "id") -> dict[str, Any]:
    """A v2 partial error: the resource is missing, the request itself was fine."""
    return {
        "value": value,
        "detail": f"Could not find {resource_type} with {parameter}: [{value}].",
        "title": "Not Found Error",
        "resource_type": resource_type,
        "parameter": parameter,
        "resource_id": value,
        "type": f"{PROBLEMS}/resource-not-found",
    }


def bearer_token(authorization: str) -> str | None:
    scheme, _, credential = authorization.strip().partition(" ")
    if scheme.lower() == "bearer" and credential.strip():
        return credential.strip()
    return None


def user_account(request: Request) -> Account:
    """OAuth 2.0 user context: ``Authorization: Bearer <user access token>``."""
    token = bearer_token(request.headers.get("authorization", ""))
    account = state_of(request).account_by_token(PLATFORM, token) if token else None
    if account is None:
        raise problem(401, "Unauthorized")
    return account


Me = Annotated[Account, Depends(user_account)]


def next_id(state: EmulatorState) -> str:
    """X snowflakes: milliseconds since the twepoch shifted left 22 bits, plus a sequence
    (19 digits today, e.g. "1880028106020515840"). Shared by Tweets and media."""
    data = state.scratch(PLATFORM)
    candidate = (int(state.now().timestamp() * 1000) - TWEPOCH_MS) << 22
    last: int = max(candidate, data.get("last_id", 0) + 1)
    data["last_id"] = last
    return str(last)


def numeric_id(value: str, name: str = "id") -> str:
    if not value.isdigit() or not 1 <= len(value) <= 19:
        raise invalid_request(
            f"The `{name}` query parameter value [{value}] does not match ^[0-9]{{1,19}}$",
            {name: [value]},
        )
    return value
