"""Media request and response bodies."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_serializer

from herald.schemas.posts import rfc3339
from herald.status import MediaStatus


class UploadRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    brand_id: uuid.UUID
    filename: str = Field(min_length=1, max_length=255)
    mime_type: str = Field(min_length=3, max_length=100, pattern=r"^[\w.+-]+/[\w.+-]+$")
    size: int = Field(ge=1, description="Bytes the client will PUT; enforced")


class ImportRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    brand_id: uuid.UUID
    url: HttpUrl
    filename: str | None = Field(default=None, min_length=1, max_length=255)


class UploadOut(BaseModel):
    media_id: uuid.UUID
    upload_url: str
    method: str
    headers: dict[str, str]
    expires_at: datetime

    @field_serializer("expires_at")
    def _time(self, value: datetime) -> str | None:
        return rfc3339(value)


class BulkPresignRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    files: list[dict[str, Any]] = Field(min_length=1, max_length=50)


class BulkPresignItem(BaseModel):
    index: int
    status: int
    upload: UploadOut | None = None
    error: dict[str, Any] | None = None


class BulkPresignOut(BaseModel):
    results: list[BulkPresignItem]


class MediaOut(BaseModel):
    id: uuid.UUID
    brand_id: uuid.UUID
    filename: str
    mime_type: str
    size: int
    width: int | None
    height: int | None
    duration_s: float | None
    status: MediaStatus
    failure_reason: str | None
    url: str | None
    suitability: dict[str, Any]
    created_at: datetime

    @field_serializer("created_at")
    def _time(self, value: datetime) -> str | None:
        return rfc3339(value)


class MediaList(BaseModel):
    data: list[MediaOut]
    next_cursor: str | None = None
