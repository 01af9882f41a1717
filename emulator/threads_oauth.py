"""Threads authorization (docs "Get Access Tokens", "Long-Lived Access Tokens"), on top of the
shared grant bookkeeping in emulator/oauth.py.

- ``GET /oauth/authorize?client_id&redirect_uri&scope&response_type=code&state`` (threads.net
  in production) approves at once and redirects with ``code`` and ``state``, the code
  followed by ``#_`` as the real window does; Threads has no PKCE, so ``code_challenge`` is
  ignored;
- ``POST /oauth/access_token`` (form: client_id, client_secret, code,
  grant_type=authorization_code, redirect_uri) answers a short-lived token (one hour)
  ``{"access_token", "user_id"}``; codes are single use;
- ``GET /access_token?grant_type=th_exchange_token&client_secret&access_token`` trades it for
  a long-lived token (60 days) ``{"access_token", "token_type": "bearer", "expires_in"}``;
- ``GET /refresh_access_token?grant_type=th_refresh_token&access_token`` renews a long-lived
  token for another 60 days; the old token keeps working until it expires.

Deviations: a refresh of a token younger than 24 hours answers the same token and its remaining
lifetime instead of an error (the docs do not say what happens); the fixed emulator tokens
count as long-lived tokens of any age; any valid token may be exchanged for a long-lived one.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from emulator import oauth
from emulator.oauth import IssuedToken, OAuthFailure
from emulator.platform import PlatformError
from emulator.state import Account, EmulatorState, state_of
from emulator.threads_common import (
    ACCESS_TOKEN,
    INVALID_PARAMETER,
    PLATFORM,
    graph_error,
    invalid_token,
    params_of,
    request_token,
)

router = APIRouter()
_ISSUED_AT = "issued_at"


def _failure(exc: OAuthFailure) -> PlatformError:
    """Graph's wording of the token endpoint's refusals."""
    description = exc.description
    if exc.error == "invalid_client":
        if "unknown client_id" in description:
            return graph_error("Error validating application. Invalid application ID.", 101)
        return graph_error("Error validating client secret.", 1)
    if exc.error == "invalid_grant":
        if "redirect_uri" in description:
            return graph_error(
                "Error validating verification code. Please make sure your redirect_uri is "
                "identical to the one you used in the OAuth dialog request",
                INVALID_PARAMETER,
                subcode=36008,
            )
        return graph_error(
            "This authorization code has been used, has expired or is invalid.",
            INVALID_PARAMETER,
            subcode=36009,
        )
    return graph_error(description, INVALID_PARAMETER)


@router.get("/oauth/authorize", response_model=None)
async def authorize(request: Request) -> Response:
    state = state_of(request)
    query = request.query_params
    redirect_uri = query.get("redirect_uri")
    scopes = tuple(s for s in (query.get("scope") or "").replace(" ", ",").split(",") if s)
    try:
        if query.get("response_type") != "code":
            raise OAuthFailure("invalid_request", "response_type must be code")
        if not scopes:
            raise OAuthFailure("invalid_scope", "scope is required")
        code = oauth.authorize(
            state,
            PLATFORM,
            client_id=query.get("client_id"),
            redirect_uri=redirect_uri,
            code_challenge=None,
            code_challenge_method=None,
            scopes=scopes,
            username=query.get("emulator_username"),
            require_pkce=False,
        )
    except OAuthFailure as exc:
        if not redirect_uri or not redirect_uri.startswith(("http://", "https://")):
            return JSONResponse(
                graph_error(exc.description, INVALID_PARAMETER).body, status_code=400
            )
        denied = {
            "error": exc.error,
            "error_reason": "user_denied" if exc.error == "access_denied" else exc.error,
            "error_description": exc.description,
        }
        if query.get("state"):
            denied["state"] = query["state"]
        return RedirectResponse(_with_query(redirect_uri, denied), status_code=302)
    answer = {"code": code}
    if query.get("state"):
        answer["state"] = query["state"]
    return RedirectResponse(_with_query(redirect_uri or "", answer) + "#_", status_code=302)


def _with_query(url: str, values: dict[str, str]) -> str:
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}{urlencode(values)}"


@router.post("/oauth/access_token")
async def access_token(request: Request) -> dict[str, Any]:
    state = state_of(request)
    params = await params_of(request)
    if params.get_str("grant_type") != "authorization_code":
        raise graph_error("grant_type must be authorization_code", INVALID_PARAMETER)
    try:
        tokens = oauth.exchange_code(
            state,
            PLATFORM,
            code=params.get_str("code"),
            redirect_uri=params.get_str("redirect_uri"),
            code_verifier=None,
            client_id=params.get_str("client_id"),
            client_secret=params.get_str("client_secret") or "",
        )
    except OAuthFailure as exc:
        raise _failure(exc) from exc
    # Threads issues no refresh token: the long-lived access token itself is refreshed.
    state.oauth.refresh.pop(tokens.refresh_token, None)
    _issued(state)[tokens.access_token] = state.now()
    return {"access_token": tokens.access_token, "user_id": int(tokens.account.id)}


def _issued(state: EmulatorState) -> dict[str, Any]:
    issued: dict[str, Any] = state.scratch(PLATFORM).setdefault(_ISSUED_AT, {})
    return issued


def _long_lived(state: EmulatorState, account: Account) -> dict[str, Any]:
    token = secrets.token_urlsafe(40)
    ttl = state.settings.threads_long_lived_ttl_s
    now = state.now()
    state.oauth.access[token] = IssuedToken(
        PLATFORM, account.id, now + timedelta(seconds=ttl), ("threads_basic",)
    )
    _issued(state)[token] = now
    return {"access_token": token, "token_type": "bearer", "expires_in": ttl}


def _valid_account(request: Request, token: str | None) -> Account:
    if not token:
        raise graph_error("access_token is required", INVALID_PARAMETER)
    account = state_of(request).account_by_token(PLATFORM, token)
    if account is None:
        raise invalid_token("Error validating access token: Session has expired or is invalid")
    return account


@router.get("/access_token")
@router.get("/v1.0/access_token")
async def exchange_token(request: Request) -> dict[str, Any]:
    state = state_of(request)
    params = await params_of(request)
    if params.get_str("grant_type") != "th_exchange_token":
        raise graph_error("Unsupported grant_type; expected th_exchange_token", INVALID_PARAMETER)
    try:
        oauth.check_client(oauth.CLIENT_ID, params.get_str("client_secret") or "")
    except OAuthFailure as exc:
        raise _failure(exc) from exc
    account = _valid_account(request, request_token(request, params))
    return _long_lived(state, account)


@router.get("/refresh_access_token")
@router.get("/v1.0/refresh_access_token")
async def refresh_token(request: Request) -> dict[str, Any]:
    state = state_of(request)
    params = await params_of(request)
    if params.get_str("grant_type") != "th_refresh_token":
        raise graph_error("Unsupported grant_type; expected th_refresh_token", INVALID_PARAMETER)
    token = request_token(request, params)
    account = _valid_account(request, token)
    assert token is not None
    issued = state.oauth.access.get(token)
    if issued is None:  # a fixed emulator token: as old as needed
        return _long_lived(state, account)
    now = state.now()
    issued_at = _issued(state).get(token, now)
    if issued.expires_at - issued_at < timedelta(days=1):
        raise graph_error("Short-lived tokens cannot be refreshed", ACCESS_TOKEN)
    age = now - issued_at
    if age < timedelta(seconds=state.settings.threads_refresh_min_age_s):
        remaining = int((issued.expires_at - now).total_seconds())
        return {"access_token": token, "token_type": "bearer", "expires_in": remaining}
    return _long_lived(state, account)
