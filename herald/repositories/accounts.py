"""Social account queries, scoped to a workspace."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from herald.db.models import Brand, SocialAccount


async def get_accounts(
    session: AsyncSession, workspace_id: uuid.UUID, account_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, SocialAccount]:
    if not account_ids:
        return {}
    result = await session.execute(
        select(SocialAccount).where(
            SocialAccount.workspace_id == workspace_id, SocialAccount.id.in_(set(account_ids))
        )
    )
    return {account.id: account for account in result.scalars()}


async def list_accounts(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    *,
    brand_id: uuid.UUID | None = None,
    platform: str | None = None,
    status: str | None = None,
) -> Sequence[SocialAccount]:
    query = select(SocialAccount).where(SocialAccount.workspace_id == workspace_id)
    if brand_id is not None:
        query = query.where(SocialAccount.brand_id == brand_id)
    if platform is not None:
        query = query.where(SocialAccount.platform == platform)
    if status is not None:
        query = query.where(SocialAccount.status == status)
    result = await session.execute(query.order_by(SocialAccount.created_at, SocialAccount.id))
    return result.scalars().all()


async def get_brand(
    session: AsyncSession, workspace_id: uuid.UUID, brand_id: uuid.UUID
) -> Brand | None:
    result = await session.execute(
        select(Brand).where(Brand.id == brand_id, Brand.workspace_id == workspace_id)
    )
    return result.scalar_one_or_none()
