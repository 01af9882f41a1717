"""Where the API's rate-limit counters live (the request limits and the login throttle): in
Redis when HERALD_REDIS_URL is set, so every API replica counts together, else in this
process's memory. Counted by the `limits` library's strategies.

A Redis outage must not take the API down. A call that fails is counted
(`storage_errors`, served as herald_rate_limit_storage_errors_total), the outage is logged
once, and until Redis is tried again (RETRY_S later) every count is kept in this process's
memory instead: the API keeps answering, each replica limiting on its own."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from limits import RateLimitItem
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import RateLimiter
from limits.errors import StorageError
from limits.storage import storage_from_string
from limits.util import WindowStats

log = logging.getLogger(__name__)

# How long the memory counters stand in after a failure before Redis is tried again.
RETRY_S = 5.0

T = TypeVar("T")


class Counters:
    def __init__(self, redis_url: str | None, key_prefix: str, timeout_s: float = 0.25) -> None:
        self._memory = MemoryStorage()
        self._shared: Storage | None = None
        if redis_url:
            shared = storage_from_string(
                f"async+{redis_url}",
                implementation="redispy",
                key_prefix=key_prefix,
                wrap_exceptions=True,
                socket_timeout=timeout_s,
                socket_connect_timeout=timeout_s,
            )
            assert isinstance(shared, Storage)
            self._shared = shared
        self.storage_errors = 0
        self._memory_until = 0.0

    @property
    def shared(self) -> bool:
        return self._shared is not None

    def limiter(self, strategy: type[RateLimiter]) -> Limiter:
        shared = strategy(self._shared) if self._shared is not None else None
        return Limiter(self, shared, strategy(self._memory))

    async def run(
        self,
        shared: RateLimiter | None,
        memory: RateLimiter,
        call: Callable[[RateLimiter], Awaitable[T]],
    ) -> T:
        if shared is None or time.monotonic() < self._memory_until:
            return await call(memory)
        try:
            answer = await call(shared)
        except (StorageError, OSError) as failure:
            self.storage_errors += 1
            if self._memory_until == 0.0:
                log.warning(
                    "rate-limit counters: Redis failed (%s); counting in this process's "
                    "memory until it answers again",
                    failure,
                )
            self._memory_until = time.monotonic() + RETRY_S
            return await call(memory)
        if self._memory_until:
            log.warning("rate-limit counters: Redis answers again; counting there")
            self._memory_until = 0.0
        return answer


class Limiter:
    """One `limits` strategy over the counters (Redis, or memory while Redis is out)."""

    def __init__(self, counters: Counters, shared: RateLimiter | None, memory: RateLimiter):
        self._counters = counters
        self._shared = shared
        self._memory = memory

    async def hit(self, item: RateLimitItem, *identifiers: str) -> bool:
        return await self._counters.run(
            self._shared, self._memory, lambda limiter: limiter.hit(item, *identifiers)
        )

    async def stats(self, item: RateLimitItem, *identifiers: str) -> WindowStats:
        return await self._counters.run(
            self._shared,
            self._memory,
            lambda limiter: limiter.get_window_stats(item, *identifiers),
        )

    async def count(self, item: RateLimitItem, *identifiers: str) -> int:
        """A fixed window's hit that answers the window's count (what the strategy's `hit`
        compares with the limit), so the remaining requests come without a second call."""
        return await self._counters.run(
            self._shared,
            self._memory,
            lambda limiter: limiter.storage.incr(
                item.key_for(*identifiers), item.get_expiry(), amount=1
            ),
        )

    async def window_end(self, item: RateLimitItem, *identifiers: str) -> float:
        return await self._counters.run(
            self._shared,
            self._memory,
            lambda limiter: limiter.storage.get_expiry(item.key_for(*identifiers)),
        )
