"""XRPC calls as one Bluesky account: app-password sessions kept in memory, renewed on
ExpiredToken, and XRPC errors mapped onto the adapter error taxonomy.

A session comes from com.atproto.server.createSession (identifier + app password) against the
account's service URL (its PDS, or the bsky.social entryway). Calls carry the access JWT; when
the server answers ExpiredToken/InvalidToken (or 401), the refresh JWT is traded once through
com.atproto.server.refreshSession, and if that is refused too, a new session is created from
the app password. Only when that fails does the caller see AuthExpired: the user must
reconnect. Sessions live per (service URL, identifier) in this process only; nothing is
written back to the stored credentials, which hold just the app password.

Error bodies are ``{"error": "<Name>", "message": "..."}``; rate limits come with
``RateLimit-Reset`` (epoch seconds).
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import BaseModel, Field

from platforms.base import (
    AccountContext,
    AuthExpired,
    PlatformError,
    RateLimited,
    Rejected,
    Transient,
)
from platforms.content import ByteRange
from platforms.http import (
    json_body,
    json_object,
    parsed,
    retry_after_seconds,
    send,
    transport_error,
)

DEFAULT_SERVICE_URL = "https://bsky.social"
TOKEN_ERRORS = frozenset({"ExpiredToken", "InvalidToken"})


@dataclass(frozen=True)
class Session:
    did: str
    handle: str
    access_jwt: str
    refresh_jwt: str
    password_digest: str
    # The PDS the DID document names (blobs are served there); None if it names none.
    pds_url: str | None = None


class SessionInfo(BaseModel):
    """Who a session is (getSession answers this much)."""

    did: str = Field(pattern=r"^did:[a-z]+:\S+$")
    handle: str | None = None


class SessionAnswer(SessionInfo):
    """What createSession and refreshSession answer (the fields Herald reads)."""

    accessJwt: str = Field(min_length=1)
    refreshJwt: str = Field(min_length=1)
    didDoc: Any = None


def service_url(account: AccountContext) -> str:
    return str(account.credentials.get("service_url") or DEFAULT_SERVICE_URL).rstrip("/")


def _identifier(account: AccountContext) -> str:
    """The handle (a leading "@" as people write it is dropped) or DID."""
    return str(account.credentials.get("identifier") or "").strip().removeprefix("@")


def _error_name(response: httpx.Response) -> tuple[str | None, str]:
    body = json_object(response)
    if body is None:
        return None, f"HTTP {response.status_code}"
    name = body.get("error") if isinstance(body.get("error"), str) else None
    message = body.get("message") if isinstance(body.get("message"), str) else None
    return name, message or name or f"HTTP {response.status_code}"


def is_token_error(response: httpx.Response) -> bool:
    if response.status_code == 401:
        return True
    return response.status_code == 400 and _error_name(response)[0] in TOKEN_ERRORS


def classify(response: httpx.Response) -> PlatformError:
    """A failed XRPC answer as the taxonomy sees it, keeping the XRPC error name as code."""
    name, message = _error_name(response)
    status = response.status_code
    if status == 429:
        return RateLimited(message, retry_after_seconds(response, "ratelimit-reset"), name)
    if status >= 500 or status in (408, 425):
        return Transient(message, name, status)
    if is_token_error(response):
        return AuthExpired(message, name, status)
    return Rejected(message, name, status)


def _pds_of(did_doc: Any) -> str | None:
    if not isinstance(did_doc, dict):
        return None
    for service in did_doc.get("service") or []:
        if isinstance(service, dict) and str(service.get("id", "")).endswith("#atproto_pds"):
            endpoint = service.get("serviceEndpoint")
            if isinstance(endpoint, str) and endpoint.startswith(("https://", "http://")):
                return endpoint.rstrip("/")
    return None


class Xrpc:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http
        self._sessions: dict[tuple[str, str], Session] = {}
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}

    @staticmethod
    def _key(account: AccountContext) -> tuple[str, str]:
        return service_url(account), _identifier(account).lower()

    @staticmethod
    def _digest(account: AccountContext) -> str:
        password = str(account.credentials.get("app_password") or "")
        return hashlib.sha256(password.encode()).hexdigest()

    def _lock(self, key: tuple[str, str]) -> asyncio.Lock:
        return self._locks.setdefault(key, asyncio.Lock())

    async def session(self, account: AccountContext) -> Session:
        key = self._key(account)
        cached = self._sessions.get(key)
        if cached is not None and cached.password_digest == self._digest(account):
            return cached
        async with self._lock(key):
            cached = self._sessions.get(key)
            if cached is not None and cached.password_digest == self._digest(account):
                return cached
            return await self._create(account)

    async def new_session(self, account: AccountContext) -> Session:
        """Always a fresh createSession (verifying credentials must really check them)."""
        async with self._lock(self._key(account)):
            return await self._create(account)

    async def call(
        self,
        account: AccountContext,
        method: str,
        nsid: str,
        *,
        params: dict[str, Any] | list[tuple[str, Any]] | None = None,
        json: dict[str, Any] | None = None,
        content: bytes | ByteRange | None = None,
        content_type: str | None = None,
    ) -> Any:
        """An authenticated XRPC call; renews the session once if its token is refused (a
        streamed `content` is read anew for the second sending)."""
        session = await self.session(account)
        response = await self._send(
            method, account, nsid, session, params, json, content, content_type
        )
        if is_token_error(response):
            session = await self._renew(account, session)
            response = await self._send(
                method, account, nsid, session, params, json, content, content_type
            )
            if is_token_error(response):
                error = classify(response)
                raise AuthExpired(
                    f"Bluesky refused a fresh session: {error.message}", error.code, error.status
                )
        if response.is_success:
            return json_body(response, nsid)
        raise classify(response)

    async def public(
        self, account: AccountContext, nsid: str, params: dict[str, Any]
    ) -> httpx.Response:
        """An unauthenticated query (handle resolution), answered as is."""
        return await self._request("GET", f"{service_url(account)}/xrpc/{nsid}", params=params)

    async def _send(
        self,
        method: str,
        account: AccountContext,
        nsid: str,
        session: Session,
        params: dict[str, Any] | list[tuple[str, Any]] | None,
        json: dict[str, Any] | None,
        content: bytes | ByteRange | None,
        content_type: str | None,
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {session.access_jwt}"}
        if content_type:
            headers["Content-Type"] = content_type
        if isinstance(content, ByteRange):
            headers["Content-Length"] = str(content.length)
        return await self._request(
            method,
            f"{service_url(account)}/xrpc/{nsid}",
            params=params,
            json=json,
            content=content,
            headers=headers,
        )

    async def _request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            return await send(self._http, method, url, repeatable=method == "GET", **kwargs)
        except httpx.InvalidURL as exc:
            raise Rejected(f"the account's service URL is not usable: {exc}") from exc
        except httpx.HTTPError as exc:
            raise transport_error(exc) from exc

    async def _create(self, account: AccountContext) -> Session:
        """createSession; a refused password is AuthExpired (the user must reconnect)."""
        key = self._key(account)
        response = await self._request(
            "POST",
            f"{service_url(account)}/xrpc/com.atproto.server.createSession",
            json={
                "identifier": _identifier(account),
                "password": str(account.credentials.get("app_password") or ""),
            },
        )
        if not response.is_success:
            raise classify(response)  # a wrong password is 401 AuthenticationRequired
        session = self._session_from(json_body(response, "createSession"), self._digest(account))
        self._sessions[key] = session
        return session

    async def _renew(self, account: AccountContext, stale: Session) -> Session:
        key = self._key(account)
        async with self._lock(key):
            current = self._sessions.get(key)
            if current is not None and current.access_jwt != stale.access_jwt:
                return current  # another call renewed it meanwhile
            response = await self._request(
                "POST",
                f"{service_url(account)}/xrpc/com.atproto.server.refreshSession",
                headers={"Authorization": f"Bearer {stale.refresh_jwt}"},
            )
            if response.is_success:
                session = self._session_from(
                    json_body(response, "refreshSession"), stale.password_digest
                )
                self._sessions[key] = session
                return session
            if not is_token_error(response):
                raise classify(response)
            self._sessions.pop(key, None)
            return await self._create(account)

    @staticmethod
    def _session_from(body: Any, digest: str) -> Session:
        answer = parsed(SessionAnswer, body, "the Bluesky session")
        return Session(
            did=answer.did,
            handle=answer.handle or answer.did,
            access_jwt=answer.accessJwt,
            refresh_jwt=answer.refreshJwt,
            password_digest=digest,
            pds_url=_pds_of(answer.didDoc),
        )
