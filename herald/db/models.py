"""SQLAlchemy models: the system of record for everything the API reads."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from herald.db.types import JSONType, StrEnumColumn, UTCDateTime, utcnow
from herald.status import (
    AccountStatus,
    ApprovalStatus,
    DeliveryState,
    MediaStatus,
    MediaValidationStatus,
    Origin,
    PostPhase,
    PostStatus,
    TargetStatus,
)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        datetime: UTCDateTime,
        float: Float,
        dict[str, Any]: JSONType,
        list[dict[str, Any]]: JSONType,
        bool: Boolean,
    }


def _uuid() -> uuid.UUID:
    return uuid.uuid4()


class Workspace(Base):
    __tablename__ = "workspaces"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=_uuid)
    name: Mapped[str] = mapped_column(String(200))
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Brand(Base):
    __tablename__ = "brands"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=_uuid)
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspaces.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Deleted brands stay for the finished posts, media and revoked accounts that name them.
    deleted_at: Mapped[datetime | None] = mapped_column(default=None)


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=_uuid)
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspaces.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    # Only a digest is kept: the secret is shown once, on creation.
    key_digest: Mapped[str] = mapped_column(String(64), unique=True)
    key_prefix: Mapped[str] = mapped_column(String(16))
    # None: every permission (keys made before scopes, herald bootstrap / dev).
    permissions: Mapped[list[str] | None] = mapped_column(JSONType, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Who made it through the API (None for keys from the command line).
    created_by_type: Mapped[str | None] = mapped_column(String(16), default=None)
    created_by_id: Mapped[str | None] = mapped_column(String(64), default=None)
    # Written at most once a minute per key (api/auth.py), not on every request.
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)
    expires_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class User(Base):
    """A person who logs in. One account per address whatever its case (`email_key`)."""

    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=_uuid)
    email: Mapped[str] = mapped_column(String(320))
    email_key: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # argon2id, in the PHC string format (parameters and salt included).
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Role(Base):
    """A set of permissions. Built-in roles have no workspace (herald/roles.py is their truth);
    custom ones belong to one."""

    __tablename__ = "roles"
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=_uuid)
    workspace_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("workspaces.id"), default=None
    )
    name: Mapped[str] = mapped_column(String(100))
    permissions: Mapped[list[str]] = mapped_column(JSONType, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Member(Base):
    __tablename__ = "workspace_members"

    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspaces.id"), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), primary_key=True, index=True)
    role_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("roles.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Invitation(Base):
    """A single-use invitation: only a digest of its token is kept (shown once to the inviter)."""

    __tablename__ = "invitations"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=_uuid)
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspaces.id"), index=True)
    email: Mapped[str] = mapped_column(String(320))
    role_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("roles.id"), index=True)
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    invited_by_type: Mapped[str] = mapped_column(String(16))
    invited_by_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    accepted_at: Mapped[datetime | None] = mapped_column(default=None)
    accepted_by: Mapped[uuid.UUID | None] = mapped_column(default=None)


class AuthSession(Base):
    """One login: the family of refresh tokens it rotated through. Access tokens name it
    (`sid`), so revoking it (logout, a rotated refresh token presented again) ends them too."""

    __tablename__ = "auth_sessions"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=_uuid)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    # logout | reuse (a rotated refresh token came back: it may have been stolen)
    revoked_reason: Mapped[str | None] = mapped_column(String(16), default=None)


class RefreshToken(Base):
    __tablename__ = "refresh_tokens"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=_uuid)
    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("auth_sessions.id"), index=True)
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    # Set when it was exchanged for a new pair; presenting it again revokes the session.
    rotated_at: Mapped[datetime | None] = mapped_column(default=None)


class SocialAccount(Base):
    __tablename__ = "social_accounts"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=_uuid)
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspaces.id"), index=True)
    brand_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("brands.id"), index=True)
    platform: Mapped[str] = mapped_column(String(32))
    username: Mapped[str] = mapped_column(String(200))
    display_name: Mapped[str | None] = mapped_column(String(200), default=None)
    avatar_url: Mapped[str | None] = mapped_column(Text, default=None)
    platform_account_id: Mapped[str | None] = mapped_column(String(200), default=None)
    status: Mapped[AccountStatus] = mapped_column(
        StrEnumColumn(AccountStatus), default=AccountStatus.ACTIVE
    )
    # Fernet token of the JSON credentials; never returned by the API or logged.
    credentials_encrypted: Mapped[str] = mapped_column(Text)
    token_expires_at: Mapped[datetime | None] = mapped_column(default=None)
    # The end of a rate limit the platform named (a 429's reset): the account's other targets
    # wait it out too instead of each spending a call on another 429.
    rate_limited_until: Mapped[datetime | None] = mapped_column(default=None)
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Post(Base):
    __tablename__ = "posts"
    __table_args__ = (
        Index("ix_posts_workspace_created", "workspace_id", "created_at", "id"),
        # Status filters page newest first like the unfiltered list; a rare status must not
        # scan every post of the workspace.
        Index("ix_posts_workspace_status_created", "workspace_id", "status", "created_at", "id"),
        Index("ix_posts_workspace_scheduled", "workspace_id", "scheduled_at"),
        Index("ix_posts_workspace_external_id", "workspace_id", "external_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=_uuid)
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspaces.id"))
    brand_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("brands.id"), index=True)
    content: Mapped[str] = mapped_column(Text, default="")
    media_ids: Mapped[list[str]] = mapped_column(JSONType, default=list)
    phase: Mapped[PostPhase] = mapped_column(StrEnumColumn(PostPhase))
    # Derived from phase and targets (herald.posts.status.derive_post_status); stored for list filters.
    status: Mapped[PostStatus] = mapped_column(StrEnumColumn(PostStatus))
    scheduled_at: Mapped[datetime | None] = mapped_column(default=None)
    published_at: Mapped[datetime | None] = mapped_column(default=None)
    external_id: Mapped[str | None] = mapped_column(String(255), default=None)
    origin: Mapped[Origin] = mapped_column(StrEnumColumn(Origin), default=Origin.API)
    version: Mapped[int] = mapped_column(Integer, default=1)
    # The series this post is an occurrence (or the template) of.
    recurrence_id: Mapped[uuid.UUID | None] = mapped_column(default=None, index=True)
    # Approval: None when the post never needed one.
    approval_status: Mapped[ApprovalStatus | None] = mapped_column(
        StrEnumColumn(ApprovalStatus), default=None
    )
    approval_decided_by: Mapped[str | None] = mapped_column(String(64), default=None)
    approval_reason: Mapped[str | None] = mapped_column(Text, default=None)
    approval_requested_at: Mapped[datetime | None] = mapped_column(default=None)
    approval_decided_at: Mapped[datetime | None] = mapped_column(default=None)
    created_by_type: Mapped[str] = mapped_column(String(16))
    created_by_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    targets: Mapped[list[PostTarget]] = relationship(
        back_populates="post",
        order_by="PostTarget.position",
        lazy="selectin",
        cascade="all, delete-orphan",
    )


class PostTarget(Base):
    __tablename__ = "post_targets"
    __table_args__ = (
        UniqueConstraint("post_id", "account_id"),
        # Analytics: an account's targets published in a range (overview, sync plans).
        Index("ix_post_targets_account_published", "account_id", "published_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=_uuid)
    post_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"))
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("social_accounts.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    platform: Mapped[str] = mapped_column(String(32))
    status: Mapped[TargetStatus] = mapped_column(StrEnumColumn(TargetStatus))
    content: Mapped[str | None] = mapped_column(Text, default=None)
    media_ids: Mapped[list[str] | None] = mapped_column(JSONType, default=None)
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Its own time when it differs from the post's (a queue slot); None: the post's time.
    scheduled_at: Mapped[datetime | None] = mapped_column(default=None)
    platform_post_id: Mapped[str | None] = mapped_column(String(255), default=None)
    platform_post_url: Mapped[str | None] = mapped_column(Text, default=None)
    # Replies of a thread and a first comment made with the post (deleted with it).
    extra_post_ids: Mapped[list[str] | None] = mapped_column(JSONType, default=None)
    # How far a publish of several platform calls got (platforms.base.PublishProgress), so an
    # attempt in another worker process carries it on.
    publish_progress: Mapped[dict[str, Any] | None] = mapped_column(JSONType, default=None)
    error_code: Mapped[str | None] = mapped_column(String(64), default=None)
    error_message: Mapped[str | None] = mapped_column(Text, default=None)
    error_retryable: Mapped[bool | None] = mapped_column(default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Set when the first platform call starts: posts older than this cannot be ours.
    first_attempt_at: Mapped[datetime | None] = mapped_column(default=None)
    # Set while a target waits to be tried again after a retryable error.
    next_attempt_at: Mapped[datetime | None] = mapped_column(default=None)
    published_at: Mapped[datetime | None] = mapped_column(default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    post: Mapped[Post] = relationship(back_populates="targets")


class Event(Base):
    """Outbox: written in the same transaction as the change it reports."""

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_workspace_created", "workspace_id", "created_at"),
        Index("ix_events_dispatched_created", "dispatched_at", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=_uuid)
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspaces.id"))
    type: Mapped[str] = mapped_column(String(64))
    resource_type: Mapped[str] = mapped_column(String(32))
    resource_id: Mapped[uuid.UUID] = mapped_column()
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # When the webhook dispatcher turned the event into deliveries (None: not yet).
    dispatched_at: Mapped[datetime | None] = mapped_column(default=None)


class AuditEvent(Base):
    """Who did what: written in the same transaction as the change it records."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_workspace_created", "workspace_id", "created_at", "id"),
        Index(
            "ix_audit_events_workspace_resource",
            "workspace_id",
            "resource_type",
            "resource_id",
            "created_at",
        ),
        Index("ix_audit_events_workspace_actor", "workspace_id", "actor_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=_uuid)
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspaces.id"))
    action: Mapped[str] = mapped_column(String(64))
    # user | api_key | system (herald.principal.ActorType)
    actor_type: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str] = mapped_column(String(64))
    resource_type: Mapped[str] = mapped_column(String(32))
    resource_id: Mapped[str] = mapped_column(String(64))
    # `metadata` is the declarative base's own attribute: the column keeps the contract's name.
    details: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Notification(Base):
    """Something that needs a person's attention, made from an event by the dispatcher."""

    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_workspace_created", "workspace_id", "created_at", "id"),
        Index("ix_notifications_workspace_unread", "workspace_id", "read_at", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=_uuid)
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspaces.id"))
    type: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(Text)
    resource_type: Mapped[str] = mapped_column(String(32))
    resource_id: Mapped[uuid.UUID] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(default=None)


