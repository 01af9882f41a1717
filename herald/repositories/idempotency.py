"""Idempotency records: claim a key, store the answer, find a stored answer."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from herald.db.models import IdempotencyRecord


async def find(
    session: AsyncSession, workspace_id: uuid.UUID, key: str
) -> IdempotencyRecord | None:
    return await session.scalar(
        select(IdempotencyRecord).where(
            IdempotencyRecord.workspace_id == workspace_id, IdempotencyRecord.key == key
        )
    )


async def claim(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    key: str,
    fingerprint: str,
    now: datetime,
    expires_at: datetime,
) -> IdempotencyRecord | None:
    """Inserts an in-progress record; None when another request holds the key (the unique
    constraint decides, so two concurrent first requests cannot both win)."""
    record = IdempotencyRecord(
        workspace_id=workspace_id,
        key=key,
        request_fingerprint=fingerprint,
        created_at=now,
        expires_at=expires_at,
    )
    try:
        async with session.begin_nested():
            session.add(record)
    except IntegrityError:
        return None
    return record


async def remove(session: AsyncSession, record_id: uuid.UUID) -> None:
    await session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.id == record_id))


async def delete_expired(session: AsyncSession, now: datetime) -> int:
    result = await session.execute(
        delete(IdempotencyRecord).where(IdempotencyRecord.expires_at <= now)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
