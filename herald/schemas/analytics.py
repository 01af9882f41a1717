"""Request and response bodies of the analytics endpoints and the account backfill."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_serializer, field_validator

from herald.instants import to_utc
from herald.schemas.posts import rfc3339


class BackfillOut(BaseModel):
    account_id: str
    status: Literal["started"] = "started"


class Counters(BaseModel):
    """Herald's normalised metrics; null where the platform does not report one."""

    impressions: int | None = None
    reach: int | None = None
    likes: int | None = None
    comments: int | None = None
    shares: int | None = None
    saves: int | None = None
    clicks: int | None = None
    video_views: int | None = None


class Sample(Counters):
    sampled_at: datetime
    engagement: int | None = None

    @field_serializer("sampled_at")
    def _time(self, value: datetime) -> str | None:
        return rfc3339(value)


class LatestSample(Sample):
    raw: dict[str, int] = Field(default_factory=dict, description="The platform's own numbers")


class TargetAnalytics(BaseModel):
    target_id: str
    account_id: str
    platform: str
    platform_post_id: str | None
    published_at: datetime | None
    latest: LatestSample | None
    series: list[Sample]

    @field_serializer("published_at")
    def _time(self, value: datetime | None) -> str | None:
        return rfc3339(value) if value else None


class PostAnalytics(BaseModel):
    post_id: str
    targets: list[TargetAnalytics]


class Bucket(Counters):
    start: datetime
    end: datetime
    followers: int | None = None
    engagement: int | None = None

    @field_serializer("start", "end")
    def _time(self, value: datetime) -> str | None:
        return rfc3339(value)


class AccountAnalytics(BaseModel):
    account_id: str
    platform: str
    interval: Literal["day", "week"]
    followers: int | None = Field(description="At the end of the range (latest sample)")
    follower_growth: int
    series: list[Bucket]


class Overview(BaseModel):
    brand_id: str
    start: datetime = Field(serialization_alias="from")
    end: datetime = Field(serialization_alias="to")
    followers: int
    follower_growth: int
    impressions: int | None
    engagement: int | None
    engagement_rate: float | None
    posts: int

    @field_serializer("start", "end")
    def _time(self, value: datetime) -> str | None:
        return rfc3339(value)


class ExportBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    brand_id: uuid.UUID
    start: datetime = Field(alias="from")
    end: datetime = Field(alias="to")
    format: Literal["csv"] = "csv"

    @field_validator("start", "end")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return to_utc(value)


class ExportStarted(BaseModel):
    export_id: str


class ExportOut(BaseModel):
    export_id: str
    status: Literal["pending", "running", "done", "failed"]
    rows: int | None = None
    download_url: str | None = None
    error: str | None = None
