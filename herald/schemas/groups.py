"""Account group bodies."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_serializer

from herald.db.models import AccountGroup
from herald.schemas.posts import rfc3339


class GroupBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    account_ids: list[uuid.UUID] = Field(max_length=200)


class GroupPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    account_ids: list[uuid.UUID] | None = Field(default=None, max_length=200)


class GroupOut(BaseModel):
    id: uuid.UUID
    name: str
    account_ids: list[uuid.UUID]
    created_at: datetime
    updated_at: datetime

    @field_serializer("created_at", "updated_at")
    def _times(self, value: datetime) -> str | None:
        return rfc3339(value)

    @classmethod
    def of(cls, group: AccountGroup) -> GroupOut:
        return cls(
            id=group.id,
            name=group.name,
            account_ids=[uuid.UUID(a) for a in group.account_ids],
            created_at=group.created_at,
            updated_at=group.updated_at,
        )


class GroupList(BaseModel):
    data: list[GroupOut]
    next_cursor: str | None = None
