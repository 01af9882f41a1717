"""OAuth 2.0 authorization-code grants with PKCE, shared by the emulated OAuth platforms.

Each platform mounts its own authorize and token routes (paths, parameter names, answer and
error shapes are the platform's) and calls into this module for the grant bookkeeping:

- the authorization page approves at once, as the user named by the non-standard query
  parameter ``emulator_username`` (default: the platform's sandbox account), and redirects to
  ``redirect_uri`` with ``code`` and ``state``; the code is single-use and lives 10 minutes;
- the token endpoint checks the client, the redirect URI and the PKCE verifier (S256 or plain),
  and issues an access token (``oauth_access_ttl_s`` of emulator clock) and a refresh token;
- refreshing rotates both tokens (the old refresh token stops working, as on X and TikTok);
- an issued access token authenticates as its account until it expires: `account_by_token`
  knows them, so every platform route accepts it like the account's fixed token.

Deviation: real platforms only redirect to pre-registered URIs; here any http(s) URI is accepted.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from emulator.sandbox import SANDBOX_USERNAME

if TYPE_CHECKING:
    from emulator.state import Account, EmulatorState

# The one OAuth client the emulator knows; emulator/presets.py hands it to Herald.
CLIENT_ID = "herald-emulator-client"
CLIENT_SECRET = "herald-emulator-client-secret"
CODE_TTL = timedelta(minutes=10)


class OAuthFailure(Exception):
    """`error` is the RFC 6749 code (invalid_grant, invalid_client, ...); each platform words it."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description


@dataclass
class PendingCode:
    platform: str
    account_id: str
    redirect_uri: str
    code_challenge: str | None
    challenge_method: str
    scopes: tuple[str, ...]
    expires_at: datetime


@dataclass
class IssuedToken:
    platform: str
    account_id: str
    expires_at: datetime
    scopes: tuple[str, ...]


@dataclass(frozen=True)
class TokenSet:
    access_token: str
    refresh_token: str
    expires_in: int
    scopes: tuple[str, ...]
    account: Account


class OAuthGrants:
    """Codes, access tokens and refresh tokens of every platform (cleared on reset)."""

    def __init__(self) -> None:
        self.codes: dict[str, PendingCode] = {}
        self.access: dict[str, IssuedToken] = {}
        self.refresh: dict[str, IssuedToken] = {}

    def clear(self) -> None:
        self.codes.clear()
        self.access.clear()
        self.refresh.clear()


def check_client(client_id: str | None, client_secret: str | None = None) -> None:
    if client_id != CLIENT_ID:
        raise OAuthFailure("invalid_client", f"unknown client_id {client_id!r}")
    if client_secret is not None and not secrets.compare_digest(client_secret, CLIENT_SECRET):
        raise OAuthFailure("invalid_client", "client authentication failed")


def authorize(
    state: EmulatorState,
    platform: str,
    *,
    client_id: str | None,
    redirect_uri: str | None,
    code_challenge: str | None,
    code_challenge_method: str | None,
    scopes: tuple[str, ...],
    username: str | None,
    require_pkce: bool,
) -> str:
    """Approves the request as `username` (or the sandbox) and returns the code."""
    check_client(client_id)
    if not redirect_uri or not redirect_uri.startswith(("http://", "https://")):
        raise OAuthFailure("invalid_request", "redirect_uri must be an http(s) URL")
    method = code_challenge_method or "plain"
    if require_pkce and not code_challenge:
        raise OAuthFailure("invalid_request", "code_challenge is required")
    if code_challenge and method not in ("S256", "plain"):
        raise OAuthFailure("invalid_request", "code_challenge_method must be S256 or plain")
    account = state.account_by_username(platform, username or SANDBOX_USERNAME)
    if account is None:
        raise OAuthFailure("access_denied", f"no {platform} user {username!r} on the emulator")
    code = secrets.token_urlsafe(24)
    state.oauth.codes[code] = PendingCode(
        platform,
        account.id,
        redirect_uri,
        code_challenge,
        method,
        scopes,
        state.now() + CODE_TTL,
    )
    return code


def _verifier_matches(pending: PendingCode, verifier: str | None) -> bool:
    if pending.code_challenge is None:
        return True
    if not verifier:
        return False
    if pending.challenge_method == "plain":
        return secrets.compare_digest(verifier, pending.code_challenge)
    digest = hashlib.sha256(verifier.encode()).digest()
    expected = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    return secrets.compare_digest(expected, pending.code_challenge)


def _issue(
    state: EmulatorState, platform: str, account: Account, scopes: tuple[str, ...]
) -> TokenSet:
    ttl = state.settings.oauth_access_ttl_s
    access = secrets.token_urlsafe(32)
    refresh = secrets.token_urlsafe(32)
    now = state.now()
    state.oauth.access[access] = IssuedToken(
        platform, account.id, now + timedelta(seconds=ttl), scopes
    )
    state.oauth.refresh[refresh] = IssuedToken(
        platform,
        account.id,
        now + timedelta(seconds=state.settings.oauth_refresh_ttl_s),
        scopes,
    )
    return TokenSet(access, refresh, ttl, scopes, account)


def exchange_code(
    state: EmulatorState,
    platform: str,
    *,
    code: str | None,
    redirect_uri: str | None,
    code_verifier: str | None,
    client_id: str | None,
    client_secret: str | None,
) -> TokenSet:
    check_client(client_id, client_secret)
    pending = state.oauth.codes.pop(code or "", None)  # single use, even when it fails below
    if pending is None or pending.platform != platform or pending.expires_at <= state.now():
        raise OAuthFailure("invalid_grant", "the authorization code is invalid or expired")
    if redirect_uri != pending.redirect_uri:
        raise OAuthFailure("invalid_grant", "redirect_uri does not match the authorization")
    if not _verifier_matches(pending, code_verifier):
        raise OAuthFailure("invalid_grant", "code_verifier does not match the code_challenge")
    account = state.account(platform, pending.account_id)
    if account is None:
        raise OAuthFailure("invalid_grant", "the user is gone")
    return _issue(state, platform, account, pending.scopes)


def refresh_tokens(
    state: EmulatorState,
    platform: str,
    *,
    refresh_token: str | None,
    client_id: str | None,
    client_secret: str | None,
) -> TokenSet:
    check_client(client_id, client_secret)
    issued = state.oauth.refresh.pop(refresh_token or "", None)  # rotation: single use
    if issued is None or issued.platform != platform or issued.expires_at <= state.now():
        raise OAuthFailure("invalid_grant", "the refresh token is invalid or expired")
    account = state.account(platform, issued.account_id)
    if account is None:
        raise OAuthFailure("invalid_grant", "the user is gone")
    return _issue(state, platform, account, issued.scopes)


def account_of_access_token(state: EmulatorState, platform: str, token: str) -> Account | None:
    issued = state.oauth.access.get(token)
    if issued is None or issued.platform != platform or issued.expires_at <= state.now():
        return None
    return state.account(platform, issued.account_id)


def revoke_all(state: EmulatorState, platform: str, account_id: str) -> None:
    """Invalidates every token of an account (the control API's way to simulate revocation)."""
    for table in (state.oauth.access, state.oauth.refresh):
        for token in [
            t for t, i in table.items() if (i.platform, i.account_id) == (platform, account_id)
        ]:
            del table[token]