class WebhookEndpoint(Base):
    """A subscriber: where events of the chosen types are delivered, and the secret that
    signs them (and, for a while after a rotation, the one before it)."""

    __tablename__ = "webhook_endpoints"
    __table_args__ = (
        Index("ix_webhook_endpoints_workspace_created", "workspace_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=_uuid)
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspaces.id"))
    url: Mapped[str] = mapped_column(Text)
    # Event type names, or ["*"] for every one.
    events: Mapped[list[str]] = mapped_column(JSONType, default=list)
    description: Mapped[str | None] = mapped_column(Text, default=None)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Fernet tokens of the whsec_ secrets; never returned after create or rotate.
    secret_encrypted: Mapped[str] = mapped_column(Text)
    previous_secret_encrypted: Mapped[str | None] = mapped_column(Text, default=None)
    previous_secret_until: Mapped[datetime | None] = mapped_column(default=None)
    # Since when every attempt has failed (None after a success): disabled when it lasts.
    failing_since: Mapped[datetime | None] = mapped_column(default=None)
    disabled_reason: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookDelivery(Base):
    """One event for one endpoint: delivered at least once, under one webhook-id."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("endpoint_id", "event_id"),
        Index("ix_webhook_deliveries_endpoint_created", "endpoint_id", "created_at", "id"),
        Index("ix_webhook_deliveries_due", "state", "retrying", "next_attempt_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=_uuid)
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspaces.id"))
    endpoint_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE")
    )
    # None for webhook.test, which has no outbox row.
    event_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("events.id"), default=None)
    event_type: Mapped[str] = mapped_column(String(64))
    resource_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    # The body, fixed at fan-out so every attempt signs and sends the same bytes.
    body: Mapped[str] = mapped_column(Text)
    state: Mapped[DeliveryState] = mapped_column(
        StrEnumColumn(DeliveryState), default=DeliveryState.PENDING
    )
    # A retry workflow owns it (after a failed first attempt); else the dispatcher does.
    retrying: Mapped[bool] = mapped_column(Boolean, default=False)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Failed attempts since the delivery was (re)queued: where it is in the retry schedule.
    round_failures: Mapped[int] = mapped_column(Integer, default=0)
    last_status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    last_response: Mapped[str | None] = mapped_column(Text, default=None)
    last_duration_ms: Mapped[int | None] = mapped_column(Integer, default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    next_attempt_at: Mapped[datetime | None] = mapped_column(default=None)
    delivered_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookAttempt(Base):
    """Every attempt of every delivery, as the receiver answered it."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (Index("ix_webhook_attempts_delivery", "delivery_id", "number"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=_uuid)
    delivery_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE")
    )
    number: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column()
    status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    duration_ms: Mapped[int] = mapped_column(Integer)
    response: Mapped[str | None] = mapped_column(Text, default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)


class IdempotencyRecord(Base):
    """A write's stored answer, replayed for the same workspace + key for 24 hours."""

    __tablename__ = "idempotency_records"
    __table_args__ = (UniqueConstraint("workspace_id", "key"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=_uuid)
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspaces.id"))
    key: Mapped[str] = mapped_column(String(255))
    # What the key was first used for: method, path and a digest of the body.
    request_fingerprint: Mapped[str] = mapped_column(String(64))
    # None while the first request is still executing.
    response_status: Mapped[int | None] = mapped_column(Integer, default=None)
    response_body: Mapped[str | None] = mapped_column(Text, default=None)
    response_headers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class AccountGroup(Base):
    __tablename__ = "account_groups"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=_uuid)
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspaces.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    account_ids: Mapped[list[str]] = mapped_column(JSONType, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class AccountQueue(Base):
    """Posting slots of one account, as weekday + local time in its IANA time zone."""

    __tablename__ = "account_queues"

    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("social_accounts.id", ondelete="CASCADE"), primary_key=True
    )
    timezone: Mapped[str] = mapped_column(String(64))
    slots: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class QueueSlotClaim(Base):
    """One row per taken slot: the unique key is what stops two posts getting one slot."""

    __tablename__ = "queue_slot_claims"
    __table_args__ = (UniqueConstraint("account_id", "slot_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=_uuid)
    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("social_accounts.id", ondelete="CASCADE")
    )
    slot_at: Mapped[datetime] = mapped_column()
    target_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("post_targets.id", ondelete="CASCADE"), index=True
    )


# Files may pass 2 GiB (HERALD_MEDIA_MAX_VIDEO_BYTES allows 4 GiB): 64-bit on Postgres;
# SQLite's INTEGER is 64-bit already.
FILE_SIZE = BigInteger().with_variant(Integer(), "sqlite")


class Media(Base):
    __tablename__ = "media"
    __table_args__ = (Index("ix_media_workspace_created", "workspace_id", "created_at", "id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=_uuid)
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspaces.id"))
    brand_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("brands.id"))
    filename: Mapped[str] = mapped_column(String(255))
    declared_mime_type: Mapped[str] = mapped_column(String(100))
    declared_size: Mapped[int] = mapped_column(FILE_SIZE)
    # What the bytes turned out to be, once completed and probed.
    mime_type: Mapped[str | None] = mapped_column(String(100), default=None)
    size: Mapped[int | None] = mapped_column(FILE_SIZE, default=None)
    width: Mapped[int | None] = mapped_column(Integer, default=None)
    height: Mapped[int | None] = mapped_column(Integer, default=None)
    duration_s: Mapped[float | None] = mapped_column(default=None)
    codec: Mapped[str | None] = mapped_column(String(64), default=None)
    sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    status: Mapped[MediaStatus] = mapped_column(
        StrEnumColumn(MediaStatus), default=MediaStatus.PENDING
    )
    failure_reason: Mapped[str | None] = mapped_column(Text, default=None)
    storage_key: Mapped[str] = mapped_column(String(255))
    # Per platform: {"ok": bool, "problems": [...]}, computed once when the media is probed.
    suitability: Mapped[dict[str, Any]] = mapped_column(default=dict)
    upload_expires_at: Mapped[datetime] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class MediaValidation(Base):
    """One request to check media against each platform again (POST /v1/media/{id}/validate
    or bulk-validate), filled in by its workflow."""

    __tablename__ = "media_validations"
    __table_args__ = (
        Index("ix_media_validations_workspace", "workspace_id"),
        Index("ix_media_validations_status_created", "status", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=_uuid)
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspaces.id"))
    media_ids: Mapped[list[str]] = mapped_column(JSONType, default=list)
    status: Mapped[MediaValidationStatus] = mapped_column(
        StrEnumColumn(MediaValidationStatus), default=MediaValidationStatus.PENDING
    )
    # Per media, in media_ids' order: {media_id, media_status, valid, platforms, problem}.
    results: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(default=None)


class Recurrence(Base):
    """A recurring series: its template post is copied for each occurrence."""

    __tablename__ = "recurrences"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=_uuid)
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspaces.id"), index=True)
    post_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("posts.id", ondelete="CASCADE"), unique=True
    )
    freq: Mapped[str] = mapped_column(String(16))
    interval: Mapped[int] = mapped_column(Integer, default=1)
    by_weekday: Mapped[list[int]] = mapped_column(JSONType, default=list)
    by_month_day: Mapped[list[int]] = mapped_column(JSONType, default=list)
    time: Mapped[str] = mapped_column(String(5))
    timezone: Mapped[str] = mapped_column(String(64))
    start_at: Mapped[datetime] = mapped_column()
    until: Mapped[datetime | None] = mapped_column(default=None)
    count: Mapped[int | None] = mapped_column(Integer, default=None)
    paused: Mapped[bool] = mapped_column(default=False)
    occurrences: Mapped[int] = mapped_column(Integer, default=0)
    # Fire times already turned into posts: a retried or overlapping action makes no second one.
    fired: Mapped[list[str]] = mapped_column(JSONType, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Mirror(Base):
    """Source-to-target mirroring: new posts on one account republished to others."""

    __tablename__ = "mirrors"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=_uuid)
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspaces.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text, default=None)
    source_account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("social_accounts.id"))
    target_account_ids: Mapped[list[str]] = mapped_column(JSONType, default=list)
    is_active: Mapped[bool] = mapped_column(default=True)
    future_content_enabled: Mapped[bool] = mapped_column(default=True)
    existing_content_enabled: Mapped[bool] = mapped_column(default=False)
    existing_content_config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # The newest source post seen; the next poll asks for what came after it.
    cursor: Mapped[str | None] = mapped_column(String(255), default=None)
    last_checked: Mapped[datetime | None] = mapped_column(default=None)
    last_enabled_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class MirrorPost(Base):
    """One source post a mirror saw. The unique key is what mirrors it at most once."""

    __tablename__ = "mirror_posts"
    __table_args__ = (UniqueConstraint("mirror_id", "source_post_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=_uuid)
    mirror_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("mirrors.id", ondelete="CASCADE"))
    source_post_id: Mapped[str] = mapped_column(String(255))
    source_created_at: Mapped[datetime] = mapped_column()
    detected_status: Mapped[str] = mapped_column(String(24))
    reason: Mapped[str | None] = mapped_column(Text, default=None)
    scheduled_for: Mapped[datetime | None] = mapped_column(default=None)
    post_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("posts.id", ondelete="SET NULL"), default=None
    )
    platform_metadata: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OAuthState(Base):
    """One OAuth connect in flight: single-use, expiring, holding the PKCE verifier until the
    callback. The state value itself is stored only as a digest."""

    __tablename__ = "oauth_states"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=_uuid)
    state_digest: Mapped[str] = mapped_column(String(64), unique=True)
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspaces.id"))
    brand_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("brands.id"))
    platform: Mapped[str] = mapped_column(String(32))
    redirect_uri: Mapped[str] = mapped_column(Text)
    # Fernet token of {"code_verifier": ...}.
    verifier_encrypted: Mapped[str] = mapped_column(Text)
    # Set by /reconnect: the callback renews this account instead of adding one.
    account_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("social_accounts.id"), default=None
    )
    # Who started it: the callback's audit row names them (None: started before the log).
    started_by_type: Mapped[str | None] = mapped_column(String(16), default=None)
    started_by_id: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column(default=None)


