"""API key lookup by digest, and a workspace's keys."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from herald.db.models import ApiKey
from herald.repositories.paging import page_by_creation


async def find_active_key(
    session: AsyncSession, digest: str, now: datetime | None = None
) -> ApiKey | None:
    """The key, unless revoked or (when `now` is given) expired."""
    query = select(ApiKey).where(ApiKey.key_digest == digest, ApiKey.revoked_at.is_(None))
    if now is not None:
        query = query.where(or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > now))
    return (await session.execute(query)).scalar_one_or_none()


async def list_keys(
    session: AsyncSession, workspace_id: uuid.UUID, limit: int, cursor: str | None
) -> tuple[Sequence[ApiKey], str | None]:
    query = select(ApiKey).where(ApiKey.workspace_id == workspace_id, ApiKey.revoked_at.is_(None))
    return await page_by_creation(
        session, query, ApiKey.created_at, ApiKey.id, limit, cursor, newest_first=True
    )


async def get_key(
    session: AsyncSession, workspace_id: uuid.UUID, key_id: uuid.UUID
) -> ApiKey | None:
    result = await session.execute(
        select(ApiKey).where(
            ApiKey.id == key_id, ApiKey.workspace_id == workspace_id, ApiKey.revoked_at.is_(None)
        )
    )
    return result.scalar_one_or_none()


async def touch_key(session: AsyncSession, key_id: uuid.UUID, now: datetime) -> None:
    await session.execute(
        update(ApiKey)
        .where(ApiKey.id == key_id, or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < now))
        .values(last_used_at=now)
    )
