"""Storing one target's outcome and the post status it leads to, in a handful of plain
statements: this runs once per published target, the hottest write in Herald, so it avoids
loading the post and its targets as ORM objects (only the final status change, which emits an
event with the whole post, does).

Concurrent outcomes of one post serialise on the post row (FOR UPDATE; SQLite's writer lock
does the same), so the outcome stored last always sees every other target decided."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from herald.db.models import Post, PostTarget
from herald.db.types import utcnow
from herald.posts.status import derive_post_status, refresh_status
from herald.status import PostPhase, PostStatus, TargetStatus


@dataclass(frozen=True)
class StoredOutcome:
    status: TargetStatus
    platform_post_id: str | None
    platform_post_url: str | None
    error_code: str | None
    error_message: str | None
    post_status: PostStatus


async def store_outcome(
    session: AsyncSession,
    target_id: uuid.UUID,
    values: dict[str, Any],
    *,
    unless_published: bool = False,
) -> StoredOutcome | None:
    """Writes `values` onto the target (not over a published one if `unless_published`) and
    re-derives the post's status; None if the target is gone."""
    locked = (
        await session.execute(
            select(Post.id, Post.phase, Post.status, Post.published_at)
            .join(PostTarget, PostTarget.post_id == Post.id)
            .where(PostTarget.id == target_id)
            .with_for_update(of=Post)
        )
    ).first()
    if locked is None:
        return None
    post_id, phase, before, published_before = locked
    change = update(PostTarget).where(PostTarget.id == target_id)
    if unless_published:
        change = change.where(PostTarget.status != TargetStatus.PUBLISHED)
    await session.execute(change.values(**values, updated_at=utcnow()))
    rows = (
        await session.execute(
            select(
                PostTarget.id,
                PostTarget.status,
                PostTarget.published_at,
                PostTarget.platform_post_id,
                PostTarget.platform_post_url,
                PostTarget.error_code,
                PostTarget.error_message,
            ).where(PostTarget.post_id == post_id)
        )
    ).all()
    mine = next(r for r in rows if r.id == target_id)
    status = derive_post_status(PostPhase(phase), (TargetStatus(r.status) for r in rows))
    published_times: list[datetime] = [r.published_at for r in rows if r.published_at]
    published_at = min(published_times) if published_times else None
    if status != before:
        # Rare (once or twice per post): the event carries the whole post, so load it.
        post = await session.get(Post, post_id, populate_existing=True)
        assert post is not None
        status = refresh_status(session, post)
    elif published_at != published_before:
        await session.execute(
            update(Post).where(Post.id == post_id).values(published_at=published_at)
        )
    return StoredOutcome(
        status=TargetStatus(mine.status),
        platform_post_id=mine.platform_post_id,
        platform_post_url=mine.platform_post_url,
        error_code=mine.error_code,
        error_message=mine.error_message,
        post_status=status,
    )
