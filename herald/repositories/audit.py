"""Audit log queries: a workspace's rows, newest first, filtered."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from herald.db.models import AuditEvent
from herald.repositories.paging import page_by_creation


@dataclass(frozen=True)
class AuditFilter:
    resource_type: str | None = None
    resource_id: str | None = None
    actor_id: str | None = None
    actor_type: str | None = None
    action: str | None = None


async def list_audit_events(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    where: AuditFilter,
    limit: int,
    cursor: str | None,
) -> tuple[Sequence[AuditEvent], str | None]:
    query = select(AuditEvent).where(AuditEvent.workspace_id == workspace_id)
    if where.resource_type is not None:
        query = query.where(AuditEvent.resource_type == where.resource_type)
    if where.resource_id is not None:
        query = query.where(AuditEvent.resource_id == where.resource_id)
    if where.actor_id is not None:
        query = query.where(AuditEvent.actor_id == where.actor_id)
    if where.actor_type is not None:
        query = query.where(AuditEvent.actor_type == where.actor_type)
    if where.action is not None:
        query = query.where(AuditEvent.action == where.action)
    return await page_by_creation(
        session, query, AuditEvent.created_at, AuditEvent.id, limit, cursor, newest_first=True
    )
