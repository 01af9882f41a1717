"""Media request and response bodies."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_serializer

from herald.schemas.posts import rfc3339
from herald.status import MediaStatus, MediaValidationStatus


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


class BulkValidateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    media_ids: list[uuid.UUID] = Field(min_length=1, max_length=100)


class MediaVerdict(BaseModel):
    """One media file checked again: each platform's verdict on its stored bytes, or why it
    could not be checked (`problem`: not ready, or its bytes are gone or damaged)."""

    media_id: uuid.UUID
    media_status: MediaStatus
    platforms: dict[str, Any] = Field(
        description='Per platform: {"ok": bool, "problems": [...]}, as the media\'s suitability'
    )
    problem: str | None = None


class MediaValidationOut(BaseModel):
    id: uuid.UUID
    status: MediaValidationStatus
    media_ids: list[uuid.UUID]
    results: list[MediaVerdict] = Field(description="Filled in once the status is completed")
    created_at: datetime
    completed_at: datetime | None

    @field_serializer("created_at", "completed_at")
    def _time(self, value: datetime | None) -> str | None:
        return rfc3339(value)
