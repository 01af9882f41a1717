"""A post's status: derived from its phase and its targets' states, stored for list filters, and
announced by an event row whenever it changes. herald.posts.transitions calls refresh_status
after every change; the hot outcome path (herald.posts.outcomes) derives it from plain rows."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from herald.db.models import Post
from herald.schemas.posts import PostOut
from herald.services.events import record_event
from herald.status import (
    DONE_TARGET_STATES,
    WAITING_TARGET_STATES,
    PostPhase,
    PostStatus,
    TargetStatus,
)

# The event each status emits when a post enters it.
STATUS_EVENTS: dict[PostStatus, str] = {
    PostStatus.SCHEDULED: "post.scheduled",
    PostStatus.PUBLISHED: "post.published",
    PostStatus.PARTIAL: "post.partial",
    PostStatus.FAILED: "post.failed",
    PostStatus.CANCELLED: "post.cancelled",
}

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
    published = TargetStatus.PUBLISHED in live
    failed = TargetStatus.FAILED in live
    if not published and TargetStatus.DELETED in live:
        return PostStatus.UNPUBLISHED  # every target that was published has been deleted
    if published and failed:
        return PostStatus.PARTIAL
    return PostStatus.FAILED if failed else PostStatus.PUBLISHED


def emit(session: AsyncSession, post: Post, event: str) -> None:
    """Writes an event row carrying the post as the API shows it, in the caller's transaction."""
    record_event(
        session, post.workspace_id, event, "post", post.id, PostOut.of(post).model_dump(mode="json")
    )


def refresh_status(session: AsyncSession, post: Post, *, always_emit: bool = False) -> PostStatus:
    """Re-derives the status; emits the status's event if it changed (or if asked to)."""
    before = post.status
    post.status = derive_post_status(post.phase, (TargetStatus(t.status) for t in post.targets))
    published = [t.published_at for t in post.targets if t.published_at is not None]
    post.published_at = min(published) if published else None
    event = STATUS_EVENTS.get(post.status)
    if event and (always_emit or post.status != before):
        emit(session, post, event)
    return post.status
