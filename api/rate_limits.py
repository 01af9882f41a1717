"""Rate limits (API.md "Conventions"): every request is counted per caller (an API key or a
user), per workspace and in all, each in a fixed window of the `limits` library (defaults
10, 100 and 1000 a second). The narrowest scope is counted first and a spent one refuses the
request (429 RATE_LIMITED with Retry-After) before a wider one counts it, so one caller's
flood does not spend its workspace's or everyone's allowance. Every answer carries
X-RateLimit-Limit, -Remaining and -Reset (Unix seconds) of the scope with the fewest requests
left: the one the caller will meet first.

A request is counted where its caller becomes known, in the route's caller check (api/deps.py,
on the lookup the route makes anyway): limits add no database work to a request."""

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

from api.counters import Counters
from api.errors import error_json
from api.middleware import new_request_id
from herald.errors import ErrorCode, HeraldError
from herald.settings import Settings

if TYPE_CHECKING:
    from api.resources import Resources

# Where a request's window is kept once it is counted.
WINDOW_STATE = "herald_rate_window"
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
        self.enabled = settings.rate_limits_enabled
        self._caller: RateLimitItem = parse_rate(settings.rate_limit_per_caller)
        self._workspace: RateLimitItem = parse_rate(settings.rate_limit_per_workspace)
        self._global: RateLimitItem = parse_rate(settings.rate_limit_global)
        self._limiter = counters.limiter(FixedWindowRateLimiter)

    async def admit(
        self, caller: str | None, workspace: uuid.UUID | None, *, refusing: bool = True
    ) -> Window:
        """Counts the request in each scope it falls in, narrowest first: the scope with the
        fewest requests left, or 429 at the first one spent (wider ones not counted);
        `refusing=False` for one already answered, which only learns its window."""
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
            if remaining < 0 and refusing:
                ends = await self._limiter.window_end(item, "api", name, who)
                raise RateLimited(Window(name, item.amount, 0, ends))
            left.append((remaining, item.amount, name, item, who))
        remaining, _, name, item, who = min(left, key=lambda scope: scope[:2])
        ends = await self._limiter.window_end(item, "api", name, who)
        return Window(name, item.amount, max(0, remaining), ends)


class RateLimited(HeraldError):
    """429 RATE_LIMITED: the window of the scope that is spent, and when to come back."""

    def __init__(self, window: Window) -> None:
        headers = {
            **window.headers,
            "Retry-After": str(max(1, math.ceil(window.reset_at - time.time()))),
        }
        who = {"caller": "this API key or user", "workspace": "this workspace", "global": "the API"}
        super().__init__(
            ErrorCode.RATE_LIMITED,
            f"too many requests for {who[window.scope]} ({window.limit} per window); "
            f"retry in {headers['Retry-After']} s",
            headers=headers,
        )
        self.window = window


async def admit(
    scope: Scope, limits: RequestLimits, caller: str | None, workspace: uuid.UUID | None
) -> None:
    """Counts a request once, for its caller and workspace (api/deps.py calls it as soon as
    it knows them, on the route's own session's lookup): 429 when a scope is spent. The
    middleware puts the window on the answer."""
    state = scope.setdefault("state", {})
    if not limits.enabled or WINDOW_STATE in state:
        return
    try:
        state[WINDOW_STATE] = await limits.admit(caller, workspace)
    except RateLimited as refused:
        state[WINDOW_STATE] = refused.window
        raise


class RateLimitMiddleware:
    """Every answer's X-RateLimit-* headers. A request without credentials is counted (in
    the global scope) and may be refused here, before anything runs; one with credentials
    is counted by the route's caller check (api/deps.py), so the key is looked up once, in
    the route's session. One that never reached that check (credentials that do not work, a
    path that does not exist, an idempotent replay) is counted in the global scope when it
    is answered."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in EXEMPT_PATHS:
            await self.app(scope, receive, send)
            return
        resources: Resources = scope["app"].state.resources
        limits = resources.request_limits
        state = scope.setdefault("state", {})
        if not any(name == b"authorization" for name, _ in scope["headers"]):
            try:
                await admit(scope, limits, None, None)
            except RateLimited as refused:
                request_id = state.get("request_id") or new_request_id()
                await error_json(refused, request_id)(scope, receive, send)
                return

        async def send_with_limits(message: Message) -> None:
            if message["type"] == "http.response.start":
                window = state.get(WINDOW_STATE)
                if window is None:
                    window = await limits.admit(None, None, refusing=False)
                MutableHeaders(scope=message).update(window.headers)
            await send(message)

        await self.app(scope, receive, send_with_limits)
