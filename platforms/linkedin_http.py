"""Calls to LinkedIn's versioned REST API and the mapping of its errors onto the taxonomy.

Every ``/rest`` call names the API version (``LinkedIn-Version: YYYYMM``) and the Rest.li
protocol (``X-Restli-Protocol-Version: 2.0.0``); URNs in paths and query strings are
percent-encoded, as protocol 2.0 requires.

Errors come as ``{"status", "serviceErrorCode", "code", "message"}`` or, for content,
``{"message", "errorDetails": {"inputErrors": [{"code", "description"}]}, "status"}``.
LinkedIn's own throttling is a daily quota (reset at midnight UTC) answered 429 without
headers; a Retry-After, when present, is honoured.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

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

# A version LinkedIn keeps active for a year from its release (May 2026).
API_VERSION = "202605"
# LinkedIn refuses the same commentary posted again (422, in errorDetails.inputErrors).
DUPLICATE_CODE = "DUPLICATE_POST"


def encoded(urn: str) -> str:
    return quote(urn, safe="")


def error_parts(response: httpx.Response) -> tuple[str, str | None]:
    """The platform's message and its most specific code."""
    body = json_object(response)
    if body is None:
        return f"HTTP {response.status_code}", None
    message = str(body.get("message") or body.get("error_description") or "")
    code: Any = body.get("code") or body.get("error")
    inputs = (body.get("errorDetails") or {}).get("inputErrors") or []
    if inputs and isinstance(inputs[0], dict) and inputs[0].get("code"):
        code = inputs[0]["code"]
    if code is None and body.get("serviceErrorCode") is not None:
        code = body["serviceErrorCode"]
    return message or f"HTTP {response.status_code}", None if code is None else str(code)


def classify(response: httpx.Response) -> PlatformError:
    message, code = error_parts(response)
    status = response.status_code
    if status == 429:
        return RateLimited(message, retry_after_seconds(response), code=code)
    if status == 401:
        return AuthExpired(message, code=code, status=status)
    if status >= 500 or status in (408, 425):
        return Transient(message, code=code, status=status)
    if code == DUPLICATE_CODE:
        return Duplicate(message, code=code, status=status)
    return Rejected(message, code=code, status=status)


class LinkedInApi:
    def __init__(self, http: httpx.AsyncClient, app: PlatformApp) -> None:
        self.http = http
        self.app = app

    def url(self, path: str) -> str:
        return self.app.api_url.rstrip("/") + path

    async def call(
        self, account: AccountContext, method: str, path: str, **kwargs: Any
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {account.credentials['access_token']}"}
        if path.startswith("/rest/"):  # the unversioned /v2 endpoints take no version
            headers["LinkedIn-Version"] = API_VERSION
            headers["X-Restli-Protocol-Version"] = "2.0.0"
        headers.update(kwargs.pop("headers", {}))
        return await self.send(method, self.url(path), headers=headers, **kwargs)

    async def json(
        self, account: AccountContext, method: str, path: str, **kwargs: Any
    ) -> dict[str, Any]:
        response = await self.call(account, method, path, **kwargs)
        if not response.content:
            return {}
        answer: dict[str, Any] = response.json()
        return answer

    async def send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            response = await send(
                self.http, method, url, repeatable=method in ("GET", "PUT"), **kwargs
            )
        except httpx.HTTPError as exc:
            raise transport_error(exc) from exc
        if not response.is_success:
            raise classify(response)
        return response
