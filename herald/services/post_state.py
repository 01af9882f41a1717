"""Keeps a post's stored status equal to what its phase and targets say, and reports changes."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from herald.db.models import Post
from herald.schemas.posts import PostOut
from herald.services.events import record_event
from herald.status import PostStatus, TargetStatus, derive_post_status

# The event each status emits when a post enters it.
STATUS_EVENTS: dict[PostStatus, str] = {
    PostStatus.SCHEDULED: "post.scheduled",
    PostStatus.PUBLISHED: "post.published",
    PostStatus.PARTIAL: "post.partial",
    PostStatus.FAILED: "post.failed",
    PostStatus.CANCELLED: "post.cancelled",
}


def refresh_status(session: AsyncSession, post: Post, *, always_emit: bool = False) -> PostStatus:
    """Re-derives the status; emits the status's event if it changed (or if asked to)."""
    before = post.status
    post.status = derive_post_status(post.phase, (TargetStatus(t.status) for t in post.targets))
    published = [t.published_at for t in post.targets if t.published_at is not None]
    post.published_at = min(published) if published else None
    event = STATUS_EVENTS.get(post.status)
    if event and (always_emit or post.status != before):
        record_event(
            session,
            post.workspace_id,
            event,
            "post",
            post.id,
            PostOut.of(post).model_dump(mode="json"),
        )
    return post.status
