"""Limits before work: a request body is read at most up to the cap (413 the moment it is
passed, without reading the rest), and neither JSON bodies nor query strings may carry control
characters (NUL reaches Postgres as an error, the others are never text a user meant)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

from api.errors import error_json
from api.middleware import new_request_id, replaying
from herald.errors import ErrorCode, HeraldError

# A JSON string escape of a C0 control character or DEL other than tab, newline and carriage
# return, preceded by an even number of backslashes (so "\\u0000", an escaped backslash and
# the text "u0000", is not one). Raw control bytes are invalid JSON and fail parsing anyway.
_CONTROL_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u00(?:0[0-8bcefBCEF]|1[0-9a-fA-F]|7[fF])")


# The same characters, percent-encoded in a query string (or raw, which servers pass on).
_CONTROL_IN_QUERY = re.compile(
    rb"%(?:0[0-8bcefBCEF]|1[0-9a-fA-F]|7[fF])|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"
)


def control_character_in(body: bytes) -> str | None:
    """The first forbidden control character a JSON body escapes, as U+XXXX, or None."""
    found = _CONTROL_ESCAPE.search(body)
    if found is None:
        return None
    return "U+" + found.group(0)[-4:].decode().upper()


@dataclass(frozen=True)
class PathLimit:
    """A route whose bodies may be larger than the API's cap (the multipart media upload)."""

    max_bytes: int
    setting: str


class BodyLimitMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        exempt_prefixes: tuple[str, ...],
        path_limits: Mapping[str, PathLimit] | None = None,
    ) -> None:
        self.app = app
        self.default = PathLimit(max_bytes, "HERALD_API_MAX_BODY_BYTES")
        # Routes that stream large bodies under their own, signed limit (media uploads).
        self.exempt_prefixes = exempt_prefixes
        self.path_limits = dict(path_limits or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or str(scope["path"]).startswith(self.exempt_prefixes):
            await self.app(scope, receive, send)
            return
        if _CONTROL_IN_QUERY.search(scope.get("query_string", b"")):
            error = HeraldError.invalid(
                "query", "query parameters may not contain control characters"
            )
            await self._refuse(scope, receive, send, error)
            return
        limit = self.path_limits.get(str(scope["path"]), self.default)
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length", b"").decode("latin-1")
        if declared.isdigit() and int(declared) > limit.max_bytes:
            await self._refuse(scope, receive, send, _too_large(limit))
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break  # the client went away; the app sees an empty body
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit.max_bytes:
                await self._refuse(scope, receive, send, _too_large(limit))
                return
            chunks.append(chunk)
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        if headers.get(b"content-type", b"").startswith(b"application/json"):
            control = control_character_in(body)
            if control is not None:
                error = HeraldError.invalid(
                    "body", f"text may not contain control characters (found {control})"
                )
                await self._refuse(scope, receive, send, error)
                return
        await self.app(scope, replaying(body, receive), send)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, error: HeraldError) -> None:
        request_id = scope.get("state", {}).get("request_id") or new_request_id()
        response = error_json(error, request_id)
        # The rest of the body is not read: the connection cannot be reused after it.
        response.headers["Connection"] = "close"
        await response(scope, receive, send)


def _too_large(limit: PathLimit) -> HeraldError:
    return HeraldError(
        ErrorCode.PAYLOAD_TOO_LARGE,
        f"the request body is over {limit.max_bytes} bytes ({limit.setting})",
    )
