"""Renders every failure in the contract's error shape; nothing escapes as a bare 422 or 500."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.middleware import REQUEST_ID_HEADER, new_request_id
from herald.errors import ErrorCode, ErrorDetail, HeraldError

log = logging.getLogger(__name__)

_HTTP_CODES = {
    400: ErrorCode.VALIDATION_ERROR,
    401: ErrorCode.UNAUTHORIZED,
    403: ErrorCode.FORBIDDEN,
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.METHOD_NOT_ALLOWED,
    409: ErrorCode.CONFLICT,
    412: ErrorCode.PRECONDITION_FAILED,
    413: ErrorCode.PAYLOAD_TOO_LARGE,
    429: ErrorCode.RATE_LIMITED,
    503: ErrorCode.UNAVAILABLE,
}


def request_id_of(request: Request) -> str:
    return getattr(request.state, "request_id", None) or new_request_id()


def error_response(request: Request, error: HeraldError) -> JSONResponse:
    return error_json(error, request_id_of(request))


def error_json(error: HeraldError, request_id: str) -> JSONResponse:
    """The contract's error shape: `{"error": {code, message, details, request_id}}`."""
    body: dict[str, Any] = {
        "error": {
            "code": error.code.value,
            "message": error.message,
            "details": error.details_json(),
            "request_id": request_id,
        }
    }
    headers = {REQUEST_ID_HEADER: request_id, **error.headers}
    return JSONResponse(body, status_code=error.http_status, headers=headers)


def _path(location: Sequence[int | str]) -> str:
    parts = list(location)
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    return ".".join(str(p) for p in parts) or "body"


def _validation_details(exc: RequestValidationError) -> list[ErrorDetail]:
    details = []
    for problem in exc.errors():
        if problem.get("type") == "json_invalid":
            message = f"malformed JSON: {problem.get('ctx', {}).get('error', 'cannot parse')}"
            details.append(ErrorDetail("body", message))
            continue
        message = str(problem.get("msg", "invalid value")).removeprefix("Value error, ")
        details.append(ErrorDetail(_path(problem.get("loc", ())), message))
    return details


async def _on_herald_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HeraldError)
    return error_response(request, exc)


async def _on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    details = _validation_details(exc)
    message = details[0].message if len(details) == 1 else "the request is not valid"
    return error_response(request, HeraldError(ErrorCode.VALIDATION_ERROR, message, details))


async def _on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, ErrorCode.VALIDATION_ERROR)
    if exc.status_code == 404:
        message = "no such resource or route"
    elif isinstance(exc.detail, str):
        message = exc.detail
    else:
        message = "request refused"
    error = HeraldError(code, message, headers=dict(exc.headers or {}))
    response = error_response(request, error)
    response.status_code = exc.status_code
    return response


async def _on_database_down(request: Request, exc: Exception) -> JSONResponse:
    log.error("database unreachable: %s", exc)
    return error_response(request, HeraldError.unavailable("the database is unreachable"))


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(
        request, HeraldError(ErrorCode.INTERNAL_ERROR, "an internal error occurred")
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(HeraldError, _on_herald_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(OperationalError, _on_database_down)
    app.add_exception_handler(DBAPIError, _on_unexpected)
    app.add_exception_handler(Exception, _on_unexpected)


class UnexpectedErrorMiddleware:
    """The innermost middleware: an exception no handler took is answered here with the
    contract's 500. Left to Starlette's ServerErrorMiddleware it is answered too, but then
    raised again, and the server drops the connection: the client's next request on that
    keep-alive connection would fail as well."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception:
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if started:
                raise  # half an answer went out: only closing the connection ends it
            request_id = scope.get("state", {}).get("request_id") or new_request_id()
            error = HeraldError(ErrorCode.INTERNAL_ERROR, "an internal error occurred")
            await error_json(error, request_id)(scope, receive, send)
