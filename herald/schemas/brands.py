"""Brand bodies."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_serializer

from herald.db.models import Brand
from herald.schemas.posts import rfc3339


class BrandBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)


class BrandPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)


class BrandOut(BaseModel):
    id: uuid.UUID
    workspace_id: uuid.UUID
    name: str
    created_at: datetime
    updated_at: datetime

    @field_serializer("created_at", "updated_at")
    def _times(self, value: datetime) -> str | None:
        return rfc3339(value)

    @classmethod
    def of(cls, brand: Brand) -> BrandOut:
        return cls(
            id=brand.id,
            workspace_id=brand.workspace_id,
            name=brand.name,
            created_at=brand.created_at,
            updated_at=brand.updated_at,
        )


class BrandList(BaseModel):
    data: list[BrandOut]
    next_cursor: str | None = None
