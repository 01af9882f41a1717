"""Media queries, scoped to a workspace."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from herald.db.models import Media, MediaValidation
from herald.repositories.paging import page_by_creation


async def get_media(
    session: AsyncSession, workspace_id: uuid.UUID, media_id: uuid.UUID
) -> Media | None:
    result = await session.execute(
        select(Media).where(Media.id == media_id, Media.workspace_id == workspace_id)
    )
    return result.scalar_one_or_none()


async def get_media_by_storage_key(session: AsyncSession, key: str) -> Media | None:
    """The media whose bytes live under `key` ("<workspace>/<media id>")."""
    try:
        media_id = uuid.UUID(key.rsplit("/", 1)[-1])
    except ValueError:
        return None
    media = await session.get(Media, media_id)
    return media if media is not None and media.storage_key == key else None


async def get_media_many(
    session: AsyncSession, workspace_id: uuid.UUID, media_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Media]:
    if not media_ids:
        return {}
    result = await session.execute(
        select(Media).where(Media.workspace_id == workspace_id, Media.id.in_(set(media_ids)))
    )
    return {m.id: m for m in result.scalars()}


async def list_media(
    session: AsyncSession, workspace_id: uuid.UUID, limit: int, cursor: str | None
) -> tuple[Sequence[Media], str | None]:
    query = select(Media).where(Media.workspace_id == workspace_id)
    return await page_by_creation(
        session, query, Media.created_at, Media.id, limit, cursor, newest_first=True
    )


async def get_media_validation(
    session: AsyncSession, workspace_id: uuid.UUID, validation_id: uuid.UUID
) -> MediaValidation | None:
    result = await session.execute(
        select(MediaValidation).where(
            MediaValidation.id == validation_id, MediaValidation.workspace_id == workspace_id
        )
    )
    return result.scalar_one_or_none()
