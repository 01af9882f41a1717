"""Creating posts: checks the request against the workspace, then writes post, targets, events.

Services never commit; the caller's unit of work does. Starting the workflow happens after the
commit (see api.routes.posts), so a post exists before anything can publish it.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from herald.db.models import Post, PostTarget, SocialAccount, Workspace
from herald.errors import ErrorCode, ErrorDetail, HeraldError
from herald.principal import Principal
from herald.repositories.accounts import get_accounts, get_brand, get_group
from herald.repositories.media import get_media_many
from herald.schemas.posts import PostCreate, PostOut, PostPatch, TargetIn
from herald.services.events import record_event
from herald.services.post_state import refresh_status
from herald.services.queues import claim_next_slot
from herald.status import (
    WAITING_TARGET_STATES,
    AccountStatus,
    ApprovalStatus,
    MediaStatus,
    Origin,
    PostPhase,
    PostStatus,
    TargetStatus,
)


def _check_content(body: PostCreate) -> list[ErrorDetail]:
    problems: list[ErrorDetail] = []
    for index, target in enumerate(body.targets):
        text = target.content if target.content is not None else body.content
        media = target.media_ids if target.media_ids is not None else body.media_ids
        if not text.strip() and not media:
            where = f"targets.{index}.content" if target.content is not None else "content"
            problems.append(ErrorDetail(where, "content is empty and no media is attached"))
    seen: set[uuid.UUID] = set()
    for index, target in enumerate(body.targets):
        if target.account in seen:
            problems.append(
                ErrorDetail(f"targets.{index}.account_id", "this account is targeted twice")
            )
        seen.add(target.account)
    return problems


async def _check_media(
    session: AsyncSession, principal: Principal, body: PostCreate
) -> list[ErrorDetail]:
    """Every media id must be this workspace's and ready (uploaded, completed, probed)."""
    wanted: list[tuple[str, uuid.UUID]] = [
        (f"media_ids.{i}", m) for i, m in enumerate(body.media_ids)
    ]
    for index, target in enumerate(body.targets):
        wanted += [
            (f"targets.{index}.media_ids.{i}", m) for i, m in enumerate(target.media_ids or [])
        ]
    found = await get_media_many(session, principal.workspace_id, [m for _, m in wanted])
    problems = []
    for path, media_id in wanted:
        media = found.get(media_id)
        if media is None:
            problems.append(ErrorDetail(path, "no such media in this workspace"))
        elif media.status != MediaStatus.READY:
            problems.append(ErrorDetail(path, f"the media is {media.status}, not ready"))
    return problems


async def expand_groups(
    session: AsyncSession, principal: Principal, targets: list[TargetIn]
) -> list[TargetIn]:
    """Replaces each group target by one target per account of the group (same overrides).
    An account named directly wins over the same account reached through a group."""
    direct = {t.account_id for t in targets if t.account_id is not None}
    expanded: list[TargetIn] = []
    reached: set[uuid.UUID] = set()
    for index, target in enumerate(targets):
        if target.group_id is None:
            expanded.append(target)
            continue
        group = await get_group(session, principal.workspace_id, target.group_id)
        if group is None:
            raise HeraldError.invalid(f"targets.{index}.group_id", "no such account group")
        for raw in group.account_ids:
            account_id = uuid.UUID(raw)
            if account_id in direct or account_id in reached:
                continue
            reached.add(account_id)
            expanded.append(target.model_copy(update={"account_id": account_id, "group_id": None}))
    if not expanded:
        raise HeraldError.invalid("targets", "the account groups given have no accounts")
    return expanded


async def check_targets(
    session: AsyncSession, principal: Principal, body: PostCreate, now: datetime
) -> tuple[dict[uuid.UUID, SocialAccount], uuid.UUID]:
    """Every problem of the request at once (content, time, accounts, brand), as a 400."""
    problems = _check_content(body)
    if body.scheduled_at is not None and body.scheduled_at <= now:
        problems.append(ErrorDetail("scheduled_at", "must be in the future"))
    account_ids = [t.account for t in body.targets]
    accounts = await get_accounts(session, principal.workspace_id, account_ids)
    for index, target in enumerate(body.targets):
        account = accounts.get(target.account)
        path = f"targets.{index}.account_id"
        if account is None:
            problems.append(ErrorDetail(path, "no such account in this workspace"))
        elif account.status != AccountStatus.ACTIVE:
            problems.append(ErrorDetail(path, f"the account is {account.status}; reconnect it"))
        elif body.brand_id is not None and account.brand_id != body.brand_id:
            problems.append(ErrorDetail(path, "the account belongs to another brand"))
    problems += await _check_media(session, principal, body)
    brand_id = body.brand_id
    if brand_id is not None and await get_brand(session, principal.workspace_id, brand_id) is None:
        problems.append(ErrorDetail("brand_id", "no such brand in this workspace"))
    if problems:
        raise HeraldError(ErrorCode.VALIDATION_ERROR, problems[0].message, problems)
    if brand_id is None:
        brands = {account.brand_id for account in accounts.values()}
        if len(brands) != 1:
            raise HeraldError.invalid("brand_id", "targets span several brands; give brand_id")
        brand_id = brands.pop()
    return accounts, brand_id


