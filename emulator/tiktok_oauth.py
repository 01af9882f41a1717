"""TikTok Login Kit (OAuth v2): ``GET /v2/auth/authorize/`` and ``POST /v2/oauth/token/``.

Authorize takes ``client_key``, ``scope`` (comma-separated), ``redirect_uri``, ``state``,
``response_type=code`` and, for PKCE, ``code_challenge`` with ``code_challenge_method=S256``;
it redirects to ``redirect_uri?code=...&scopes=...&state=...`` (or ``error`` and
``error_description``). The token endpoint takes a form (``client_key``, ``client_secret``,
``grant_type`` authorization_code with ``code``, ``redirect_uri``, ``code_verifier``, or
refresh_token with ``refresh_token``) and answers ``open_id, scope, access_token, expires_in,
refresh_token, refresh_expires_in, token_type``; failures are ``{"error", "error_description",
"log_id"}`` (developers.tiktok.com "OAuth Error Handling").

Deviations: the S256 challenge is the RFC 7636 base64url digest (TikTok's desktop guide hex-
encodes it); PKCE is optional, as for TikTok web apps; access tokens live
``tiktok_access_ttl_s`` (24 hours), refresh tokens ``oauth_refresh_ttl_s``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from emulator import oauth
from emulator.state import EmulatorState, state_of
from emulator.tiktok_common import PLATFORM, log_id

router = APIRouter()

_STATUS = {"invalid_client": 401, "unsupported_grant_type": 400}


def _oauth_error(state: EmulatorState, failure: oauth.OAuthFailure) -> JSONResponse:
    return JSONResponse(
        {
            "error": failure.error,
            "error_description": failure.description,
            "log_id": log_id(state),
        },
        status_code=_STATUS.get(failure.error, 400),
    )


@router.get("/v2/auth/authorize/")
async def authorize(request: Request) -> Response:
    state = state_of(request)
    query = request.query_params
    redirect_uri = query.get("redirect_uri")
    scopes = tuple(s for s in query.get("scope", "").split(",") if s)
    try:
        if query.get("client_key") != oauth.CLIENT_ID:
            raise oauth.OAuthFailure("invalid_client", "client_key is unknown")
        if not redirect_uri or not redirect_uri.startswith(("http://", "https://")):
            raise oauth.OAuthFailure("invalid_request", "redirect_uri must be an http(s) URL")
    except oauth.OAuthFailure as failure:
        # Without a usable client or redirect URI there is nowhere to send the user back.
        return _oauth_error(state, failure)
    assert redirect_uri is not None
    back: dict[str, str] = {}
    try:
        if query.get("response_type") != "code":
            raise oauth.OAuthFailure("unsupported_response_type", "response_type must be code")
        if not scopes:
            raise oauth.OAuthFailure("invalid_scope", "scope is required")
        code = oauth.authorize(
            state,
            PLATFORM,
            client_id=query.get("client_key"),
            redirect_uri=redirect_uri,
            code_challenge=query.get("code_challenge"),
            code_challenge_method=query.get("code_challenge_method"),
            scopes=scopes,
            username=query.get("emulator_username"),
            require_pkce=False,
        )
        back = {"code": code, "scopes": ",".join(scopes)}
    except oauth.OAuthFailure as failure:
        back = {"error": failure.error, "error_description": failure.description}
    if "state" in query:
        back["state"] = query["state"]
    separator = "&" if "?" in redirect_uri else "?"
    return RedirectResponse(f"{redirect_uri}{separator}{urlencode(back)}", status_code=302)


def _token_answer(state: EmulatorState, tokens: oauth.TokenSet) -> dict[str, Any]:
    # Login Kit access tokens live 24 hours, longer than the shared OAuth default.
    ttl = state.settings.tiktok_access_ttl_s
    state.oauth.access[tokens.access_token].expires_at = state.now() + timedelta(seconds=ttl)
    return {
        "open_id": tokens.account.id,
        "scope": ",".join(tokens.scopes),
        "access_token": tokens.access_token,
        "expires_in": ttl,
        "refresh_token": tokens.refresh_token,
        "refresh_expires_in": state.settings.oauth_refresh_ttl_s,
        "token_type": "Bearer",
    }


@router.post("/v2/oauth/token/")
async def token(request: Request) -> Response:
    state = state_of(request)
    form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
    grant_type = form.get("grant_type")
    try:
        if grant_type == "authorization_code":
            tokens = oauth.exchange_code(
                state,
                PLATFORM,
                code=form.get("code"),
                redirect_uri=form.get("redirect_uri"),
                code_verifier=form.get("code_verifier"),
                client_id=form.get("client_key"),
                client_secret=form.get("client_secret") or "",
            )
        elif grant_type == "refresh_token":
            tokens = oauth.refresh_tokens(
                state,
                PLATFORM,
                refresh_token=form.get("refresh_token"),
                client_id=form.get("client_key"),
                client_secret=form.get("client_secret") or "",
            )
        else:
            raise oauth.OAuthFailure(
                "unsupported_grant_type", "grant_type must be authorization_code or refresh_token"
            )
    except oauth.OAuthFailure as failure:
        return _oauth_error(state, failure)
    return JSONResponse(_token_answer(state, tokens))
