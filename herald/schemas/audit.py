"""Audit log answers."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, field_serializer

from herald.db.models import AuditEvent
from herald.principal import ActorType
from herald.schemas.posts import rfc3339


class ActorOut(BaseModel):
    type: ActorType
    id: str


class AuditEventOut(BaseModel):
    id: uuid.UUID
    action: str
    actor: ActorOut
    resource_type: str
    resource_id: str
    metadata: dict[str, Any]
    created_at: datetime

    @field_serializer("created_at")
    def _time(self, value: datetime) -> str | None:
        return rfc3339(value)

    @classmethod
    def of(cls, row: AuditEvent) -> AuditEventOut:
        return cls(
            id=row.id,
            action=row.action,
            actor=ActorOut(type=ActorType(row.actor_type), id=row.actor_id),
            resource_type=row.resource_type,
            resource_id=row.resource_id,
            metadata=row.details,
            created_at=row.created_at,
        )


class AuditEventList(BaseModel):
    data: list[AuditEventOut]
    next_cursor: str | None = None
