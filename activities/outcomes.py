"""Storing a target's outcome from an activity: one transaction, and the answer the workflow
keeps (with the post's status as that transaction left it)."""

from __future__ import annotations

import uuid
from typing import Any

from temporalio.exceptions import ApplicationError

from herald.db.engine import SessionFactory
from herald.db.models import PostTarget
from herald.payloads import TargetOutcome
from herald.posts import transitions
from herald.posts.outcomes import StoredOutcome, store_outcome
from herald.status import PostStatus


async def store(
    sessions: SessionFactory, target_id: str, values: dict[str, Any], *, unless_published: bool
) -> TargetOutcome:
    async with sessions() as session, session.begin():
        stored = await store_outcome(
            session, uuid.UUID(target_id), values, unless_published=unless_published
        )
    if stored is None:
        raise ApplicationError("target no longer exists", type="Gone", non_retryable=True)
    return outcome_of(target_id, stored, stored.post_status)


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


async def store_failure(
    sessions: SessionFactory, target_id: str, code: str, message: str, retryable: bool
) -> TargetOutcome:
    # A target an earlier attempt published stays published.
    values = transitions.failed_values(code, message, retryable)
    return await store(sessions, target_id, values, unless_published=True)
