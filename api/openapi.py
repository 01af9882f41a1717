"""The OpenAPI document says what Herald answers, so a generated client can trust it: every
operation lists each error status it can give, in the contract's error shape, instead of
FastAPI's default 422 (Herald answers a bad request 400). The statuses follow from what the
operation is, read off the routes themselves, never a hand list that drifts:

- every operation: 400 (a parameter, header or body Herald refuses), 429 (a rate limit spent,
  with Retry-After; not the probes) and 503 (the database or the engine unavailable, with
  Retry-After);
- one that needs a caller (it depends on the principal): 401, 403 and the bearer scheme, with
  the permission it needs as `x-herald-permission`;
- a path with an id: 404; a write: 409 (its Idempotency-Key still in flight, or the resource's
  state forbids the change) and 422 (the key used for another request); a body: 413; an
  `If-Match` header: 412.

Every answer of a rate-limited operation declares the X-RateLimit-* headers, and 429 and
503 their Retry-After (API.md "Rate limits").
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel, Field

from api.idempotency import WRITE_METHODS
from api.rate_limits import EXEMPT_PATHS
from herald.errors import ErrorCode

ERROR_SCHEMA = "ErrorResponse"
BEARER = "bearer"
_DESCRIPTIONS = {
    400: "The request is invalid: `details[].path` names each problem",
    402: "A plan limit of the workspace is reached: `details[].path` names it "
    "(`plan_limits.accounts`), the message the limit and what is used",
    401: "No valid credentials",
    403: "The caller lacks the permission the operation needs (or the URL's signature is wrong)",
    404: "No such resource in this workspace",
    409: "The resource's state forbids this now, or its Idempotency-Key is still in flight",
    412: "`If-Match` names an older version",
    413: "The body is larger than the API takes",
    422: "The Idempotency-Key was used for a different request",
    429: "Too many requests: retry after `Retry-After` seconds",
    503: "Unavailable for a moment; retry after `Retry-After` seconds",
}


_INTEGER = {"type": "integer", "minimum": 0}
_HEADERS = {
    "X-RateLimit-Limit": "Requests allowed per window in the caller's tightest scope",
    "X-RateLimit-Remaining": "Requests left in that window",
    "X-RateLimit-Reset": "When that window resets (Unix seconds)",
    "Retry-After": "Seconds to wait before trying again",
}
_RATE_LIMIT_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")
_RETRY_AFTER_STATUSES = {"429", "503"}


def _header_ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/headers/{name}"}


def _document_headers(path: str, responses: dict[str, Any]) -> None:
    """The headers each answer carries (api/rate_limits.py sets them)."""
    for status, response in responses.items():
        headers = response.setdefault("headers", {})
        if path not in EXEMPT_PATHS:
            headers.update({name: _header_ref(name) for name in _RATE_LIMIT_HEADERS})
        if status in _RETRY_AFTER_STATUSES:
            headers["Retry-After"] = _header_ref("Retry-After")
        if not headers:
            del response["headers"]


class ErrorDetailOut(BaseModel):
    path: str
    message: str


class ErrorOut(BaseModel):
    code: ErrorCode
    message: str
    details: list[ErrorDetailOut] = Field(default_factory=list)
    request_id: str


class ErrorResponse(BaseModel):
    """Every error Herald answers."""

    error: ErrorOut


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` of a route that answers a status its shape does not imply (a signed URL's
    403), in the one error schema."""
    return {
        status: {"model": ErrorResponse, "description": _DESCRIPTIONS[status]}
        for status in statuses
    }


def _dependencies(dependant: Dependant) -> Iterator[Dependant]:
    for child in dependant.dependencies:
        yield child
        yield from _dependencies(child)


def _needs(dependant: Dependant) -> tuple[bool, str | None]:
    """Whether the operation needs a caller, and the permission it needs if it names one."""
    calls = [d.call for d in _dependencies(dependant)]
    permission = next((p for c in calls if (p := getattr(c, "permission", None))), None)
    return any(getattr(c, "authenticates", False) for c in calls), permission


def _error_statuses(
    path: str, method: str, operation: dict[str, Any], authenticated: bool
) -> set[int]:
    statuses = {400, 503}
    if path not in EXEMPT_PATHS:
        statuses.add(429)
    if authenticated:
        statuses |= {401, 403}
    parameters = operation.get("parameters", [])
    if any(p.get("in") == "path" for p in parameters):
        statuses.add(404)
    if method.upper() in WRITE_METHODS:
        statuses |= {409, 422}
    if "requestBody" in operation:
        statuses.add(413)
    if any(p.get("in") == "header" and p.get("name", "").lower() == "if-match" for p in parameters):
        statuses.add(412)
    return statuses


def document_errors(app: FastAPI) -> None:
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = build()
        components = schema.setdefault("components", {})
        schemas = components.setdefault("schemas", {})
        error_schema = ErrorResponse.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(error_schema.pop("$defs", {}))
        schemas[ERROR_SCHEMA] = error_schema
        for unused in ("HTTPValidationError", "ValidationError"):
            schemas.pop(unused, None)
        components["headers"] = {
            name: {"description": description, "schema": _INTEGER}
            for name, description in _HEADERS.items()
        }
        components.setdefault("securitySchemes", {})[BEARER] = {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key (`hk_...`).",
        }
        routes = {
            (route.path_format, method.lower()): route.dependant
            for route in iter_route_contexts(app.routes)
            if isinstance(route.original_route, APIRoute)
            for method in route.methods or ()
        }
        for path, operations in schema.get("paths", {}).items():
            for method, operation in operations.items():
                dependant = routes.get((path, method))
                authenticated, permission = _needs(dependant) if dependant else (False, None)
                if authenticated:
                    operation["security"] = [{BEARER: []}]
                if permission:
                    operation["x-herald-permission"] = permission
                responses = operation.setdefault("responses", {})
                responses.pop("422", None)
                for status in sorted(_error_statuses(path, method, operation, authenticated)):
                    responses.setdefault(
                        str(status),
                        {
                            "description": _DESCRIPTIONS[status],
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": f"#/components/schemas/{ERROR_SCHEMA}"}
                                }
                            },
                        },
                    )
                _document_headers(path, responses)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
