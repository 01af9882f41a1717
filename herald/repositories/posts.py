"""Post queries. Every read is scoped to a workspace: another workspace's ids are not found."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import lazyload

from herald.db.models import Post, PostTarget, SocialAccount
from herald.repositories.paging import decode_cursor, encode_keyset
from herald.status import TargetStatus


async def get_post(
    session: AsyncSession, workspace_id: uuid.UUID, post_id: uuid.UUID
) -> Post | None:
    result = await session.execute(
        select(Post)
        .where(Post.id == post_id, Post.workspace_id == workspace_id)
        .execution_options(populate_existing=True)
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
    post = await session.scalar(
        select(Post)
        .join(PostTarget, PostTarget.post_id == Post.id)
        .where(PostTarget.id == target_id)
        .with_for_update(of=Post)
        .execution_options(populate_existing=True)
    )
    if post is None:
        return None
    target = next((t for t in post.targets if t.id == target_id), None)
    return (target, post) if target is not None else None


async def get_targets_for_publishing(
    session: AsyncSession, target_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, tuple[PostTarget, Post, SocialAccount]]:
    """One read for the first attempts of a batch's targets: each target, its post (without
    the other targets) and its account, by target id (a target that is gone is missing)."""
    rows = await session.execute(
        select(PostTarget, Post, SocialAccount)
        .join(Post, Post.id == PostTarget.post_id)
        .join(SocialAccount, SocialAccount.id == PostTarget.account_id)
        .where(PostTarget.id.in_(target_ids))
        .options(lazyload(Post.targets))
    )
    return {target.id: (target, post, account) for target, post, account in rows}


async def save_publish_progress(
    session: AsyncSession, target_id: uuid.UUID, progress: dict[str, Any] | None
) -> None:
    """One statement, holding no other lock: it cannot join a lock cycle with the post's. A
    target no longer publishing (cancelled meanwhile) keeps what it has."""
    await session.execute(
        update(PostTarget)
        .where(PostTarget.id == target_id, PostTarget.status == TargetStatus.PUBLISHING)
        .values(publish_progress=progress)
    )


@dataclass(frozen=True)
class PostFilters:
    status: str | None = None
    brand_id: uuid.UUID | None = None
    account_id: uuid.UUID | None = None
    platform: str | None = None
    scheduled_from: datetime | None = None
    scheduled_to: datetime | None = None
    external_id: str | None = None


def encode_cursor(post: Post) -> str:
    return encode_keyset(post.created_at, post.id)


async def list_posts(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    filters: PostFilters,
    limit: int,
    cursor: str | None = None,
) -> tuple[Sequence[Post], str | None]:
    """Newest first; the cursor is the last row's (created_at, id), so pages stay stable while
    posts are added (keyset, not offset)."""
    query = select(Post).where(Post.workspace_id == workspace_id)
    if filters.status is not None:
        query = query.where(Post.status == filters.status)
    if filters.brand_id is not None:
        query = query.where(Post.brand_id == filters.brand_id)
    if filters.external_id is not None:
        query = query.where(Post.external_id == filters.external_id)
    if filters.scheduled_from is not None:
        query = query.where(Post.scheduled_at >= filters.scheduled_from)
    if filters.scheduled_to is not None:
        query = query.where(Post.scheduled_at < filters.scheduled_to)
    if filters.account_id is not None or filters.platform is not None:
        targets = select(PostTarget.id).where(PostTarget.post_id == Post.id)
        if filters.account_id is not None:
            targets = targets.where(PostTarget.account_id == filters.account_id)
        if filters.platform is not None:
            targets = targets.where(PostTarget.platform == filters.platform)
        query = query.where(targets.exists())
    if cursor is not None:
        created_at, post_id = decode_cursor(cursor)
        query = query.where(tuple_(Post.created_at, Post.id) < tuple_(created_at, post_id))
    query = query.order_by(Post.created_at.desc(), Post.id.desc()).limit(limit + 1)
    rows = (await session.execute(query)).scalars().all()
    page = rows[:limit]
    next_cursor = encode_cursor(page[-1]) if len(rows) > limit else None
    return page, next_cursor


async def list_approvals(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    status: str | None,
    limit: int,
    cursor: str | None,
) -> tuple[Sequence[Post], str | None]:
    """Posts that asked for approval, newest first."""
    query = select(Post).where(Post.workspace_id == workspace_id, Post.approval_status.is_not(None))
    if status is not None:
        query = query.where(Post.approval_status == status)
    if cursor is not None:
        created_at, post_id = decode_cursor(cursor)
        query = query.where(tuple_(Post.created_at, Post.id) < tuple_(created_at, post_id))
    rows = (
        await session.scalars(
            query.order_by(Post.created_at.desc(), Post.id.desc()).limit(limit + 1)
        )
    ).all()
    page = rows[:limit]
    return page, (encode_cursor(page[-1]) if len(rows) > limit else None)
