"""Post request and response bodies, as API.md defines them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_serializer,
    field_validator,
    model_validator,
)

from herald.db.models import Post, PostTarget
from herald.instants import to_utc
from herald.status import Origin, PostStatus, TargetStatus

MAX_TARGETS = 50


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else to_utc(value)


def rfc3339(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class TargetIn(BaseModel):
    """One account, or an account group standing for each of its accounts."""

    model_config = ConfigDict(extra="forbid")

    account_id: uuid.UUID | None = None
    group_id: uuid.UUID | None = None
    content: str | None = Field(default=None, max_length=100_000)
    media_ids: list[uuid.UUID] | None = None
    options: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_destination(self) -> Self:
        if (self.account_id is None) == (self.group_id is None):
            raise ValueError("give exactly one of account_id and group_id")
        return self

    @property
    def account(self) -> uuid.UUID:
        """The account, once groups were expanded (herald.services.posts.expand_groups)."""
        assert self.account_id is not None, "account groups must be expanded first"
        return self.account_id


class PostCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    brand_id: uuid.UUID | None = None
    content: str = Field(default="", max_length=100_000)
    media_ids: list[uuid.UUID] = Field(default_factory=list, max_length=20)
    targets: list[TargetIn] = Field(min_length=1, max_length=MAX_TARGETS)
    scheduled_at: datetime | None = None
    publish_now: bool = False
    queue: bool = Field(default=False, description="Take each account's next free queue slot")
    draft: bool = False
    external_id: str | None = Field(default=None, max_length=255)

    @field_validator("scheduled_at")
    @classmethod
    def _scheduled_at_utc(cls, value: datetime | None) -> datetime | None:
        return _utc(value)

    @model_validator(mode="after")
    def _one_timing(self) -> Self:
        chosen = [self.scheduled_at is not None, self.publish_now, self.queue, self.draft]
        if sum(chosen) > 1:
            raise ValueError("give only one of scheduled_at, publish_now, queue and draft")
        if not any(chosen):
            raise ValueError("give scheduled_at, publish_now: true, queue: true or draft: true")
        return self


class PostPatch(BaseModel):
    """Fields to change; anything left out stays as it is."""

    model_config = ConfigDict(extra="forbid")

    content: str | None = Field(default=None, max_length=100_000)
    media_ids: list[uuid.UUID] | None = Field(default=None, max_length=20)
    targets: list[TargetIn] | None = Field(default=None, min_length=1, max_length=MAX_TARGETS)
    scheduled_at: datetime | None = None

    @field_validator("scheduled_at")
    @classmethod
    def _scheduled_at_utc(cls, value: datetime | None) -> datetime | None:
        return _utc(value)


class ScheduleBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scheduled_at: datetime

    @field_validator("scheduled_at")
    @classmethod
    def _scheduled_at_utc(cls, value: datetime) -> datetime:
        utc = _utc(value)
        assert utc is not None
        return utc


class SubmitBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scheduled_at: datetime | None = None

    @field_validator("scheduled_at")
    @classmethod
    def _scheduled_at_utc(cls, value: datetime | None) -> datetime | None:
        return _utc(value)


class RetryBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    target_ids: list[uuid.UUID] | None = Field(default=None, min_length=1, max_length=MAX_TARGETS)


class FixBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    content: str | None = Field(default=None, max_length=100_000)
    media_ids: list[uuid.UUID] | None = None
    options: dict[str, Any] | None = None


class TargetError(BaseModel):
    code: str
    message: str
    retryable: bool


class TargetOut(BaseModel):
    id: uuid.UUID
    account_id: uuid.UUID
    platform: str
    status: TargetStatus
    content: str | None
    media_ids: list[str] | None
    options: dict[str, Any]
    scheduled_time: datetime | None
    platform_post_id: str | None
    platform_post_url: str | None
    error: TargetError | None
    attempts: int
    published_at: datetime | None
    # While a retryable error is waited out: when the next attempt is due.
    next_attempt_at: datetime | None = None

    @field_serializer("scheduled_time", "published_at", "next_attempt_at")
    def _times(self, value: datetime | None) -> str | None:
        return rfc3339(value)

    @classmethod
    def of(cls, target: PostTarget, scheduled_at: datetime | None) -> TargetOut:
        error = None
        if target.error_code:
            error = TargetError(
                code=target.error_code,
                message=target.error_message or "",
                retryable=bool(target.error_retryable),
            )
        return cls(
            id=target.id,
            account_id=target.account_id,
            platform=target.platform,
            status=target.status,
            content=target.content,
            media_ids=target.media_ids,
            options=target.options,
            scheduled_time=scheduled_at,
            platform_post_id=target.platform_post_id,
            platform_post_url=target.platform_post_url,
            error=error,
            attempts=target.attempts,
            next_attempt_at=target.next_attempt_at,
            published_at=target.published_at,
        )


class ApprovalOut(BaseModel):
    status: str
    decided_by: str | None
    reason: str | None


class PostOut(BaseModel):
    id: uuid.UUID
    workspace_id: uuid.UUID
    brand_id: uuid.UUID
    content: str
    media_ids: list[str]
    status: PostStatus
    scheduled_at: datetime | None
    published_at: datetime | None
    external_id: str | None
    origin: Origin
    version: int
    approval: ApprovalOut | None
    recurrence_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime
    targets: list[TargetOut]

    @field_serializer("scheduled_at", "published_at", "created_at", "updated_at")
    def _times(self, value: datetime | None) -> str | None:
        return rfc3339(value)

    @classmethod
    def of(cls, post: Post) -> PostOut:
        return cls(
            id=post.id,
            workspace_id=post.workspace_id,
            brand_id=post.brand_id,
            content=post.content,
            media_ids=post.media_ids,
            status=post.status,
            scheduled_at=post.scheduled_at,
            published_at=post.published_at,
            external_id=post.external_id,
            origin=post.origin,
            version=post.version,
            approval=(
                ApprovalOut(
                    status=post.approval_status,
                    decided_by=post.approval_decided_by,
                    reason=post.approval_reason,
                )
                if post.approval_status
                else None
            ),
            recurrence_id=post.recurrence_id,
            created_at=post.created_at,
            updated_at=post.updated_at,
            targets=[TargetOut.of(t, t.scheduled_at or post.scheduled_at) for t in post.targets],
        )


class PostList(BaseModel):
    data: list[PostOut]
    next_cursor: str | None


class RetryItem(BaseModel):
    target_id: uuid.UUID
    status: str
    error: dict[str, Any] | None = None


class RetryOut(BaseModel):
    post: PostOut
    results: list[RetryItem]


class BulkBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Items are validated one by one, so one bad item never blocks the others.
    posts: list[dict[str, Any]] = Field(min_length=1, max_length=100)


class BulkVideoItem(BaseModel):
    """One video of POST /v1/posts/bulk-video, and what its post changes of the shared fields."""

    model_config = ConfigDict(extra="forbid")

    media_id: uuid.UUID
    content: str | None = Field(default=None, max_length=100_000)
    scheduled_at: datetime | None = Field(
        default=None, description="This video's own time (instead of the shared timing)"
    )
    external_id: str | None = Field(default=None, max_length=255)


class BulkVideoBody(BaseModel):
    """The fields every post shares (as in POST /v1/posts, without media_ids), and the videos:
    one post each."""

    model_config = ConfigDict(extra="forbid")

    brand_id: uuid.UUID | None = None
    content: str = Field(default="", max_length=100_000)
    targets: list[TargetIn] = Field(min_length=1, max_length=MAX_TARGETS)
    scheduled_at: datetime | None = None
    publish_now: bool = False
    queue: bool = False
    draft: bool = False
    # Items are validated one by one (BulkVideoItem), so one bad item never blocks the others.
    videos: list[dict[str, Any]] = Field(min_length=1, max_length=100)

    def post_for(self, video: BulkVideoItem) -> PostCreate:
        """The post of one video; raises ValidationError as PostCreate does."""
        own_time = video.scheduled_at is not None
        return PostCreate(
            brand_id=self.brand_id,
            content=video.content if video.content is not None else self.content,
            media_ids=[video.media_id],
            targets=self.targets,
            scheduled_at=video.scheduled_at if own_time else self.scheduled_at,
            publish_now=self.publish_now and not own_time,
            queue=self.queue and not own_time,
            draft=self.draft and not own_time,
            external_id=video.external_id,
        )


class BulkError(BaseModel):
    code: str
    message: str
    details: list[dict[str, str]]


class BulkItem(BaseModel):
    index: int
    status: int
    post: PostOut | None = None
    error: BulkError | None = None


class BulkOut(BaseModel):
    results: list[BulkItem]


class BatchBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ids: list[uuid.UUID] = Field(min_length=1, max_length=50)
    action: Literal["archive", "cancel"]


class BatchOut(BaseModel):
    data: dict[str, int]
