"""Post and target states, and the rule that derives a post's status from its targets."""

from __future__ import annotations

from collections.abc import Iterable
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
    ARCHIVED = "archived"


class PostPhase(StrEnum):
    """What the post itself is doing; the targets say the rest (see derive_post_status)."""

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


WAITING_TARGET_STATES = frozenset({TargetStatus.PENDING, TargetStatus.SCHEDULED})
DONE_TARGET_STATES = frozenset(
    {TargetStatus.PUBLISHED, TargetStatus.FAILED, TargetStatus.CANCELLED, TargetStatus.DELETED}
)
_PHASES_THAT_OVERRIDE_TARGETS = frozenset(
    {PostPhase.DRAFT, PostPhase.PENDING_APPROVAL, PostPhase.REJECTED, PostPhase.ARCHIVED}
)


def derive_post_status(phase: PostPhase, targets: Iterable[TargetStatus]) -> PostStatus:
    """A post's status as API.md defines it: from its phase, then from its targets' states."""
    if phase in _PHASES_THAT_OVERRIDE_TARGETS:
        return PostStatus(phase.value)
    states = set(targets)
    live = states - {TargetStatus.CANCELLED}
    if not live:
        return PostStatus.CANCELLED
    if live <= WAITING_TARGET_STATES:
        return PostStatus.QUEUED if phase is PostPhase.QUEUED else PostStatus.SCHEDULED
    if not live <= DONE_TARGET_STATES:
        return PostStatus.PROCESSING
    published = bool(live & {TargetStatus.PUBLISHED, TargetStatus.DELETED})
    failed = TargetStatus.FAILED in live
    if published and failed:
        return PostStatus.PARTIAL
    return PostStatus.FAILED if failed else PostStatus.PUBLISHED
