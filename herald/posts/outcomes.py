"""Storing targets' outcomes and the post statuses they lead to, in a handful of plain
statements: this runs once per published target, the hottest write in Herald, so it avoids
loading posts and targets as ORM objects (only a post's status change, which emits an event with
the whole post, does). Several outcomes share one transaction and the same statements.

Concurrent outcomes of one post serialise on the post row (FOR UPDATE, taken in post id order so
two batches cannot deadlock; SQLite's writer lock does the same), so the outcome stored last
always sees every other target decided."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from herald.db.models import Post, PostTarget
from herald.db.types import utcnow
from herald.posts.status import STATUS_EVENTS, derive_post_status, emit
from herald.status import PostPhase, PostStatus, TargetStatus

# Plain tables for the executemany updates (an ORM update with many rows means something else).
_TARGETS = cast(Table, PostTarget.__table__)
_POSTS = cast(Table, Post.__table__)


@dataclass(frozen=True)
class OutcomeWrite:
    """`values` for one target's columns; `unless_published`: never over a published target."""

    target_id: uuid.UUID
    values: dict[str, Any]
    unless_published: bool = False


@dataclass(frozen=True)
class StoredOutcome:
    status: TargetStatus
    platform_post_id: str | None
    platform_post_url: str | None
    error_code: str | None
    error_message: str | None
    post_status: PostStatus


async def store_outcomes(
    session: AsyncSession, writes: Sequence[OutcomeWrite]
) -> list[StoredOutcome | None]:
    """Applies `writes` in order and re-derives their posts' statuses, in the caller's
    transaction; for each write its target as stored (None: the target is gone)."""
    connection = await session.connection()
    locked = {
        row.target_id: row
        for row in await connection.execute(
            select(
                PostTarget.id.label("target_id"),
                Post.id.label("post_id"),
                Post.phase,
                Post.status,
                Post.published_at,
            )
            .join(PostTarget, PostTarget.post_id == Post.id)
            .where(PostTarget.id.in_({w.target_id for w in writes}))
            .order_by(Post.id)
            .with_for_update(of=Post)
        )
    }
    found = [w for w in writes if w.target_id in locked]
    if not found:
        return [None] * len(writes)
    await _write_targets(session, found)
    post_ids = {locked[w.target_id].post_id for w in found}
    # Whole rows: a post whose status changes announces itself with all its targets.
    targets = (
        await connection.execute(
            select(_TARGETS).where(_TARGETS.c.post_id.in_(post_ids)).order_by(_TARGETS.c.position)
        )
    ).all()
    statuses = await _refresh_posts(session, [locked[w.target_id] for w in found], targets)
    by_id = {t.id: t for t in targets}
    stored: list[StoredOutcome | None] = []
    for write in writes:
        lock = locked.get(write.target_id)
        if lock is None:
            stored.append(None)
            continue
        mine = by_id[write.target_id]
        stored.append(
            StoredOutcome(
                status=TargetStatus(mine.status),
                platform_post_id=mine.platform_post_id,
                platform_post_url=mine.platform_post_url,
                error_code=mine.error_code,
                error_message=mine.error_message,
                post_status=statuses[lock.post_id],
            )
        )
    return stored


async def _write_targets(session: AsyncSession, writes: Sequence[OutcomeWrite]) -> None:
    """One statement per kind of write (its columns and condition), run for all its rows."""
    connection = await session.connection()
    now = utcnow()
    kinds: dict[tuple[tuple[str, ...], bool], list[dict[str, Any]]] = defaultdict(list)
    for write in writes:
        columns = tuple(sorted(write.values))
        params = {f"new_{name}": value for name, value in write.values.items()}
        kinds[(columns, write.unless_published)].append(
            {"target": write.target_id, "new_updated_at": now, **params}
        )
    for (columns, unless_published), rows in kinds.items():
        change = update(_TARGETS).where(_TARGETS.c.id == bindparam("target"))
        if unless_published:
            change = change.where(_TARGETS.c.status != TargetStatus.PUBLISHED)
        names = (*columns, "updated_at")
        await connection.execute(change.values({n: bindparam(f"new_{n}") for n in names}), rows)


async def _refresh_posts(
    session: AsyncSession, locked: Sequence[Any], targets: Sequence[Any]
) -> dict[uuid.UUID, PostStatus]:
    """Each post's status from its targets' rows, stored with its first publish time; a post
    whose status changes also gets its status event (written from plain rows: this happens
    once or twice per post)."""
    by_post: dict[uuid.UUID, list[Any]] = defaultdict(list)
    for target in targets:
        by_post[target.post_id].append(target)
    statuses: dict[uuid.UUID, PostStatus] = {}
    changes: list[dict[str, Any]] = []
    announced: list[uuid.UUID] = []
    for post in {row.post_id: row for row in locked}.values():
        rows = by_post[post.post_id]
        status = derive_post_status(PostPhase(post.phase), (TargetStatus(t.status) for t in rows))
        first_published = min((t.published_at for t in rows if t.published_at), default=None)
        statuses[post.post_id] = status
        if status != post.status:
            if status in STATUS_EVENTS:
                announced.append(post.post_id)
        elif first_published == post.published_at:
            continue
        changes.append(
            {"post": post.post_id, "new_status": status, "new_published_at": first_published}
        )
    if not changes:
        return statuses
    connection = await session.connection()
    await connection.execute(
        update(_POSTS)
        .where(_POSTS.c.id == bindparam("post"))
        .values(
            status=bindparam("new_status"),
            published_at=bindparam("new_published_at"),
            updated_at=utcnow(),
        ),
        changes,
    )
    if announced:
        for post in await connection.execute(select(_POSTS).where(_POSTS.c.id.in_(announced))):
            emit(session, _detached(post, by_post[post.id]), STATUS_EVENTS[statuses[post.id]])
    return statuses


def _detached(post: Any, targets: Sequence[Any]) -> Post:
    """The post as plain objects outside the session, for its event (PostOut.of reads it)."""
    detached = Post(**post._mapping)
    detached.targets = [PostTarget(**t._mapping) for t in targets]
    return detached
