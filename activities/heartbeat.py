"""Heartbeats while an activity waits on something slow, so a worker that dies is noticed in
seconds (the heartbeat timeout), not after the whole start-to-close timeout."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from temporalio import activity

INTERVAL_S = 2.0


@contextlib.asynccontextmanager
async def heartbeating() -> AsyncIterator[None]:
    async def beat() -> None:
        # The first beat only after an interval: most calls finish sooner, and each beat is a
        # request to the Temporal server.
        while True:
            await asyncio.sleep(INTERVAL_S)
            activity.heartbeat()

    task = asyncio.create_task(beat())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
