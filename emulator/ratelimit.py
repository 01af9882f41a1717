"""Fixed-window request counting, plus the ASGI middleware that asks platforms to apply it.

Windows are aligned to the epoch (window = now // period), as Rack::Attack does for
Mastodon, so the reset time is the end of the current window rather than a sliding value. X's
windows instead begin with the first request after the last one ended (its reset header is
15 minutes after that request), which ``from_first_hit`` gives.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from emulator.asgi import request_info, send_json
from emulator.platform import PlatformEmulator, split_platform_path

if TYPE_CHECKING:
    from emulator.state import EmulatorState


@dataclass(frozen=True)
class RateLimitResult:
    limit: int
    remaining: int
    reset_at: datetime
    exceeded: bool
    period_s: int = 0


class FixedWindowCounter:
    def __init__(self) -> None:
        self._hits: dict[tuple[str, str, int], int] = {}
        # Where each (rule, key)'s current window began, for windows from the first hit.
        self._starts: dict[tuple[str, str], int] = {}

    def hit(
        self,
        rule: str,
        key: str,
        limit: int,
        period_s: int,
        now: datetime,
        cost: int = 1,
        *,
        from_first_hit: bool = False,
    ) -> RateLimitResult:
        """Spends ``cost`` points (Bluesky weighs repo writes) in the current window."""
        epoch = int(now.timestamp())
        if from_first_hit:
            start = self._starts.get((rule, key))
            if start is None or epoch >= start + period_s:
                start = self._starts[(rule, key)] = epoch
            # Window numbers in units of seconds keep the bucket keys of both kinds apart.
            window, ends = start, start + period_s
        else:
            window = epoch // period_s
            ends = (window + 1) * period_s
        bucket = (rule, key, window)
        # Drop counters of finished windows so a long-running emulator does not grow forever.
        for stale in [b for b in self._hits if b[0] == rule and b[1] == key and b[2] != window]:
            del self._hits[stale]
        count = self._hits.get(bucket, 0) + cost
        self._hits[bucket] = count
        reset_at = datetime.fromtimestamp(ends, UTC)
        return RateLimitResult(
            limit=limit,
            remaining=max(0, limit - count),
            reset_at=reset_at,
            exceeded=count > limit,
            period_s=period_s,
        )

    def clear(self) -> None:
        self._hits.clear()
        self._starts.clear()


class RateLimitMiddleware:
    """Counts every platform request; throttles with the platform's 429 and stamps its headers."""

    def __init__(
        self, app: ASGIApp, state: EmulatorState, platforms: Mapping[str, PlatformEmulator]
    ) -> None:
        self.app = app
        self.state = state
        self.platforms = platforms

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        split = (
            split_platform_path(scope["path"], self.platforms) if scope["type"] == "http" else None
        )
        if split is None:
            await self.app(scope, receive, send)
            return
        platform, subpath = split
        result = platform.rate_limit(self.state, request_info(scope, subpath))
        if result is None:
            await self.app(scope, receive, send)
            return
        if result.exceeded:
            error = platform.rate_limited_error(result)
            await send_json(send, error.status, error.body, error.headers)
            return
        extra = [
            (k.lower().encode("latin-1"), v.encode("latin-1"))
            for k, v in platform.rate_limit_headers(result).items()
        ]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                existing = list(message.get("headers", []))
                # A route that applied a tighter limit of its own already set these headers.
                present = {name.lower() for name, _ in existing}
                added = [(name, value) for name, value in extra if name not in present]
                message = {**message, "headers": [*existing, *added]}
            await send(message)

        await self.app(scope, receive, send_with_headers)
