"""Rate limits (API.md "Conventions"): every request is counted per caller (an API key or a
user), per workspace and in all, each in a fixed window of the `limits` library (defaults
10, 100 and 1000 a second). The narrowest scope is counted first and a spent one refuses the
request (429 RATE_LIMITED with Retry-After) before a wider one counts it, so one caller's
flood does not spend its workspace's or everyone's allowance. Every answer carries
X-RateLimit-Limit, -Remaining and -Reset (Unix seconds) of the scope with the fewest requests
left: the one the caller will meet first.

The middleware is where a request's caller is resolved (api/auth.py; the route reuses it):
limits need to know who calls before the route runs, and resolving once costs no more than
the route did alone."""

from __future__ import annotations

import math
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from limits import RateLimitItem
from limits import parse as parse_rate
from limits.aio.strategies import FixedWindowRateLimiter
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.auth import (
    CALLER_STATE,
    PRINCIPAL_STATE,
    WORKSPACE_HEADER,
    KeyCaller,
    requested_workspace,
    workspace_in_path,
)
from api.counters import Counters
from api.errors import error_json
from api.middleware import new_request_id
from herald.errors import ErrorCode, HeraldError
from herald.settings import Settings

if TYPE_CHECKING:
    from api.resources import Resources

# Probes and scrapes are never refused (nor counted): an overloaded API must still say so.
EXEMPT_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


@dataclass(frozen=True)
class Window:
    """One scope's fixed window, as this request left it."""

    scope: str
    limit: int
    remaining: int
    reset_at: float

    @property
    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(math.ceil(self.reset_at)),
        }


class RequestLimits:
    def __init__(self, settings: Settings, counters: Counters) -> None:
        self._caller: RateLimitItem = parse_rate(settings.rate_limit_per_caller)
        self._workspace: RateLimitItem = parse_rate(settings.rate_limit_per_workspace)
        self._global: RateLimitItem = parse_rate(settings.rate_limit_global)
        self._limiter = counters.limiter(FixedWindowRateLimiter)

    async def admit(self, caller: str | None, workspace: uuid.UUID | None) -> Window:
        """Counts the request in each scope it falls in, narrowest first: the scope with the
        fewest requests left, or 429 at the first one spent (wider ones not counted)."""
        scopes: list[tuple[str, RateLimitItem, str]] = []
        if caller is not None:
            scopes.append(("caller", self._caller, caller))
        if workspace is not None:
            scopes.append(("workspace", self._workspace, str(workspace)))
        scopes.append(("global", self._global, "all"))
        # One call per scope (the count answers what is left), and one for the reset of the
        # scope shown: four round trips to Redis, not the nine of hit + window stats each.
        left: list[tuple[int, int, str, RateLimitItem, str]] = []
        for name, item, who in scopes:
            remaining = item.amount - await self._limiter.count(item, "api", name, who)
            if remaining < 0:
                ends = await self._limiter.window_end(item, "api", name, who)
                raise _refused(Window(name, item.amount, 0, ends))
            left.append((remaining, item.amount, name, item, who))
        remaining, _, name, item, who = min(left, key=lambda scope: scope[:2])
        ends = await self._limiter.window_end(item, "api", name, who)
        return Window(name, item.amount, remaining, ends)


def _refused(window: Window) -> HeraldError:
    headers = {
        **window.headers,
        "Retry-After": str(max(1, math.ceil(window.reset_at - time.time()))),
    }
    who = {"caller": "this API key or user", "workspace": "this workspace", "global": "the API"}
    return HeraldError(
        ErrorCode.RATE_LIMITED,
        f"too many requests for {who[window.scope]} ({window.limit} per window); "
        f"retry in {headers['Retry-After']} s",
        headers=headers,
    )


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in EXEMPT_PATHS:
            await self.app(scope, receive, send)
            return
        resources: Resources = scope["app"].state.resources
        caller, workspace = await _who(resources, scope)
        try:
            window = await resources.request_limits.admit(caller, workspace)
        except HeraldError as refused:
            request_id = scope.get("state", {}).get("request_id") or new_request_id()
            await error_json(refused, request_id)(scope, receive, send)
            return
        headers = window.headers

        async def send_with_limits(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).update(headers)
            await send(message)

        await self.app(scope, receive, send_with_limits)


async def _who(resources: Resources, scope: Scope) -> tuple[str | None, uuid.UUID | None]:
    """The caller and the workspace the request counts against, each None when it has
    none (the route then answers 401, 400 or 404 as it would have)."""
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
    authorization = headers.get("authorization")
    if not authorization:
        return None, None
    state = scope.setdefault("state", {})
    async with resources.read_sessions() as session:
        try:
            caller = await resources.auth.identify(session, authorization)
        except HeraldError:
            return None, None
        state[CALLER_STATE] = caller
        if isinstance(caller, KeyCaller):
            who, workspace = f"key:{caller.key_id}", caller.workspace_id
        else:
            who, workspace = f"user:{caller.claims.user_id}", None
        try:
            named = requested_workspace(
                workspace_in_path(str(scope["path"])), headers.get(WORKSPACE_HEADER.lower())
            )
            principal = await resources.auth.principal(session, caller, named)
        except HeraldError:
            return who, workspace
        state[PRINCIPAL_STATE] = principal
        return who, principal.workspace_id
