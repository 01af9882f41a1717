"""What the Meta adapters (Facebook, Instagram, Threads) share: Graph error classification (errors carry
their meaning in ``code``, most arrive as HTTP 400), the usage headers' back-off hint, calls as
a token and to the token endpoints, and the long-lived tokens of Instagram Login and Threads.

developers.facebook.com "Graph API > Handling Errors" and "Rate Limiting": 190 (and 102) is an
invalid or expired token; 4, 17, 32, 613 and 80001-80014 are throttling; 1 and 2 are
temporary; ``is_transient`` marks others worth retrying; everything else is a refusal.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from platforms.base import (
    AuthExpired,
    Duplicate,
    OAuthGrant,
    PlatformApp,
    PlatformError,
    RateLimited,
    Rejected,
    Transient,
)
from platforms.http import json_object, retry_after_seconds, send, transport_error
from platforms.oauth import expires_after

GRAPH_VERSION = "v26.0"
RATE_LIMIT_CODES = frozenset({4, 17, 32, 613, *range(80001, 80015)})
TOKEN_CODES = frozenset({190, 102})
TRANSIENT_CODES = frozenset({1, 2})
# "Duplicate status message": the Page already holds this text.
DUPLICATE_CODE = 506


def graph_error(response: httpx.Response) -> dict[str, Any]:
    error = (json_object(response) or {}).get("error")
    return error if isinstance(error, dict) else {}


def usage_retry_after(response: httpx.Response) -> float | None:
    """X-Business-Use-Case-Usage names the minutes until access returns when throttled."""
    raw = response.headers.get("x-business-use-case-usage")
    if not raw:
        return None
    try:
        usage = json.loads(raw)
    except ValueError:
        return None
    minutes = [
        entry.get("estimated_time_to_regain_access")
        for entries in (usage.values() if isinstance(usage, dict) else [])
        if isinstance(entries, list)
        for entry in entries
        if isinstance(entry, dict)
    ]
    waits = [float(m) for m in minutes if isinstance(m, int | float) and m > 0]
    return max(waits) * 60 if waits else None


def classify(
    response: httpx.Response, transient_codes: frozenset[int] = TRANSIENT_CODES
) -> PlatformError:
    """Graph errors carry their meaning in ``code``, not the HTTP status (most are 400);
    `transient_codes` adds an API's own retryable codes (Threads: 9007, media not ready)."""
    error = graph_error(response)
    status = response.status_code
    code = error.get("code")
    subcode = error.get("error_subcode")
    label = None if code is None else f"{code}/{subcode}" if subcode else str(code)
    message = str(error.get("message") or f"HTTP {status}")
    if error.get("error_user_msg"):
        message = f"{message}: {error['error_user_msg']}"
    if status == 429 or code in RATE_LIMIT_CODES:
        retry = retry_after_seconds(response) or usage_retry_after(response)
        return RateLimited(message, retry, code=label, status=status)
    if code in TOKEN_CODES or status == 401:
        return AuthExpired(message, code=label, status=status)
    if status >= 500 or status in (408, 425) or code in transient_codes:
        return Transient(message, code=label, status=status)
    if error.get("is_transient") is True:
        return Transient(message, code=label, status=status)
    if code == DUPLICATE_CODE:
        return Duplicate(message, code=label, status=status)
    return Rejected(message, code=label, status=status)


async def paged(
    fetch: Callable[[dict[str, Any]], Awaitable[dict[str, Any]]],
    params: dict[str, Any],
    pages: int,
) -> list[dict[str, Any]]:
    """The ``data`` of up to `pages` answers of `fetch` (given the query), newest first,
    following ``paging.cursors.after`` while there is a next page."""
    found: list[dict[str, Any]] = []
    for _ in range(pages):
        answer = await fetch(params)
        found += [p for p in answer.get("data") or [] if isinstance(p, dict)]
        paging = answer.get("paging") or {}
        after = (paging.get("cursors") or {}).get("after")
        if not paging.get("next") or not after:
            break
        params = {**params, "after": after}
    return found


