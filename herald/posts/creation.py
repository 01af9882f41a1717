"""Making posts: from a request (create, bulk, mirrors), from another post (clone, duplicate,
recurrences), and editing one before publishing starts. One builder makes every post row.

Nothing here commits or starts a workflow: herald.posts.commands does both, in that order."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from herald.db.models import Post, PostTarget, SocialAccount, Workspace
from herald.errors import HeraldError
from herald.posts import transitions
from herald.posts.checks import check_targets, expand_groups
from herald.posts.platform_checks import PlatformRules, request_drafts
from herald.principal import Principal
from herald.repositories.media import get_media_many
from herald.schemas.posts import PostCreate, PostPatch, TargetIn
from herald.services import audit
from herald.services.queues import claim_next_slot
from herald.status import MediaStatus, Origin, PostPhase, PostStatus, TargetStatus


@dataclass(frozen=True)
class TargetSpec:
    """What a new target is made of, whatever it is made from."""

    account_id: uuid.UUID
    platform: str
    content: str | None
    media_ids: list[str] | None
    options: dict[str, Any]


def _new_post(
    *,
    workspace_id: uuid.UUID,
    brand_id: uuid.UUID,
    content: str,
    media_ids: list[str],
    phase: PostPhase,
    scheduled_at: datetime | None,
    external_id: str | None,
    origin: Origin,
    principal: Principal,
    now: datetime,
    targets: Iterable[TargetSpec],
) -> Post:
    return Post(
        id=uuid.uuid4(),
        workspace_id=workspace_id,
        brand_id=brand_id,
        content=content,
        media_ids=media_ids,
        phase=phase,
        scheduled_at=scheduled_at,
        external_id=external_id,
        origin=origin,
        version=1,
        created_by_type=principal.actor_type,
        created_by_id=principal.actor_id,
        created_at=now,
        updated_at=now,
        targets=_new_targets(targets, transitions.waiting_state(phase)),
    )


def _new_targets(specs: Iterable[TargetSpec], state: TargetStatus) -> list[PostTarget]:
    return [
        PostTarget(
            id=uuid.uuid4(),
            account_id=spec.account_id,
            position=index,
            platform=spec.platform,
            status=state,
            content=spec.content,
            media_ids=spec.media_ids,
            options=spec.options,
            attempts=0,
        )
        for index, spec in enumerate(specs)
    ]


def _specs_of(body: PostCreate, accounts: dict[uuid.UUID, SocialAccount]) -> list[TargetSpec]:
    return [
        TargetSpec(
            account_id=target.account,
            platform=accounts[target.account].platform,
            content=target.content,
            media_ids=[str(m) for m in target.media_ids] if target.media_ids is not None else None,
            options=target.options,
        )
        for target in body.targets
    ]


async def approval_required(session: AsyncSession, workspace_id: uuid.UUID) -> bool:
    workspace = await session.get(Workspace, workspace_id)
    return bool(workspace and workspace.settings.get("approval_required"))


async def _refuse_unpublishable(
    session: AsyncSession,
    rules: PlatformRules,
    principal: Principal,
    body: PostCreate,
    accounts: dict[uuid.UUID, SocialAccount],
) -> None:
    """A post that is to publish is checked by each target's platform now: one that would
    only fail at publish time is a 400 (a draft may be invalid until it leaves the drafts)."""
    platforms = {a.id: a.platform for a in accounts.values()}
    drafts = await request_drafts(session, principal.workspace_id, body, platforms)
    await rules.refuse_invalid(drafts, accounts)


async def create_post(
    session: AsyncSession,
    principal: Principal,
    rules: PlatformRules,
    body: PostCreate,
    now: datetime,
    origin: Origin = Origin.API,
) -> Post:
    body = body.model_copy(
        update={"targets": await expand_groups(session, principal, body.targets)}
    )
    accounts, brand_id = await check_targets(session, principal, body, now)
    if not body.draft:
        await _refuse_unpublishable(session, rules, principal, body, accounts)
    needs_approval = not body.draft and await approval_required(session, principal.workspace_id)
    post = _new_post(
        workspace_id=principal.workspace_id,
        brand_id=brand_id,
        content=body.content,
        media_ids=[str(m) for m in body.media_ids],
        phase=transitions.initial_phase(
            draft=body.draft, needs_approval=needs_approval, publish_now=body.publish_now
        ),
        scheduled_at=body.scheduled_at or (now if body.publish_now else None),
        external_id=body.external_id,
        origin=origin,
        principal=principal,
        now=now,
        targets=_specs_of(body, accounts),
    )
    session.add(post)
    if body.queue:
        # Slots are claimed by target id, so the rows must exist first; the status is final
        # only once the slots are known, hence the event then.
        post.status = PostStatus.SCHEDULED
        await session.flush()
        for target in post.targets:
            target.scheduled_at = await claim_next_slot(
                session, target, now, f"targets.{target.position}.account_id"
            )
        post.scheduled_at = min(t.scheduled_at for t in post.targets if t.scheduled_at)
    transitions.created(session, post, always_emit=body.queue)
    if needs_approval:
        transitions.request_approval(session, post, now)
    audit.record(session, principal, "post.created", "post", post.id, post_facts(post), now)
    await session.flush()
    return post


def post_facts(post: Post, **more: Any) -> dict[str, Any]:
    """What the audit log says of a post a change left behind."""
    return {
        "status": post.status,
        "origin": post.origin,
        "scheduled_at": post.scheduled_at,
        "platforms": [t.platform for t in post.targets],
        **more,
    }


def copy_post(
    session: AsyncSession,
    source: Post,
    principal: Principal,
    now: datetime,
    scheduled_at: datetime | None,
    origin: Origin | None = None,
    recurrence_id: uuid.UUID | None = None,
) -> Post:
    """A new post with the same content and targets: a draft, or scheduled at `scheduled_at`
    (of the source's origin unless given, and of a series when given)."""
    copy = _new_post(
        workspace_id=source.workspace_id,
        brand_id=source.brand_id,
        content=source.content,
        media_ids=list(source.media_ids),
        phase=PostPhase.SCHEDULED if scheduled_at is not None else PostPhase.DRAFT,
        scheduled_at=scheduled_at,
        external_id=None,
        origin=origin or source.origin,
        principal=principal,
        now=now,
        targets=[
            TargetSpec(
                account_id=t.account_id,
                platform=t.platform,
                content=t.content,
                media_ids=list(t.media_ids) if t.media_ids is not None else None,
                options=dict(t.options),
            )
            for t in source.targets
        ],
    )
    copy.recurrence_id = recurrence_id
    session.add(copy)
    transitions.created(session, copy)
    audit.record(
        session,
        principal,
        "post.created",
        "post",
        copy.id,
        post_facts(copy, copy_of=source.id),
        now,
    )
    return copy


def duplicate_time(source: Post, now: datetime) -> datetime | None:
    """The copy is as far ahead of now as the original was ahead of its creation."""
    if source.scheduled_at is None:
        return None
    offset = source.scheduled_at - source.created_at
    return now + offset if offset.total_seconds() > 0 else None


async def edit_post(
    session: AsyncSession,
    principal: Principal,
    rules: PlatformRules,
    post: Post,
    patch: PostPatch,
    now: datetime,
) -> datetime | None:
    """Applies a PATCH before publishing starts. Returns the new time when the schedule of a
    waiting post changed: the caller moves the workflow's timer with it."""
    transitions.refuse_unless_editable(post)
    current_targets = [
        TargetIn(
            account_id=t.account_id,
            content=t.content,
            media_ids=[uuid.UUID(m) for m in t.media_ids] if t.media_ids is not None else None,
            options=t.options,
        )
        for t in post.targets
    ]
    targets = patch.targets if patch.targets is not None else current_targets
    merged = PostCreate(
        brand_id=post.brand_id,
        content=patch.content if patch.content is not None else post.content,
        media_ids=(
            patch.media_ids
            if patch.media_ids is not None
            else [uuid.UUID(m) for m in post.media_ids]
        ),
        targets=await expand_groups(session, principal, targets),
        draft=True,  # what the request holds, whatever the post's timing
    )
    accounts, _ = await check_targets(session, principal, merged, now)
    if post.phase is not PostPhase.DRAFT:
        await _refuse_unpublishable(session, rules, principal, merged, accounts)
    if patch.scheduled_at is not None:
        transitions.refuse_in_past(patch.scheduled_at, now)
    post.content = merged.content
    post.media_ids = [str(m) for m in merged.media_ids]
    if patch.targets is not None:
        post.targets = _new_targets(
            _specs_of(merged, accounts), transitions.waiting_state(post.phase)
        )
    moved_to = None
    if patch.scheduled_at is not None and patch.scheduled_at != post.scheduled_at:
        if post.phase is PostPhase.DRAFT:
            post.scheduled_at = patch.scheduled_at
        else:
            moved_to = patch.scheduled_at
    transitions.edited(session, post, now)
    return moved_to


async def fix_changes(
    session: AsyncSession, principal: Principal, changes: dict[str, Any]
) -> dict[str, Any]:
    """A fix's edits to one target, checked: its media must be this workspace's and ready.
    A `media_ids` of null leaves the target's media as it is."""
    media_ids: list[uuid.UUID] | None = changes.pop("media_ids", None)
    if media_ids is not None:
        found = await get_media_many(session, principal.workspace_id, media_ids)
        for index, media_id in enumerate(media_ids):
            media = found.get(media_id)
            if media is None or media.status != MediaStatus.READY:
                raise HeraldError.invalid(f"media_ids.{index}", "no ready media with this id")
        changes["media_ids"] = [str(m) for m in media_ids]
    content = changes.get("content")
    if content is not None and not content.strip():
        raise HeraldError.invalid("content", "content is empty and no media is attached")
    return changes


async def delete_post(session: AsyncSession, post: Post) -> None:
    transitions.refuse_unless(post, transitions.DELETABLE, "delete")
    await session.execute(delete(PostTarget).where(PostTarget.post_id == post.id))
    await session.execute(delete(Post).where(Post.id == post.id))
