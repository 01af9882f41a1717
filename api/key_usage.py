"""`last_used_at` of API keys without a write per request: a key's row is touched at most once
a minute (the row it was looked up with says when it last was, so replicas and restarts need no
shared state), in a short transaction of its own after the request's lookup, off its path."""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import datetime, timedelta

from herald.db.engine import SessionFactory
from herald.db.models import ApiKey
from herald.repositories.api_keys import touch_key

log = logging.getLogger(__name__)

GRANULARITY = timedelta(minutes=1)


class KeyUsage:
    def __init__(self, sessions: SessionFactory) -> None:
        self._sessions = sessions
        # Touches this process started within the last minute, so a burst writes once.
        self._started: dict[uuid.UUID, datetime] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def seen(self, key: ApiKey, now: datetime) -> None:
        if key.last_used_at is not None and now - key.last_used_at < GRANULARITY:
            return
        started = self._started.get(key.id)
        if started is not None and now - started < GRANULARITY:
            return
        if len(self._started) > 10_000:
            self._started = {k: t for k, t in self._started.items() if now - t < GRANULARITY}
        self._started[key.id] = now
        task = asyncio.get_running_loop().create_task(self._touch(key.id, now))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _touch(self, key_id: uuid.UUID, now: datetime) -> None:
        try:
            async with self._sessions() as session, session.begin():
                await touch_key(session, key_id, now)
        except Exception as exc:  # a lost touch costs a minute of precision, nothing more
            log.warning("could not record the use of API key %s: %s", key_id, exc)

    async def close(self) -> None:
        await asyncio.gather(*self._tasks, return_exceptions=True)
