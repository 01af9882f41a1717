"""Login attempts are counted per email address and per client address before any password is
verified: argon2 is slow on purpose, and an attacker must not turn that into a denial of
service, nor guess one account's password at speed. Counted with the `limits` library (a moving
window) in the API's counters (api/counters.py: Redis when HERALD_REDIS_URL is set, so API
replicas share the counts)."""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse
from limits.aio.strategies import MovingWindowRateLimiter

from api.counters import Counters
from herald.errors import ErrorCode, HeraldError
from herald.settings import Settings


class LoginThrottle:
    def __init__(self, per_email: str, per_address: str, counters: Counters) -> None:
        self._per_email: RateLimitItem = parse(per_email)
        self._per_address: RateLimitItem = parse(per_address)
        self._limiter = counters.limiter(MovingWindowRateLimiter)

    @classmethod
    def of(cls, settings: Settings, counters: Counters) -> LoginThrottle:
        return cls(settings.login_rate_per_email, settings.login_rate_per_address, counters)

    async def attempt(self, email_key: str, address: str) -> None:
        """Counts one attempt; 429 RATE_LIMITED with Retry-After when either limit is spent."""
        for item, scope, who in (
            (self._per_address, "address", address),
            (self._per_email, "email", email_key),
        ):
            if not await self._limiter.hit(item, "login", scope, who):
                stats = await self._limiter.stats(item, "login", scope, who)
                wait = max(1, math.ceil(stats.reset_time - time.time()))
                raise HeraldError(
                    ErrorCode.RATE_LIMITED,
                    f"too many login attempts for this {scope}; try again in {wait} s",
                    headers={"Retry-After": str(wait)},
                )
