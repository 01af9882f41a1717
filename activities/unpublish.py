"""Unpublish activities: find a post's published targets, delete one from its platform."""

from __future__ import annotations

import uuid
from datetime import timedelta

from temporalio import activity
from temporalio.exceptions import ApplicationError

from herald.crypto import CredentialCipher
from herald.db.engine import SessionFactory
from herald.db.models import SocialAccount
from herald.payloads import TargetOutcome, TargetRef, UnpublishInput
from herald.posts import transitions
from herald.repositories.posts import get_post_for_execution, lock_target_and_post
from herald.status import TargetError, TargetStatus
from platforms.base import AccountContext, PlatformAdapter, PlatformError, RateLimited, Rejected
from platforms.registry import AdapterRegistry


class UnpublishActivities:
    def __init__(
        self, sessions: SessionFactory, adapters: AdapterRegistry, cipher: CredentialCipher
    ) -> None:
        self._sessions = sessions
        self._adapters = adapters
        self._cipher = cipher

    @activity.defn(name="published_targets")
    async def published_targets(self, input: UnpublishInput) -> list[TargetRef]:
        async with self._sessions() as session:
            post = await get_post_for_execution(session, uuid.UUID(input.post_id))
            if post is None:
                return []
            return [
                TargetRef(id=str(t.id), platform=t.platform)
                for t in post.targets
                if t.status == TargetStatus.PUBLISHED and t.platform_post_id
            ]

    @activity.defn(name="delete_target")
    async def delete_target(self, ref: TargetRef) -> TargetOutcome:
        async with self._sessions() as session:
            found = await lock_target_and_post(session, uuid.UUID(ref.id))
            if found is None:
                raise ApplicationError(
                    "target no longer exists", type=TargetError.REJECTED, non_retryable=True
                )
            target, _ = found
            account = await session.get(SocialAccount, target.account_id)
            assert account is not None
            platform_post_id = target.platform_post_id
            extra_post_ids = list(target.extra_post_ids or [])
            context = self._cipher.context_of(account)
        if target.status == TargetStatus.DELETED or platform_post_id is None:
            return TargetOutcome(target_id=ref.id, status=target.status)
        adapter = self._adapters.get(ref.platform)
        try:
            # Replies and comments first, newest first, then the post they hang on.
            for post_id in [*reversed(extra_post_ids), platform_post_id]:
                await self._delete_one(adapter, context, post_id)
        except PlatformError as err:
            delay = err.retry_after_s if isinstance(err, RateLimited) else None
            raise ApplicationError(
                err.message,
                type=TargetError.PLATFORM_UNAVAILABLE,
                next_retry_delay=timedelta(seconds=delay) if delay else None,
            ) from err
        async with self._sessions() as session, session.begin():
            found = await lock_target_and_post(session, uuid.UUID(ref.id))
            assert found is not None
            target, post = found
            transitions.deleted(session, post, target)
            return TargetOutcome(target_id=ref.id, status=target.status, post_status=post.status)

    @staticmethod
    async def _delete_one(
        adapter: PlatformAdapter, context: AccountContext, platform_post_id: str
    ) -> None:
        try:
            await adapter.delete(context, platform_post_id)
        except Rejected as err:
            # Already gone on the platform (404) is what we wanted; anything else is final.
            if err.status != 404:
                raise ApplicationError(
                    err.message, type=TargetError.REJECTED, non_retryable=True
                ) from err
