"""LinkedIn's 3-legged OAuth 2.0 and OpenID userinfo (learn.microsoft.com "Authorization Code
Flow", "Refresh Tokens with OAuth 2.0", "Sign In with LinkedIn using OpenID Connect"), on top of
the shared grant bookkeeping in emulator/oauth.py.

- ``GET /oauth/v2/authorization?response_type=code&client_id&redirect_uri&state&scope``
  (space-separated scopes) approves at once and redirects with ``code`` and ``state``; web apps
  use no PKCE, so a ``code_challenge`` is ignored;
- ``POST /oauth/v2/accessToken`` (form: ``grant_type=authorization_code``, ``code``,
  ``client_id``, ``client_secret``, ``redirect_uri``) answers ``{"access_token", "expires_in",
  "refresh_token", "refresh_token_expires_in", "scope", "token_type"}``: access tokens live 60
  days, refresh tokens a year;
- ``grant_type=refresh_token`` mints a new access token; the refresh token is NOT rotated and
  keeps its original expiry (``refresh_token_expires_in`` shrinks);
- ``GET /v2/userinfo`` answers the OpenID claims (``sub``, ``name``, ``given_name``,
  ``family_name``, ``picture``, ``locale``, ``email``, ``email_verified``).

Deviations: no ``id_token`` is issued; any http(s) redirect URI is accepted; token errors use
the two documented shapes (``invalid_request`` / ``invalid_client``) only.
"""

from __future__ import annotations

import math
import secrets
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from emulator import oauth
from emulator.linkedin_common import PLATFORM, Member
from emulator.oauth import IssuedToken, OAuthFailure
from emulator.state import Account, EmulatorState, state_of

router = APIRouter()

CODE_MISMATCH = (
    "Unable to retrieve access token: appid/redirect uri/code verifier does not match "
    "authorization code. Or authorization code expired. Or external member binding exists"
)
# Every member's profile picture: one LinkedIn-blue pixel.
AVATAR = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de0000000c4944415478"
    "9c63e04a3b040001b00133e990e8b70000000049454e44ae426082"
)
REFRESH_INVALID = (
    "The provided authorization grant or refresh token is invalid, expired or revoked."
)


def _token_error(exc: OAuthFailure) -> JSONResponse:
    if exc.error == "invalid_client":
        return JSONResponse(
            {"error": "invalid_client", "error_description": "Client authentication failed"},
            status_code=401,
        )
    description = CODE_MISMATCH if exc.error == "invalid_grant" else exc.description
    return JSONResponse(
        {"error": "invalid_request", "error_description": description}, status_code=400
    )


def _with_query(url: str, values: dict[str, str]) -> str:
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}{urlencode(values)}"


@router.get("/oauth/v2/authorization", response_model=None)
async def authorization(request: Request) -> Response:
    state = state_of(request)
    query = request.query_params
    redirect_uri = query.get("redirect_uri")
    scopes = tuple(s for s in (query.get("scope") or "").replace(",", " ").split() if s)
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
        if (
            exc.error in ("invalid_client", "invalid_request")
            or not redirect_uri
            or not redirect_uri.startswith(("http://", "https://"))
        ):
            return JSONResponse(
                {"error": exc.error, "error_description": exc.description}, status_code=400
            )
        denied = {
            "error": "user_cancelled_authorize" if exc.error == "access_denied" else exc.error,
            "error_description": exc.description,
        }
        if query.get("state"):
            denied["state"] = query["state"]
        return RedirectResponse(_with_query(redirect_uri, denied), status_code=302)
    answer = {"code": code}
    if query.get("state"):
        answer["state"] = query["state"]
    return RedirectResponse(_with_query(redirect_uri or "", answer), status_code=302)


def _ttls(state: EmulatorState) -> tuple[int, int]:
    return state.settings.linkedin_access_ttl_s, state.settings.linkedin_refresh_ttl_s


def _new_access(state: EmulatorState, account: Account, scopes: tuple[str, ...]) -> str:
    access_ttl, _ = _ttls(state)
    token = secrets.token_urlsafe(48)
    state.oauth.access[token] = IssuedToken(
        PLATFORM, account.id, state.now() + timedelta(seconds=access_ttl), scopes
    )
    return token


@router.post("/oauth/v2/accessToken", response_model=None)
async def access_token(request: Request) -> Response:
    state = state_of(request)
    # x-www-form-urlencoded, as the docs require (python-multipart is no dependency).
    form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))

    def field(name: str) -> str | None:
        return form.get(name)

    grant_type = field("grant_type")
    try:
        if grant_type == "authorization_code":
            tokens = oauth.exchange_code(
                state,
                PLATFORM,
                code=field("code"),
                redirect_uri=field("redirect_uri"),
                code_verifier=None,
                client_id=field("client_id"),
                client_secret=field("client_secret") or "",
            )
            # LinkedIn's lifetimes, not the shared default: re-issue under them.
            state.oauth.access.pop(tokens.access_token, None)
            access = _new_access(state, tokens.account, tokens.scopes)
            refresh = tokens.refresh_token
            _, refresh_ttl = _ttls(state)
            state.oauth.refresh[refresh] = IssuedToken(
                PLATFORM,
                tokens.account.id,
                state.now() + timedelta(seconds=refresh_ttl),
                tokens.scopes,
            )
            scopes = tokens.scopes
        elif grant_type == "refresh_token":
            oauth.check_client(field("client_id"), field("client_secret") or "")
            refresh = field("refresh_token") or ""
            issued = state.oauth.refresh.get(refresh)
            if issued is None or issued.platform != PLATFORM or issued.expires_at <= state.now():
                return JSONResponse(
                    {"error": "invalid_request", "error_description": REFRESH_INVALID},
                    status_code=400,
                )
            account = state.account(PLATFORM, issued.account_id)
            if account is None:
                raise OAuthFailure("invalid_grant", "the member is gone")
            access = _new_access(state, account, issued.scopes)
            scopes = issued.scopes
        else:
            raise OAuthFailure(
                "invalid_request", 'A required parameter "grant_type" is missing or invalid'
            )
    except OAuthFailure as exc:
        return _token_error(exc)
    remaining = state.oauth.refresh[refresh].expires_at - state.now()
    return JSONResponse(
        {
            "access_token": access,
            "expires_in": _ttls(state)[0],
            "refresh_token": refresh,
            "refresh_token_expires_in": math.ceil(remaining.total_seconds()),
            "scope": ",".join(scopes),
            "token_type": "Bearer",
        }
    )


@router.get("/v2/userinfo")
async def userinfo(request: Request, account: Member) -> dict[str, Any]:
    given, _, family = account.display_name.partition(" ")
    base = str(request.base_url).rstrip("/")
    return {
        "sub": account.id,
        "email_verified": True,
        "name": account.display_name,
        "locale": {"country": "US", "language": "en"},
        "given_name": given,
        "family_name": family,
        "email": f"{account.username}@linkedin.emulator",
        "picture": f"{base}/{PLATFORM}/avatars/{account.id}.png",
    }


@router.get("/avatars/{name}")
async def avatar(name: str) -> Response:
    return Response(AVATAR, media_type="image/png")
