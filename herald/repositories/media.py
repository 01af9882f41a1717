"""Media queries, scoped to a workspace."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from herald.db.models import Media
from herald.repositories.posts import decode_cursor, encode_keyset


async def get_media(
    session: AsyncSession, workspace_id: uuid.UUID, media_id: uuid.UUID
) -> Media | None:
    result = await session.execute(
        select(Media).where(Media.id == media_id, Media.workspace_id == workspace_id)
    )
    return result.scalar_one_or_none()


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
    if cursor is not None:
        created_at, media_id = decode_cursor(cursor)
        query = query.where(tuple_(Media.created_at, Media.id) < tuple_(created_at, media_id))
    query = query.order_by(Media.created_at.desc(), Media.id.desc()).limit(limit + 1)
    rows = (await session.execute(query)).scalars().all()
    page = rows[:limit]
    next_cursor = encode_keyset(page[-1].created_at, page[-1].id) if len(rows) > limit else None
    return page, next_cursor
