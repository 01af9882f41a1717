"""Checks of a post request against the workspace: content, time, accounts, brand, media and
account groups. Every problem is reported at once, as one 400 with a detail per path."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from herald.db.models import SocialAccount
from herald.errors import ErrorCode, ErrorDetail, HeraldError
from herald.principal import Principal
from herald.repositories.accounts import get_accounts, get_group
from herald.repositories.brands import get_brand
from herald.repositories.media import get_media, get_media_many
from herald.schemas.posts import PostCreate, TargetIn
from herald.status import (
    AccountStatus,
    MediaStatus,
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


async def check_video(
    session: AsyncSession, principal: Principal, media_id: uuid.UUID, path: str
) -> None:
    """The one media of a bulk-video post must be a ready video of this workspace."""
    media = await get_media(session, principal.workspace_id, media_id)
    if media is None:
        raise HeraldError.invalid(path, "no such media in this workspace")
    if media.status != MediaStatus.READY:
        raise HeraldError.invalid(path, f"the media is {media.status}, not ready")
    if not (media.mime_type or "").startswith("video/"):
        raise HeraldError.invalid(path, f"the media is {media.mime_type}, not a video")


async def check_media(
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
    problems += await check_media(session, principal, body)
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
