"""When a delivery that failed is tried again."""

from __future__ import annotations

from collections.abc import Sequence

JITTER = 0.1


def retry_delay(
    schedule_s: Sequence[float], failed_attempts: int, retry_after_s: float | None, jitter: float
) -> float | None:
    """Seconds until the next attempt after `failed_attempts` failures (the first attempt is
    immediate and not in `schedule_s`), or None when the schedule is spent. `jitter` in
    [0, 1) spreads retries of many deliveries apart; a receiver's Retry-After is a floor."""
    step = failed_attempts - 1
    if step >= len(schedule_s):
        return None
    wait = schedule_s[step] * (1 + JITTER * jitter)
    return max(wait, retry_after_s or 0.0)