async def call(
    http: httpx.AsyncClient,
    method: str,
    url: str,
    token: str,
    *,
    transient_codes: frozenset[int] = TRANSIENT_CODES,
    **kwargs: Any,
) -> dict[str, Any]:
    """A Graph call as `token`; reads are repeated on a 5xx or a dropped connection."""
    try:
        response = await send(
            http,
            method,
            url,
            repeatable=method == "GET",
            headers={"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})},
            **kwargs,
        )
    except httpx.HTTPError as exc:
        raise transport_error(exc) from exc
    if response.is_success:
        answer: dict[str, Any] = response.json()
        return answer
    raise classify(response, transient_codes)


async def token_call(
    http: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    transient_codes: frozenset[int] = TRANSIENT_CODES,
    **kwargs: Any,
) -> dict[str, Any]:
    """A call to a token endpoint: the app's credentials are in the query or form, and it is
    never repeated (a code is single-use)."""
    try:
        response = await http.request(method, url, **kwargs)
    except httpx.HTTPError as exc:
        raise transport_error(exc) from exc
    if not response.is_success:
        raise classify(response, transient_codes)
    answer: dict[str, Any] = response.json()
    return answer


async def long_lived_grant(
    http: httpx.AsyncClient,
    app: PlatformApp,
    code: str,
    redirect_uri: str,
    *,
    name: str,
    prefix: str,
    root: str,
    transient_codes: frozenset[int] = TRANSIENT_CODES,
) -> OAuthGrant:
    """Instagram Login and Threads: the code buys a one-hour token, traded at once for a 60-day
    one (``{prefix}_exchange_token`` at `root`, the unversioned API root)."""
    if not app.token_url or not app.client_id or not app.client_secret:
        raise Rejected(f"no {name} app is configured (client id, secret and token URL)")
    short = await token_call(
        http,
        "POST",
        app.token_url,
        transient_codes=transient_codes,
        data={
            "client_id": app.client_id,
            "client_secret": app.client_secret,
            "grant_type": "authorization_code",
            "redirect_uri": redirect_uri,
            # The callback's code may carry the fragment Meta appends to the redirect.
            "code": code.removesuffix("#_"),
        },
    )
    long_lived = await token_call(
        http,
        "GET",
        f"{root}/access_token",
        transient_codes=transient_codes,
        params={
            "grant_type": f"{prefix}_exchange_token",
            "client_secret": app.client_secret,
            "access_token": str(short["access_token"]),
        },
    )
    credentials = {"access_token": str(long_lived["access_token"])}
    if short.get("user_id") is not None:
        credentials["user_id"] = str(short["user_id"])
    return OAuthGrant(credentials, expires_after(long_lived.get("expires_in")))


async def refreshed_grant(
    http: httpx.AsyncClient,
    credentials: dict[str, Any],
    *,
    prefix: str,
    root: str,
    transient_codes: frozenset[int] = TRANSIENT_CODES,
) -> OAuthGrant:
    """A valid long-lived token buys a new one (``{prefix}_refresh_token``)."""
    renewed = await token_call(
        http,
        "GET",
        f"{root}/refresh_access_token",
        transient_codes=transient_codes,
        params={
            "grant_type": f"{prefix}_refresh_token",
            "access_token": str(credentials["access_token"]),
        },
    )
    fresh = {**credentials, "access_token": str(renewed["access_token"])}
    return OAuthGrant(fresh, expires_after(renewed.get("expires_in")))


def insight_values(answer: dict[str, Any]) -> dict[str, Any]:
    """An insights answer's numbers by metric name: ``values[0].value`` for lifetime metrics,
    ``total_value.value`` for totals (Threads user insights); a dict value (reactions by type)
    is kept as it came."""
    found: dict[str, Any] = {}
    for metric in answer.get("data") or []:
        if not isinstance(metric, dict) or not isinstance(metric.get("name"), str):
            continue
        values = metric.get("values") or []
        if isinstance(metric.get("total_value"), dict):
            found[metric["name"]] = metric["total_value"].get("value")
        elif values and isinstance(values[0], dict):
            found[metric["name"]] = values[-1].get("value")
    return found
