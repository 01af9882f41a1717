"""Typed answers of Herald's API. Each model names the OpenAPI schema it reads (`schema_name`);
a test keeps its fields in step with the server's document. Unknown fields are kept, not
refused, so an older client reads a newer server."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

POST_TERMINAL_STATUSES = frozenset(
    {"published", "partial", "failed", "cancelled", "rejected", "unpublished", "archived"}
)
TARGET_TERMINAL_STATUSES = frozenset({"published", "failed", "cancelled", "deleted"})


class HeraldModel(BaseModel):
    model_config = ConfigDict(extra="allow")
    schema_name: ClassVar[str]


class TargetError(HeraldModel):
    schema_name = "TargetError"
    code: str
    message: str
    retryable: bool


class Target(HeraldModel):
    schema_name = "TargetOut"
    id: str
    account_id: str
    platform: str
    status: str
    content: str | None = None
    media_ids: list[str] | None = None
    options: dict[str, Any] = Field(default_factory=dict)
    scheduled_time: datetime | None = None
    platform_post_id: str | None = None
    platform_post_url: str | None = None
    error: TargetError | None = None
    attempts: int = 0
    published_at: datetime | None = None
    next_attempt_at: datetime | None = None

    @property
    def is_terminal(self) -> bool:
        return self.status in TARGET_TERMINAL_STATUSES


class Approval(HeraldModel):
    schema_name = "ApprovalOut"
    status: str
    decided_by: str | None = None
    reason: str | None = None


class Post(HeraldModel):
    schema_name = "PostOut"
    id: str
    workspace_id: str
    brand_id: str
    content: str
    media_ids: list[str] = Field(default_factory=list)
    status: str
    scheduled_at: datetime | None = None
    published_at: datetime | None = None
    external_id: str | None = None
    origin: str
    version: int
    approval: Approval | None = None
    recurrence_id: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    targets: list[Target] = Field(default_factory=list)

    @property
    def is_terminal(self) -> bool:
        return self.status in POST_TERMINAL_STATUSES


class RetryItem(HeraldModel):
    schema_name = "RetryItem"
    target_id: str
    status: str
    error: dict[str, Any] | None = None


class RetryResult(HeraldModel):
    schema_name = "RetryOut"
    post: Post
    results: list[RetryItem]


class Problem(HeraldModel):
    schema_name = "Problem"
    code: str
    message: str
    path: str


class TargetValidation(HeraldModel):
    schema_name = "TargetValidation"
    account_id: str
    platform: str
    valid: bool
    problems: list[Problem] = Field(default_factory=list)


class Validation(HeraldModel):
    schema_name = "ValidationOut"
    valid: bool
    targets: list[TargetValidation]


class BulkError(HeraldModel):
    schema_name = "BulkError"
    code: str
    message: str
    details: list[dict[str, str]] = Field(default_factory=list)


class BulkItem(HeraldModel):
    schema_name = "BulkItem"
    index: int
    status: int
    post: Post | None = None
    error: BulkError | None = None


class BulkResult(HeraldModel):
    schema_name = "BulkOut"
    results: list[BulkItem]


class BatchResult(HeraldModel):
    schema_name = "BatchOut"
    data: dict[str, int]


class Account(HeraldModel):
    schema_name = "AccountOut"
    id: str
    brand_id: str
    platform: str
    username: str
    display_name: str | None = None
    avatar_url: str | None = None
    status: str
    token_expires_at: datetime | None = None
    rate_limited_until: datetime | None = None
    settings: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime | None = None


class Media(HeraldModel):
    schema_name = "MediaOut"
    id: str
    brand_id: str
    filename: str
    mime_type: str
    size: int
    width: int | None = None
    height: int | None = None
    duration_s: float | None = None
    status: str
    failure_reason: str | None = None
    url: str | None = None
    suitability: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime | None = None


class Upload(HeraldModel):
    schema_name = "UploadOut"
    media_id: str
    upload_url: str
    method: str
    headers: dict[str, str] = Field(default_factory=dict)
    expires_at: datetime | None = None


class Webhook(HeraldModel):
    schema_name = "EndpointOut"
    id: str
    url: str
    events: list[str]
    description: str | None = None
    is_active: bool
    disabled_reason: str | None = None
    previous_secret_expires_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


class WebhookCreated(Webhook):
    schema_name = "EndpointCreated"
    secret: str


class Attempt(HeraldModel):
    schema_name = "AttemptOut"
    number: int
    at: datetime | None = None
    status_code: int | None = None
    duration_ms: int
    response: str | None = None
    error: str | None = None


class Delivery(HeraldModel):
    schema_name = "DeliveryOut"
    id: str
    message_id: str
    event_id: str | None = None
    event_type: str
    state: str
    attempts: int
    last_status_code: int | None = None
    last_response: str | None = None
    last_duration_ms: int | None = None
    last_error: str | None = None
    next_attempt_at: datetime | None = None
    delivered_at: datetime | None = None
    created_at: datetime | None = None
    attempt_log: list[Attempt] = Field(default_factory=list)


class User(HeraldModel):
    schema_name = "UserOut"
    id: str
    email: str
    name: str
    created_at: datetime | None = None


class TokenPair(HeraldModel):
    schema_name = "TokenPair"
    access_token: str
    refresh_token: str
    token_type: str = "Bearer"
    expires_in: int
    user: User


class Me(HeraldModel):
    schema_name = "MeOut"
    user: User
    workspaces: list[dict[str, Any]] = Field(default_factory=list)


ItemT = TypeVar("ItemT", bound=HeraldModel)


class Page(BaseModel, Generic[ItemT]):
    """One page of a list: its items and the cursor of the next page (None on the last)."""

    data: list[ItemT]
    next_cursor: str | None = None


# Every model above, for the test that holds them to the server's schemas.
MODELS: tuple[type[HeraldModel], ...] = (
    TargetError,
    Target,
    Approval,
    Post,
    RetryItem,
    RetryResult,
    Problem,
    TargetValidation,
    Validation,
    BulkError,
    BulkItem,
    BulkResult,
    BatchResult,
    Account,
    Media,
    Upload,
    Webhook,
    WebhookCreated,
    Attempt,
    Delivery,
    User,
    TokenPair,
    Me,
)
