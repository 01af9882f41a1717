"""Brand queries, scoped to a workspace; a deleted brand is not found."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from herald.db.models import Brand, Post, SocialAccount
from herald.repositories.paging import page_by_creation
from herald.status import AccountStatus, PostStatus

# Posts that may still publish: a brand with one of these is still in use.
UNFINISHED_POSTS = frozenset(
    {
        PostStatus.DRAFT,
        PostStatus.PENDING_APPROVAL,
        PostStatus.SCHEDULED,
        PostStatus.QUEUED,
        PostStatus.PROCESSING,
    }
)


async def get_brand(
    session: AsyncSession, workspace_id: uuid.UUID, brand_id: uuid.UUID
) -> Brand | None:
    result = await session.execute(
        select(Brand).where(
            Brand.id == brand_id, Brand.workspace_id == workspace_id, Brand.deleted_at.is_(None)
        )
    )
    return result.scalar_one_or_none()


async def list_brands(
    session: AsyncSession, workspace_id: uuid.UUID, limit: int, cursor: str | None
) -> tuple[Sequence[Brand], str | None]:
    query = select(Brand).where(Brand.workspace_id == workspace_id, Brand.deleted_at.is_(None))
    return await page_by_creation(
        session, query, Brand.created_at, Brand.id, limit, cursor, newest_first=False
    )


async def connected_account_count(session: AsyncSession, brand_id: uuid.UUID) -> int:
    count = await session.scalar(
        select(func.count()).where(
            SocialAccount.brand_id == brand_id, SocialAccount.status != AccountStatus.REVOKED
        )
    )
    return int(count or 0)


async def has_unfinished_posts(session: AsyncSession, brand_id: uuid.UUID) -> bool:
    row = await session.execute(
        select(Post.id).where(Post.brand_id == brand_id, Post.status.in_(UNFINISHED_POSTS)).limit(1)
    )
    return row.first() is not None
