"""Mirror request and response bodies (API.md "Mirrors", seed 004)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_serializer, field_validator

from herald.db.models import Mirror, MirrorPost
from herald.instants import to_utc
from herald.schemas.posts import rfc3339


class TypeFilters(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: bool = True
    image: bool = True
    quote: bool = True
    video: bool = True


class HashtagFilters(BaseModel):
    model_config = ConfigDict(extra="forbid")

    include: list[str] = Field(default_factory=list, max_length=100)
    exclude: list[str] = Field(default_factory=list, max_length=100)


class MediaFilters(BaseModel):
    """Which kinds of a source post's attachments the copies carry (`types` decides which
    posts are copied at all): a kind switched off is left off the copy, which keeps its text."""

    model_config = ConfigDict(extra="forbid")

    image: bool = True
    video: bool = True


class ContentFilters(BaseModel):
    model_config = ConfigDict(extra="forbid")

    types: TypeFilters = Field(default_factory=TypeFilters)
    hashtags: HashtagFilters = Field(default_factory=HashtagFilters)
    media: MediaFilters = Field(default_factory=MediaFilters)


class MirrorSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    content_filters: ContentFilters = Field(default_factory=ContentFilters)
    delay_minutes: int | None = Field(default=None, ge=0, le=60 * 24 * 30)
    use_queue: bool = False


class ExistingContentConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    since: datetime | None = None
    limit: int | None = Field(default=None, ge=1, le=200)

    @field_validator("since")
    @classmethod
    def _since_utc(cls, value: datetime | None) -> datetime | None:
        return to_utc(value) if value else None


class MirrorBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    source_account_id: uuid.UUID
    target_account_ids: list[uuid.UUID] = Field(min_length=1, max_length=50)
    is_active: bool = True
    future_content_enabled: bool = True
    existing_content_enabled: bool = False
    existing_content_config: ExistingContentConfig = Field(default_factory=ExistingContentConfig)
    settings: MirrorSettings = Field(default_factory=MirrorSettings)


class MirrorPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    target_account_ids: list[uuid.UUID] | None = Field(default=None, min_length=1, max_length=50)
    is_active: bool | None = None
    future_content_enabled: bool | None = None
    settings: MirrorSettings | None = None


class MirrorOut(BaseModel):
    id: uuid.UUID
    name: str
    description: str | None
    source_account_id: uuid.UUID
    target_account_ids: list[uuid.UUID]
    is_active: bool
    future_content_enabled: bool
    existing_content_enabled: bool
    existing_content_config: dict[str, Any]
    settings: dict[str, Any]
    last_checked: datetime | None
    last_enabled_at: datetime | None

    @field_serializer("last_checked", "last_enabled_at")
    def _times(self, value: datetime | None) -> str | None:
        return rfc3339(value)

    @classmethod
    def of(cls, mirror: Mirror) -> MirrorOut:
        return cls(
            id=mirror.id,
            name=mirror.name,
            description=mirror.description,
            source_account_id=mirror.source_account_id,
            target_account_ids=[uuid.UUID(a) for a in mirror.target_account_ids],
            is_active=mirror.is_active,
            future_content_enabled=mirror.future_content_enabled,
            existing_content_enabled=mirror.existing_content_enabled,
            existing_content_config=mirror.existing_content_config,
            settings=mirror.settings,
            last_checked=mirror.last_checked,
            last_enabled_at=mirror.last_enabled_at,
        )


class MirrorList(BaseModel):
    data: list[MirrorOut]
    next_cursor: str | None = None


class MirrorPostOut(BaseModel):
    id: uuid.UUID
    source_post_id: str
    source_created_at: datetime
    derived_status: str
    reason: str | None
    scheduled_for: datetime | None
    posted_at: datetime | None
    post_id: uuid.UUID | None
    platform_metadata: dict[str, Any]

    @field_serializer("source_created_at", "scheduled_for", "posted_at")
    def _times(self, value: datetime | None) -> str | None:
        return rfc3339(value)

    @classmethod
    def of(
        cls, record: MirrorPost, post_status: str | None, posted_at: datetime | None
    ) -> MirrorPostOut:
        derived = record.detected_status
        if record.post_id is not None and post_status in ("published", "partial"):
            derived = "posted"
        elif record.post_id is not None and post_status in ("failed", "cancelled"):
            derived = "failed"
        return cls(
            id=record.id,
            source_post_id=record.source_post_id,
            source_created_at=record.source_created_at,
            derived_status=derived,
            reason=record.reason,
            scheduled_for=record.scheduled_for,
            posted_at=posted_at,
            post_id=record.post_id,
            platform_metadata=record.platform_metadata,
        )


class MirrorPostList(BaseModel):
    data: list[MirrorPostOut]
    next_cursor: str | None = None
