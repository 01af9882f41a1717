"""Social account queries, scoped to a workspace."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from herald.db.models import AccountGroup, SocialAccount
from herald.repositories.paging import page_by_creation


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
    limit: int = 100,
    cursor: str | None = None,
) -> tuple[Sequence[SocialAccount], str | None]:
    query = select(SocialAccount).where(SocialAccount.workspace_id == workspace_id)
    if brand_id is not None:
        query = query.where(SocialAccount.brand_id == brand_id)
    if platform is not None:
        query = query.where(SocialAccount.platform == platform)
    if status is not None:
        query = query.where(SocialAccount.status == status)
    return await page_by_creation(
        session,
        query,
        SocialAccount.created_at,
        SocialAccount.id,
        limit,
        cursor,
        newest_first=False,
    )


async def get_group(
    session: AsyncSession, workspace_id: uuid.UUID, group_id: uuid.UUID
) -> AccountGroup | None:
    result = await session.execute(
        select(AccountGroup).where(
            AccountGroup.id == group_id, AccountGroup.workspace_id == workspace_id
        )
    )
    return result.scalar_one_or_none()


async def list_groups(
    session: AsyncSession, workspace_id: uuid.UUID, limit: int = 100, cursor: str | None = None
) -> tuple[Sequence[AccountGroup], str | None]:
    query = select(AccountGroup).where(AccountGroup.workspace_id == workspace_id)
    return await page_by_creation(
        session, query, AccountGroup.created_at, AccountGroup.id, limit, cursor, newest_first=False
    )


async def get_account(
    session: AsyncSession, workspace_id: uuid.UUID, account_id: uuid.UUID
) -> SocialAccount | None:
    return (await get_accounts(session, workspace_id, [account_id])).get(account_id)
