"""Calls to X API v2 as a user (OAuth 2.0 bearer token) and the mapping of its errors.

X answers errors as problem details (``{"title", "detail", "type", "status"}``), as validation
failures (``{"errors": [{"message", "parameters"}], "title": "Invalid Request", "detail":
"One or more parameters to your request was invalid.", "type": ".../invalid-request"}``), or in
the v1.1 shape (``{"errors": [{"message", "code"}]}``). The most specific message is kept: an
``errors`` entry's own message, else ``detail``, else ``title``. The OAuth token endpoint
answers ``{"error", "error_description"}``. Rate limits are 15-minute
windows whose end ``x-rate-limit-reset`` names in epoch seconds.
"""

from __future__ import annotations

from typing import Any

import httpx

from platforms.base import (
    AccountContext,
    AuthExpired,
    Duplicate,
    PlatformApp,
    PlatformError,
    RateLimited,
    Rejected,
    Transient,
)
from platforms.http import json_object, retry_after_seconds, send, transport_error

DUPLICATE_MARKER = "duplicate content"


def error_parts(response: httpx.Response) -> tuple[str, str | None]:
    """The platform's message and a code: the problem type's last segment or the v1.1 code."""
    body = json_object(response)
    if body is None:
        return f"HTTP {response.status_code}", None
    errors = body.get("errors")
    first = errors[0] if isinstance(errors, list) and errors else None
    message = ""
    code: str | None = None
    if isinstance(first, dict):
        message = str(first.get("message") or first.get("detail") or "")
        if first.get("code") is not None:
            code = str(first["code"])
    for key in ("detail", "error_description", "title", "error"):
        if not message and isinstance(body.get(key), str):
            message = str(body[key])
    problem_type = body.get("type")
    if code is None and isinstance(problem_type, str) and problem_type != "about:blank":
        code = problem_type.rstrip("/").rsplit("/", 1)[-1]
    if code is None and isinstance(body.get("title"), str):
        code = str(body["title"])
    if code is None and isinstance(body.get("error"), str):
        code = str(body["error"])
    return message or f"HTTP {response.status_code}", code


def classify(response: httpx.Response) -> PlatformError:
    message, code = error_parts(response)
    status = response.status_code
    if status == 429:
        return RateLimited(
            message, retry_after_seconds(response, "x-rate-limit-reset"), code=code, status=status
        )
    if status == 401:
        return AuthExpired(message, code=code, status=status)
    if status >= 500 or status in (408, 425):
        return Transient(message, code=code, status=status)
    if status == 403 and DUPLICATE_MARKER in message.lower():
        return Duplicate(message, code=code, status=status)
    return Rejected(message, code=code, status=status)


class XApi:
    def __init__(self, http: httpx.AsyncClient, app: PlatformApp) -> None:
        self.http = http
        self.app = app

    async def call(
        self, account: AccountContext, method: str, path: str, **kwargs: Any
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {account.credentials['access_token']}"}
        headers.update(kwargs.pop("headers", {}))
        url = self.app.api_url.rstrip("/") + path
        try:
            response = await send(
                self.http, method, url, repeatable=method == "GET", headers=headers, **kwargs
            )
        except httpx.HTTPError as exc:
            raise transport_error(exc) from exc
        if not response.is_success:
            raise classify(response)
        if not response.content:
            return {}
        try:
            body = response.json()
        except ValueError as exc:
            raise Transient(f"X answered {response.status_code} without JSON") from exc
        return body if isinstance(body, dict) else {}
