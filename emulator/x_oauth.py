"""X's OAuth 2.0 Authorization Code Flow with PKCE (docs.x.com "OAuth 2.0 Authorization Code
Flow with PKCE", "OAuth 2.0 Making requests on behalf of users"), on top of the shared grant
bookkeeping in emulator/oauth.py.

- ``GET /i/oauth2/authorize?response_type=code&client_id&redirect_uri&scope&state&
  code_challenge&code_challenge_method`` (scopes space-separated, PKCE required) approves at
  once and redirects with ``state`` and ``code``;
- ``POST /2/oauth2/token`` (form: ``grant_type=authorization_code``, ``code``,
  ``redirect_uri``, ``code_verifier``; or ``grant_type=refresh_token``, ``refresh_token``)
  answers ``{"token_type": "bearer", "expires_in", "access_token", "scope", "refresh_token"}``.
  A confidential client authenticates with HTTP Basic (client id and secret); a public client
  names ``client_id`` in the form. The refresh token is issued only with ``offline.access`` and
  is rotated by every refresh (the old one stops working).

Deviations: access tokens live ``oauth_access_ttl_s`` of emulator clock (X: two hours); any
http(s) redirect URI is accepted; the consent page is skipped.
"""

from __future__ import annotations

import base64
import binascii
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from emulator import oauth
from emulator.oauth import OAuthFailure, TokenSet
from emulator.state import state_of
from emulator.x_common import PLATFORM

router = APIRouter()

SCOPES = frozenset(
    {
        "tweet.read",
        "tweet.write",
        "tweet.moderate.write",
        "users.email",
        "users.read",
        "follows.read",
        "follows.write",
        "offline.access",
        "space.read",
        "mute.read",
        "mute.write",
        "like.read",
        "like.write",
        "list.read",
        "list.write",
        "block.read",
        "block.write",
        "bookmark.read",
        "bookmark.write",
        "media.write",
    }
)
# X's own wording at the token endpoint.
INVALID_CODE = "Value passed for the authorization code was invalid."
INVALID_TOKEN = "Value passed for the token was invalid."
INVALID_VERIFIER = "Value passed for the code verifier was invalid."
INVALID_GRANT_TYPE = "Value passed for the grant type was invalid."
MISSING_AUTH = "Missing valid authorization header"


def _with_query(url: str, values: dict[str, str]) -> str:
    return f"{url}{'&' if '?' in url else '?'}{urlencode(values)}"


@router.get("/i/oauth2/authorize", response_model=None)
async def authorize(request: Request) -> Response:
    state = state_of(request)
    query = request.query_params
    redirect_uri = query.get("redirect_uri")
    scopes = tuple(s for s in (query.get("scope") or "").split() if s)
    try:
        if query.get("response_type") != "code":
            raise OAuthFailure("invalid_request", "response_type must be code")
        if not query.get("state"):
            raise OAuthFailure("invalid_request", "state is required")
        unknown = [s for s in scopes if s not in SCOPES]
        if not scopes or unknown:
            raise OAuthFailure("invalid_scope", f"unknown or missing scope: {' '.join(unknown)}")
        code = oauth.authorize(
            state,
            PLATFORM,
            client_id=query.get("client_id"),
            redirect_uri=redirect_uri,
            code_challenge=query.get("code_challenge"),
            code_challenge_method=query.get("code_challenge_method"),
            scopes=scopes,
            username=query.get("emulator_username"),
            require_pkce=True,
        )
    except OAuthFailure as exc:
        # X shows its own error page when it cannot trust the client or the redirect URI.
        if exc.error in ("invalid_client", "invalid_request") or not (
            redirect_uri and redirect_uri.startswith(("http://", "https://"))
        ):
            return JSONResponse(
                {"error": exc.error, "error_description": exc.description}, status_code=400
            )
        denied = {"error": exc.error, "error_description": exc.description}
        if query.get("state"):
            denied["state"] = query["state"]
        return RedirectResponse(_with_query(redirect_uri, denied), status_code=302)
    return RedirectResponse(
        _with_query(redirect_uri or "", {"state": query["state"], "code": code}), status_code=302
    )


def _basic_auth(header: str) -> tuple[str, str] | None:
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, colon, secret = decoded.partition(":")
    return (client_id, secret) if colon else None


def _error(status: int, error: str, description: str) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


def _answer(tokens: TokenSet) -> JSONResponse:
    body: dict[str, object] = {
        "token_type": "bearer",
        "expires_in": tokens.expires_in,
        "access_token": tokens.access_token,
        "scope": " ".join(tokens.scopes),
    }
    if "offline.access" in tokens.scopes:
        body["refresh_token"] = tokens.refresh_token
    return JSONResponse(body)


@router.post("/2/oauth2/token", response_model=None)
async def token(request: Request) -> Response:
    state = state_of(request)
    form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
    basic = _basic_auth(request.headers.get("authorization", ""))
    if basic is not None:
        client_id: str | None = basic[0]
        secret: str | None = basic[1]
    else:
        client_id, secret = form.get("client_id"), None
    if client_id is None:
        return _error(401, "unauthorized_client", MISSING_AUTH)
    grant_type = form.get("grant_type")
    try:
        if grant_type == "authorization_code":
            tokens = oauth.exchange_code(
                state,
                PLATFORM,
                code=form.get("code"),
                redirect_uri=form.get("redirect_uri"),
                code_verifier=form.get("code_verifier"),
                client_id=client_id,
                client_secret=secret,
            )
        elif grant_type == "refresh_token":
            tokens = oauth.refresh_tokens(
                state,
                PLATFORM,
                refresh_token=form.get("refresh_token"),
                client_id=client_id,
                client_secret=secret,
            )
        else:
            return _error(400, "invalid_request", INVALID_GRANT_TYPE)
    except OAuthFailure as exc:
        if exc.error == "invalid_client":
            return _error(401, "unauthorized_client", exc.description)
        if grant_type == "refresh_token":
            return _error(400, "invalid_request", INVALID_TOKEN)
        if "code_verifier" in exc.description:
            return _error(400, "invalid_request", INVALID_VERIFIER)
        return _error(400, "invalid_request", INVALID_CODE)
    return _answer(tokens)
