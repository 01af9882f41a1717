"""The vocabulary of states: posts, targets, accounts, approvals, media. Which changes between
them are allowed, and how a post's status follows from its targets, is herald.posts.transitions."""

from __future__ import annotations

from enum import StrEnum


class TargetStatus(StrEnum):
    PENDING = "pending"
    SCHEDULED = "scheduled"
    PUBLISHING = "publishing"
    PUBLISHED = "published"
    FAILED = "failed"
    CANCELLED = "cancelled"
    DELETED = "deleted"


class PostStatus(StrEnum):
    DRAFT = "draft"
    PENDING_APPROVAL = "pending_approval"
    REJECTED = "rejected"
    SCHEDULED = "scheduled"
    QUEUED = "queued"
    PROCESSING = "processing"
    PUBLISHED = "published"
    PARTIAL = "partial"
    FAILED = "failed"
    CANCELLED = "cancelled"
    UNPUBLISHED = "unpublished"
    ARCHIVED = "archived"


class TargetError(StrEnum):
    """The error codes users see on a failed (or still retrying) target, by error class."""

    RATE_LIMITED = "rate_limited"
    PLATFORM_UNAVAILABLE = "platform_unavailable"
    AUTH_EXPIRED = "auth_expired"
    REJECTED = "rejected"
    ACCOUNT_INACTIVE = "account_inactive"


class PostPhase(StrEnum):
    """What the post itself is doing; the targets say the rest (see
    herald.posts.status.derive_post_status)."""

    DRAFT = "draft"
    PENDING_APPROVAL = "pending_approval"
    REJECTED = "rejected"
    SCHEDULED = "scheduled"
    QUEUED = "queued"
    ARCHIVED = "archived"


class Origin(StrEnum):
    API = "api"
    RECURRENCE = "recurrence"
    MIRROR = "mirror"
    BULK = "bulk"


class AccountStatus(StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"
    ERROR = "error"


class ApprovalStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"


class MediaStatus(StrEnum):
    PENDING = "pending"
    READY = "ready"
    FAILED = "failed"


class MediaValidationStatus(StrEnum):
    PENDING = "pending"
    COMPLETED = "completed"


class DeliveryState(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


WAITING_TARGET_STATES = frozenset({TargetStatus.PENDING, TargetStatus.SCHEDULED})
DONE_TARGET_STATES = frozenset(
    {TargetStatus.PUBLISHED, TargetStatus.FAILED, TargetStatus.CANCELLED, TargetStatus.DELETED}
)
