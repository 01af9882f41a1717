"""Post queries. Every read is scoped to a workspace: another workspace's ids are not found."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from herald.db.models import Post, PostTarget


async def get_post(
    session: AsyncSession, workspace_id: uuid.UUID, post_id: uuid.UUID
) -> Post | None:
    result = await session.execute(
        select(Post).where(Post.id == post_id, Post.workspace_id == workspace_id)
    )
    return result.scalar_one_or_none()


async def get_post_for_execution(session: AsyncSession, post_id: uuid.UUID) -> Post | None:
    """Unscoped, for activities: the workflow id already names exactly one post."""
    return await session.get(Post, post_id, with_for_update=True, populate_existing=True)


async def lock_target_and_post(
    session: AsyncSession, target_id: uuid.UUID
) -> tuple[PostTarget, Post] | None:
    """Locks the post, then loads the target from it: a single lock order avoids deadlocks
    between concurrent target updates, and the post's status is derived from all targets."""
    post_id = await session.scalar(select(PostTarget.post_id).where(PostTarget.id == target_id))
    if post_id is None:
        return None
    post = await get_post_for_execution(session, post_id)
    if post is None:
        return None
    target = next((t for t in post.targets if t.id == target_id), None)
    return (target, post) if target is not None else None
