"""`Idempotency-Key` on every POST, PATCH and DELETE (API.md "Conventions").

Same workspace + key + same request within 24 h: the stored status and body are returned with
`Idempotent-Replayed: true` and nothing runs again. Same key, different request: 422. Same key
while the first request still runs: 409. Answers of 5xx and 429 are not kept, so a retry runs again.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.auth import PRINCIPAL_STATE, WORKSPACE_HEADER, requested_workspace, workspace_in_path
from api.errors import error_json
from api.middleware import disconnected, new_request_id, replaying
from api.resources import Resources
from herald.db.models import IdempotencyRecord
from herald.db.types import utcnow
from herald.errors import ErrorCode, ErrorDetail, HeraldError
from herald.principal import Principal
from herald.repositories import idempotency as records

HEADER = "Idempotency-Key"
WRITE_METHODS = frozenset({"POST", "PATCH", "DELETE"})
KEPT_FOR = timedelta(hours=24)
REPLAYED_HEADERS = ("content-type", "etag", "location")


def _valid_key(key: str) -> bool:
    return 1 <= len(key) <= 255 and key.isascii() and key.isprintable()


def _boundary(content_type: str | None) -> bytes | None:
    """A multipart body's boundary, from its Content-Type."""
    if content_type is None or not content_type.lower().startswith("multipart/"):
        return None
    for parameter in content_type.split(";")[1:]:
        name, _, value = parameter.strip().partition("=")
        if name.lower() == "boundary" and value.strip('"'):
            return value.strip('"').encode("latin-1")
    return None


def _fingerprint(scope: Scope, body: bytes, content_type: str | None) -> str:
    query = "&".join(sorted(scope.get("query_string", b"").decode("latin-1").split("&")))
    digest = hashlib.sha256()
    for part in (scope["method"], scope["path"], query):
        digest.update(part.encode() + b"\n")
    # A client draws a new multipart boundary for every request, its retries too: the same
    # form under another boundary is the same request.
    boundary = _boundary(content_type)
    if boundary is not None:
        body = body.replace(b"--" + boundary, b"--\x00boundary")
    digest.update(body)
    return digest.hexdigest()


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in WRITE_METHODS:
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        key = headers.get(HEADER.lower())
        if key is None:
            await self.app(scope, receive, send)
            return
        if not _valid_key(key):
            error = HeraldError(
                ErrorCode.VALIDATION_ERROR,
                "Idempotency-Key must be 1 to 255 printable ASCII characters",
                [ErrorDetail(HEADER, "1 to 255 printable ASCII characters")],
            )
            await self._error(scope, error)(scope, receive, send)
            return
        resources: Resources = scope["app"].state.resources
        principal = await _principal_of(resources, scope, headers)
        if principal is None:  # the route answers 401 (or 400, 404) in the contract's shape
            await self.app(scope, receive, send)
            return
        # The route uses it as it is instead of authenticating the request again.
        scope.setdefault("state", {})[PRINCIPAL_STATE] = principal
        body = await _read_body(receive)
        fingerprint = _fingerprint(scope, body, headers.get("content-type"))
        now = utcnow()
        async with resources.sessions() as session, session.begin():
            existing = await records.find(session, principal.workspace_id, key)
            if existing is not None and existing.expires_at <= now:
                await records.remove(session, existing.id)
                await session.flush()
                existing = None
            claimed = None
            if existing is None:
                claimed = await records.claim(
                    session, principal.workspace_id, key, fingerprint, now, now + KEPT_FOR
                )
                if claimed is None:
                    existing = await records.find(session, principal.workspace_id, key)
            claimed_id = claimed.id if claimed is not None else None
        if claimed_id is None:
            await self._answer_existing(scope, existing, fingerprint)(scope, receive, send)
            return
        await self._run_and_store(scope, body, send, resources, claimed_id)

    async def _run_and_store(
        self, scope: Scope, body: bytes, send: Send, resources: Resources, record_id: Any
    ) -> None:
        replay_receive = replaying(body, disconnected)
        status = 500
        response_headers: list[tuple[bytes, bytes]] = []
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal status, response_headers
            if message["type"] == "http.response.start":
                status = int(message["status"])
                response_headers = list(message.get("headers", []))
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, replay_receive, capture)
        except BaseException:
            await self._forget(resources, record_id)
            raise
        # Not kept either: a 429, whose retry must run once the window allows it.
        if status >= 500 or status == 429:
            await self._forget(resources, record_id)
            return
        kept = {
            k.decode("latin-1").lower(): v.decode("latin-1")
            for k, v in response_headers
            if k.decode("latin-1").lower() in REPLAYED_HEADERS
        }
        async with resources.sessions() as session, session.begin():
            record = await session.get(IdempotencyRecord, record_id)
            if record is not None:
                record.response_status = status
                record.response_body = b"".join(chunks).decode("utf-8", "replace")
                record.response_headers = kept

    @staticmethod
    async def _forget(resources: Resources, record_id: Any) -> None:
        async with resources.sessions() as session, session.begin():
            await records.remove(session, record_id)

    def _answer_existing(
        self, scope: Scope, existing: IdempotencyRecord | None, fingerprint: str
    ) -> Response:
        if existing is None or existing.response_status is None:
            return self._error(
                scope,
                HeraldError(
                    ErrorCode.CONFLICT,
                    "a request with this Idempotency-Key is still being processed; retry shortly",
                ),
            )
        if existing.request_fingerprint != fingerprint:
            return self._error(
                scope,
                HeraldError(
                    ErrorCode.IDEMPOTENCY_KEY_REUSED,
                    "this Idempotency-Key was used for a different request",
                ),
            )
        headers = {**existing.response_headers, "Idempotent-Replayed": "true"}
        return Response(
            content=(existing.response_body or "").encode(),
            status_code=existing.response_status,
            headers=headers,
        )

    @staticmethod
    def _error(scope: Scope, error: HeraldError) -> JSONResponse:
        request_id = scope.get("state", {}).get("request_id") or new_request_id()
        return error_json(error, request_id)


async def _principal_of(
    resources: Resources, scope: Scope, headers: dict[str, str]
) -> Principal | None:
    """The caller as the route will see it (api/deps.py), or None when it cannot be one."""
    async with resources.sessions() as session:
        try:
            caller = await resources.auth.identify(session, headers.get("authorization"))
            workspace = requested_workspace(
                workspace_in_path(str(scope["path"])), headers.get(WORKSPACE_HEADER.lower())
            )
            return await resources.auth.principal(session, caller, workspace)
        except HeraldError:
            return None


async def _read_body(receive: Receive) -> bytes:
    parts = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        parts.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    return b"".join(parts)


def document_idempotency_header(app: FastAPI) -> None:
    """Adds the optional Idempotency-Key header to every write operation in the OpenAPI."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = build()
        parameter = {
            "name": HEADER,
            "in": "header",
            "required": False,
            "description": "Makes the request safe to retry for 24 hours (same key, same request).",
            "schema": {"type": "string", "minLength": 1, "maxLength": 255},
        }
        for operations in schema.get("paths", {}).values():
            for method, operation in operations.items():
                if method.upper() in WRITE_METHODS:
                    operation.setdefault("parameters", []).append(parameter)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