class MetricSample(Base):
    """One reading of a post target's (`metric_set` "post") or an account's ("account")
    counters: the analytics time series. `subject_id` is the target's or the account's id, so
    one unique key covers both kinds and finds a subject's latest reading before any instant
    in one index probe. Counters Herald does not know from the platform stay NULL."""

    __tablename__ = "metric_samples"
    __table_args__ = (
        UniqueConstraint("subject_id", "metric_set", "sampled_at"),
        # Exports: a brand's samples subject by subject, in time order, read off the index.
        Index(
            "ix_metric_samples_brand_subject",
            "brand_id",
            "subject_id",
            "metric_set",
            "sampled_at",
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=_uuid)
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspaces.id"))
    brand_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("brands.id"))
    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("social_accounts.id", ondelete="CASCADE")
    )
    target_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("post_targets.id", ondelete="CASCADE"), default=None
    )
    post_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("posts.id", ondelete="CASCADE"), default=None
    )
    subject_id: Mapped[uuid.UUID] = mapped_column()
    metric_set: Mapped[str] = mapped_column(String(16))
    sampled_at: Mapped[datetime] = mapped_column()
    impressions: Mapped[int | None] = mapped_column(BigInteger, default=None)
    reach: Mapped[int | None] = mapped_column(BigInteger, default=None)
    likes: Mapped[int | None] = mapped_column(BigInteger, default=None)
    comments: Mapped[int | None] = mapped_column(BigInteger, default=None)
    shares: Mapped[int | None] = mapped_column(BigInteger, default=None)
    saves: Mapped[int | None] = mapped_column(BigInteger, default=None)
    clicks: Mapped[int | None] = mapped_column(BigInteger, default=None)
    video_views: Mapped[int | None] = mapped_column(BigInteger, default=None)
    followers: Mapped[int | None] = mapped_column(BigInteger, default=None)
    # The platform's own numbers under its own names.
    raw: Mapped[dict[str, Any]] = mapped_column(default=dict)


class AnalyticsExport(Base):
    """One CSV export of a brand's analytics: made by the export workflow into media storage."""

    __tablename__ = "analytics_exports"
    __table_args__ = (Index("ix_analytics_exports_status_created", "status", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=_uuid)
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspaces.id"), index=True)
    brand_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("brands.id"))
    range_from: Mapped[datetime] = mapped_column()
    range_to: Mapped[datetime] = mapped_column()
    format: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16))
    storage_key: Mapped[str | None] = mapped_column(Text, default=None)
    rows: Mapped[int | None] = mapped_column(Integer, default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