def build_targets(
    body: PostCreate, accounts: dict[uuid.UUID, SocialAccount], status: TargetStatus
) -> list[PostTarget]:
    return [
        PostTarget(
            id=uuid.uuid4(),
            account_id=target.account,
            position=index,
            platform=accounts[target.account].platform,
            status=status,
            content=target.content,
            media_ids=[str(m) for m in target.media_ids] if target.media_ids is not None else None,
            options=target.options,
            attempts=0,
        )
        for index, target in enumerate(body.targets)
    ]


async def create_post(
    session: AsyncSession,
    principal: Principal,
    body: PostCreate,
    now: datetime,
    origin: Origin = Origin.API,
) -> Post:
    body = body.model_copy(
        update={"targets": await expand_groups(session, principal, body.targets)}
    )
    accounts, brand_id = await check_targets(session, principal, body, now)

    needs_approval = not body.draft and await approval_required(session, principal.workspace_id)
    if body.draft:
        phase = PostPhase.DRAFT
    elif needs_approval:
        phase = PostPhase.PENDING_APPROVAL
    elif body.publish_now:
        phase = PostPhase.QUEUED
    else:
        phase = PostPhase.SCHEDULED
    post = Post(
        id=uuid.uuid4(),
        workspace_id=principal.workspace_id,
        brand_id=brand_id,
        content=body.content,
        media_ids=[str(m) for m in body.media_ids],
        phase=phase,
        scheduled_at=body.scheduled_at
        if body.scheduled_at
        else (now if body.publish_now else None),
        external_id=body.external_id,
        origin=origin,
        version=1,
        created_by_type=principal.actor_type,
        created_by_id=principal.actor_id,
        created_at=now,
        updated_at=now,
        targets=build_targets(
            body, accounts, TargetStatus.PENDING if body.draft else TargetStatus.SCHEDULED
        ),
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
    refresh_status(session, post, always_emit=body.queue)
    record_event(
        session,
        post.workspace_id,
        "post.created",
        "post",
        post.id,
        PostOut.of(post).model_dump(mode="json"),
    )
    if needs_approval:
        request_approval(session, post, now)
    await session.flush()
    return post


async def approval_required(session: AsyncSession, workspace_id: uuid.UUID) -> bool:
    workspace = await session.get(Workspace, workspace_id)
    return bool(workspace and workspace.settings.get("approval_required"))


def request_approval(session: AsyncSession, post: Post, now: datetime) -> None:
    post.phase = PostPhase.PENDING_APPROVAL
    post.approval_status = ApprovalStatus.PENDING
    post.approval_requested_at = now
    post.approval_decided_by = post.approval_reason = None
    refresh_status(session, post)
    record_event(
        session,
        post.workspace_id,
        "post.approval_requested",
        "post",
        post.id,
        PostOut.of(post).model_dump(mode="json"),
    )


EDITABLE = frozenset({PostStatus.DRAFT, PostStatus.SCHEDULED, PostStatus.QUEUED})


async def edit_post(
    session: AsyncSession, principal: Principal, post: Post, patch: PostPatch, now: datetime
) -> datetime | None:
    """Applies a PATCH before publishing starts. Returns the new time when the schedule of a
    waiting post changed: the caller moves the workflow's timer with it."""
    if post.status not in EDITABLE or any(
        t.status not in WAITING_TARGET_STATES for t in post.targets
    ):
        raise HeraldError.conflict(
            f"the post is {post.status}; only posts that have not started publishing change"
        )
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
        draft=True,
    )
    accounts, _ = await check_targets(session, principal, merged, now)
    if patch.scheduled_at is not None and patch.scheduled_at <= now:
        raise HeraldError.invalid("scheduled_at", "must be in the future")
    post.content = merged.content
    post.media_ids = [str(m) for m in merged.media_ids]
    if patch.targets is not None:
        waiting = TargetStatus.PENDING if post.phase is PostPhase.DRAFT else TargetStatus.SCHEDULED
        post.targets = build_targets(merged, accounts, waiting)
    moved_to = None
    if patch.scheduled_at is not None and patch.scheduled_at != post.scheduled_at:
        if post.phase is PostPhase.DRAFT:
            post.scheduled_at = patch.scheduled_at
        else:
            moved_to = patch.scheduled_at
    post.version += 1
    post.updated_at = now
    refresh_status(session, post)
    return moved_to
