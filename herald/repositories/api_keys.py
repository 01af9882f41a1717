"""API key lookup by digest."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from herald.db.models import ApiKey


async def find_active_key(session: AsyncSession, digest: str) -> ApiKey | None:
    result = await session.execute(
        select(ApiKey).where(ApiKey.key_digest == digest, ApiKey.revoked_at.is_(None))
    )
    return result.scalar_one_or_none()
