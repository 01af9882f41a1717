"""Mirror queries, scoped to a workspace."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from herald.db.models import Mirror, MirrorPost, Post
from herald.repositories.paging import page_by_creation
from herald.status import PostStatus


async def get_mirror(
    session: AsyncSession, workspace_id: uuid.UUID, mirror_id: uuid.UUID
) -> Mirror | None:
    return await session.scalar(
        select(Mirror).where(Mirror.id == mirror_id, Mirror.workspace_id == workspace_id)
    )


async def list_mirrors(
    session: AsyncSession, workspace_id: uuid.UUID, limit: int = 100, cursor: str | None = None
) -> tuple[Sequence[Mirror], str | None]:
    query = select(Mirror).where(Mirror.workspace_id == workspace_id)
    return await page_by_creation(
        session, query, Mirror.created_at, Mirror.id, limit, cursor, newest_first=False
    )


async def list_mirror_posts(
    session: AsyncSession, mirror_id: uuid.UUID, limit: int
) -> list[tuple[MirrorPost, PostStatus | None, datetime | None]]:
    """Source posts newest first, with the status and publish time of the copy, if any."""
    rows = await session.execute(
        select(MirrorPost, Post.status, Post.published_at)
        .outerjoin(Post, Post.id == MirrorPost.post_id)
        .where(MirrorPost.mirror_id == mirror_id)
        .order_by(MirrorPost.source_created_at.desc(), MirrorPost.id.desc())
        .limit(limit)
    )
    return [(record, status, at) for record, status, at in rows.all()]
