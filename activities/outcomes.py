"""Storing targets' outcomes from activities, and the answer the workflow keeps (with the post's
status as the storing transaction left it).

Outcomes that arrive while an earlier write is under way are stored together in the next
transaction (group commit): with many platform calls finishing at once, one transaction and
one set of statements serve them all instead of one each. A single outcome is written at once."""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

from temporalio.exceptions import ApplicationError

from herald.db.engine import SessionFactory
from herald.db.models import PostTarget
from herald.payloads import TargetOutcome
from herald.posts import transitions
from herald.posts.outcomes import OutcomeWrite, StoredOutcome, store_outcomes
from herald.status import PostStatus

log = logging.getLogger(__name__)

# Enough to absorb every platform activity of a worker finishing at once.
MAX_BATCH = 64

_Waiting = tuple[OutcomeWrite, "asyncio.Future[StoredOutcome | None]"]


class OutcomeStore:
    def __init__(self, sessions: SessionFactory, max_batch: int = MAX_BATCH) -> None:
        self._sessions = sessions
        self._max_batch = max_batch
        self._waiting: list[_Waiting] = []
        self._writer: asyncio.Task[None] | None = None

    async def store(
        self, target_id: str, values: dict[str, Any], *, unless_published: bool
    ) -> TargetOutcome:
        write = OutcomeWrite(uuid.UUID(target_id), values, unless_published)
        future: asyncio.Future[StoredOutcome | None] = asyncio.get_running_loop().create_future()
        self._waiting.append((write, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_waiting())
        # An activity cancelled meanwhile still has its outcome stored: it is the truth.
        stored = await asyncio.shield(future)
        if stored is None:
            raise ApplicationError("target no longer exists", type="Gone", non_retryable=True)
        return outcome_of(target_id, stored, stored.post_status)

    async def store_failure(
        self, target_id: str, code: str, message: str, retryable: bool
    ) -> TargetOutcome:
        # A target an earlier attempt published stays published.
        values = transitions.failed_values(code, message, retryable)
        return await self.store(target_id, values, unless_published=True)

    async def _write_waiting(self) -> None:
        batch: list[_Waiting] = []
        try:
            await self._write_batches(batch)
        except BaseException:
            # Cancelled (the worker is stopping): nobody may wait forever on a write.
            for _, future in [*batch, *self._waiting]:
                _settle(future, error=RuntimeError("the outcome store stopped"))
            self._waiting.clear()
            raise

    async def _write_batches(self, batch: list[_Waiting]) -> None:
        """Writes what is waiting, batch by batch; `batch` holds the one being written."""
        while self._waiting:
            batch[:] = self._waiting[: self._max_batch]
            del self._waiting[: self._max_batch]
            try:
                results = await self._write([write for write, _ in batch])
            except Exception as err:
                if len(batch) == 1:
                    _settle(batch[0][1], error=err)
                    continue
                # One bad write must not fail the others: each on its own, in order.
                log.warning("storing %d outcomes together failed (%s); one by one", len(batch), err)
                for write, future in batch:
                    try:
                        [result] = await self._write([write])
                    except Exception as one_err:
                        _settle(future, error=one_err)
                    else:
                        _settle(future, result)
                continue
            for (_, future), result in zip(batch, results, strict=True):
                _settle(future, result)

    async def _write(self, writes: list[OutcomeWrite]) -> list[StoredOutcome | None]:
        async with self._sessions() as session, session.begin():
            return await store_outcomes(session, writes)


def _settle(
    future: asyncio.Future[StoredOutcome | None],
    result: StoredOutcome | None = None,
    *,
    error: Exception | None = None,
) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
        # Retrieved here too, so a caller cancelled meanwhile leaves no "never retrieved" warning.
        future.add_done_callback(lambda f: f.exception())
    else:
        future.set_result(result)


def outcome_of(
    target_id: str, target: StoredOutcome | PostTarget, post_status: PostStatus | None = None
) -> TargetOutcome:
    """What the workflow keeps of a target's outcome (`post_status`: the post's status as the
    transaction that stored it left it, when known)."""
    return TargetOutcome(
        target_id=target_id,
        status=target.status,
        platform_post_id=target.platform_post_id,
        platform_post_url=target.platform_post_url,
        error_code=target.error_code,
        error_message=target.error_message,
        post_status=post_status,
    )
