"""State changes of an existing post that the database alone decides: delete, archive, clone,
duplicate, and preparing retry and fix runs. Changes to a post whose workflow is waiting go
through workflow Updates instead (api.routes.posts), so the timer and the rows never disagree.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from herald.db.models import Post, PostTarget, QueueSlotClaim
from herald.errors import ErrorCode, HeraldError
from herald.principal import Principal
from herald.repositories.posts import get_post
from herald.schemas.posts import PostOut
from herald.services.events import record_event
from herald.services.post_state import refresh_status
from herald.status import PostPhase, PostStatus, TargetStatus

DELETABLE = frozenset(
    {
        PostStatus.DRAFT,
        PostStatus.CANCELLED,
        PostStatus.FAILED,
        PostStatus.ARCHIVED,
        PostStatus.REJECTED,
    }
)
ARCHIVABLE = frozenset(
    {
        PostStatus.DRAFT,
        PostStatus.PUBLISHED,
        PostStatus.PARTIAL,
        PostStatus.FAILED,
        PostStatus.CANCELLED,
        PostStatus.REJECTED,
    }
)
UNPUBLISHABLE = frozenset({PostStatus.PUBLISHED, PostStatus.PARTIAL})
RETRYABLE = frozenset({PostStatus.FAILED, PostStatus.PARTIAL})


async def post_for_change(
    session: AsyncSession, principal: Principal, post_id: uuid.UUID, if_match: str | None
) -> Post:
    """The post, if it exists in the caller's workspace and If-Match (when sent) is current."""
    post = await get_post(session, principal.workspace_id, post_id)
    if post is None:
        raise HeraldError.not_found("post")
    if if_match is not None:
        given = if_match.strip().removeprefix("W/").strip('"')
        if given != str(post.version):
            raise HeraldError(
                ErrorCode.PRECONDITION_FAILED,
                f"the post is at version {post.version}, not {given}; fetch it and try again",
            )
    return post


def refuse_unless(post: Post, allowed: frozenset[PostStatus], action: str) -> None:
    if post.status not in allowed:
        names = ", ".join(sorted(s.value for s in allowed))
        raise HeraldError.conflict(f"cannot {action} a post that is {post.status} (only {names})")


async def delete_post(session: AsyncSession, post: Post) -> None:
    refuse_unless(post, DELETABLE, "delete")
    await session.execute(delete(PostTarget).where(PostTarget.post_id == post.id))
    await session.execute(delete(Post).where(Post.id == post.id))


def archive_post(session: AsyncSession, post: Post) -> None:
    refuse_unless(post, ARCHIVABLE, "archive")
    post.phase = PostPhase.ARCHIVED
    post.version += 1
    refresh_status(session, post)


def copy_post(
    session: AsyncSession,
    source: Post,
    principal: Principal,
    now: datetime,
    scheduled_at: datetime | None,
) -> Post:
    """A new post with the same content and targets: a draft, or scheduled at `scheduled_at`."""
    phase = PostPhase.SCHEDULED if scheduled_at is not None else PostPhase.DRAFT
    waiting = TargetStatus.SCHEDULED if scheduled_at is not None else TargetStatus.PENDING
    copy = Post(
        id=uuid.uuid4(),
        workspace_id=source.workspace_id,
        brand_id=source.brand_id,
        content=source.content,
        media_ids=list(source.media_ids),
        phase=phase,
        scheduled_at=scheduled_at,
        external_id=None,
        origin=source.origin,
        version=1,
        created_by_type=principal.actor_type,
        created_by_id=principal.actor_id,
        created_at=now,
        updated_at=now,
        targets=[
            PostTarget(
                id=uuid.uuid4(),
                account_id=t.account_id,
                position=t.position,
                platform=t.platform,
                status=waiting,
                content=t.content,
                media_ids=list(t.media_ids) if t.media_ids is not None else None,
                options=dict(t.options),
                attempts=0,
            )
            for t in source.targets
        ],
    )
    session.add(copy)
    refresh_status(session, copy)
    record_event(
        session,
        copy.workspace_id,
        "post.created",
        "post",
        copy.id,
        PostOut.of(copy).model_dump(mode="json"),
    )
    return copy


def duplicate_time(source: Post, now: datetime) -> datetime | None:
    """The copy is as far ahead of now as the original was ahead of its creation."""
    if source.scheduled_at is None:
        return None
    offset = source.scheduled_at - source.created_at
    return now + offset if offset.total_seconds() > 0 else None


@dataclass(frozen=True)
class RetryResult:
    target_id: uuid.UUID
    status: str
    error: dict[str, Any] | None = None


def _requeue(target: PostTarget) -> None:
    target.status = TargetStatus.SCHEDULED
    target.scheduled_at = None
    target.error_code = target.error_message = None
    target.error_retryable = None


async def prepare_retry(
    session: AsyncSession, post: Post, target_ids: list[uuid.UUID] | None
) -> list[RetryResult]:
    """Re-queues failed targets (all failed ones when none are named); others are reported."""
    refuse_unless(post, RETRYABLE, "retry")
    by_id = {t.id: t for t in post.targets}
    wanted = (
        target_ids
        if target_ids is not None
        else [t.id for t in post.targets if t.status == TargetStatus.FAILED]
    )
    results: list[RetryResult] = []
    for target_id in wanted:
        target = by_id.get(target_id)
        if target is None:
            results.append(
                RetryResult(
                    target_id,
                    "skipped",
                    {"code": "NOT_FOUND", "message": "no such target on this post"},
                )
            )
        elif target.status != TargetStatus.FAILED:
            results.append(
                RetryResult(
                    target_id,
                    "skipped",
                    {
                        "code": "CONFLICT",
                        "message": f"the target is {target.status}; only failed targets retry",
                    },
                )
            )
        else:
            _requeue(target)
            results.append(RetryResult(target_id, "queued"))
    if any(r.status == "queued" for r in results):
        post.phase = PostPhase.QUEUED
        post.version += 1
        refresh_status(session, post)
    return results


def prepare_fix(
    session: AsyncSession, post: Post, target_id: uuid.UUID, changes: dict[str, Any]
) -> PostTarget:
    target = next((t for t in post.targets if t.id == target_id), None)
    if target is None:
        raise HeraldError.not_found("target")
    if target.status != TargetStatus.FAILED:
        raise HeraldError.conflict(f"the target is {target.status}; only a failed target is fixed")
    for field, value in changes.items():
        setattr(target, field, value)
    _requeue(target)
    post.phase = PostPhase.QUEUED
    post.version += 1
    refresh_status(session, post)
    return target


async def release_queue_slots(session: AsyncSession, post: Post) -> None:
    """Frees the queue slots a post's targets held, e.g. when it is cancelled or rescheduled."""
    ids = [t.id for t in post.targets]
    if ids:
        await session.execute(delete(QueueSlotClaim).where(QueueSlotClaim.target_id.in_(ids)))


def leave_draft(session: AsyncSession, post: Post, phase: PostPhase, at: datetime) -> None:
    """A draft becomes scheduled (or queued to publish now) at `at`."""
    post.phase = phase
    post.scheduled_at = at
    post.version += 1
    for target in post.targets:
        target.status = TargetStatus.SCHEDULED
    refresh_status(session, post)
