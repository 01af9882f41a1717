"""Creating posts: checks the request against the workspace, then writes post, targets, events.

Services never commit; the caller's unit of work does. Starting the workflow happens after the
commit (see api.routes.posts), so a post exists before anything can publish it.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from herald.db.models import Post, PostTarget
from herald.errors import ErrorCode, ErrorDetail, HeraldError
from herald.principal import Principal
from herald.repositories.accounts import get_accounts, get_brand
from herald.schemas.posts import PostCreate, PostOut
from herald.services.events import record_event
from herald.services.post_state import refresh_status
from herald.status import AccountStatus, Origin, PostPhase, TargetStatus


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
        if target.account_id in seen:
            problems.append(
                ErrorDetail(f"targets.{index}.account_id", "this account is targeted twice")
            )
        seen.add(target.account_id)
    if body.media_ids or any(t.media_ids for t in body.targets):
        problems.append(ErrorDetail("media_ids", "media attachments are not available yet"))
    return problems


async def create_post(
    session: AsyncSession, principal: Principal, body: PostCreate, now: datetime
) -> Post:
    problems = _check_content(body)
    if body.scheduled_at is not None and body.scheduled_at <= now:
        problems.append(ErrorDetail("scheduled_at", "must be in the future"))
    accounts = await get_accounts(
        session, principal.workspace_id, [t.account_id for t in body.targets]
    )
    for index, target in enumerate(body.targets):
        account = accounts.get(target.account_id)
        path = f"targets.{index}.account_id"
        if account is None:
            problems.append(ErrorDetail(path, "no such account in this workspace"))
        elif account.status != AccountStatus.ACTIVE:
            problems.append(ErrorDetail(path, f"the account is {account.status}; reconnect it"))
        elif body.brand_id is not None and account.brand_id != body.brand_id:
            problems.append(ErrorDetail(path, "the account belongs to another brand"))
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

    if body.draft:
        phase = PostPhase.DRAFT
    elif body.publish_now:
        phase = PostPhase.QUEUED
    else:
        phase = PostPhase.SCHEDULED
    post = Post(
        id=uuid.uuid4(),
        workspace_id=principal.workspace_id,
        brand_id=brand_id,
        content=body.content,
        media_ids=[],
        phase=phase,
        scheduled_at=body.scheduled_at
        if body.scheduled_at
        else (now if body.publish_now else None),
        external_id=body.external_id,
        origin=Origin.API,
        version=1,
        created_by_type=principal.actor_type,
        created_by_id=principal.actor_id,
        created_at=now,
        updated_at=now,
        targets=[
            PostTarget(
                id=uuid.uuid4(),
                account_id=target.account_id,
                position=index,
                platform=accounts[target.account_id].platform,
                status=TargetStatus.PENDING if body.draft else TargetStatus.SCHEDULED,
                content=target.content,
                media_ids=None,
                options=target.options,
                attempts=0,
            )
            for index, target in enumerate(body.targets)
        ],
    )
    session.add(post)
    refresh_status(session, post)
    record_event(
        session,
        post.workspace_id,
        "post.created",
        "post",
        post.id,
        PostOut.of(post).model_dump(mode="json"),
    )
    await session.flush()
    return post
