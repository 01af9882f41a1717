"""Plan limits (seed 002: 402 PLAN_LIMIT): per-workspace quotas on connected accounts, posts
created in a calendar month (in the workspace's time zone) and members. Each workspace's are
kept in its settings (`plan_limits`), set by the operator (`herald admin set-plan-limits`),
and a limit it does not name is the deployment's default (HERALD_PLAN_LIMIT_*); none means
no limit. Making one thing more through the API past its limit answers 402 naming the limit
and what is used; reading never counts, and what workflows make (recurrence and mirror
copies) counts toward the month's posts but is never refused."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from herald.db.models import Invitation, Member, Post, SocialAccount, Workspace
from herald.errors import ErrorCode, ErrorDetail, HeraldError
from herald.settings import Settings
from herald.status import AccountStatus

SETTINGS_KEY = "plan_limits"


class PlanLimit(StrEnum):
    ACCOUNTS = "accounts"
    POSTS_PER_MONTH = "posts_per_month"
    MEMBERS = "members"


_WHAT = {
    PlanLimit.ACCOUNTS: "connected accounts",
    PlanLimit.POSTS_PER_MONTH: "posts created this month",
    PlanLimit.MEMBERS: "members and open invitations",
}


@dataclass(frozen=True)
class PlanDefaults:
    """The deployment's limits, for workspaces that name none of their own."""

    accounts: int | None = None
    posts_per_month: int | None = None
    members: int | None = None

    @classmethod
    def of(cls, settings: Settings) -> PlanDefaults:
        return cls(
            settings.plan_limit_accounts,
            settings.plan_limit_posts_per_month,
            settings.plan_limit_members,
        )

    def limits_of(self, workspace: Workspace) -> dict[PlanLimit, int | None]:
        own: dict[str, Any] = workspace.settings.get(SETTINGS_KEY) or {}
        return {
            limit: own[limit.value] if limit.value in own else getattr(self, limit.value)
            for limit in PlanLimit
        }


def month_start(workspace: Workspace, now: datetime) -> datetime:
    """The first instant of the calendar month `now` is in, where the workspace is."""
    zone = ZoneInfo(str(workspace.settings.get("timezone") or "UTC"))
    local = now.astimezone(zone)
    first = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return first.astimezone(ZoneInfo("UTC"))


async def usage(
    session: AsyncSession, workspace: Workspace, limit: PlanLimit, now: datetime
) -> int:
    counted: Any
    if limit is PlanLimit.ACCOUNTS:
        counted = select(func.count()).where(
            SocialAccount.workspace_id == workspace.id,
            SocialAccount.status != AccountStatus.REVOKED,
        )
    elif limit is PlanLimit.POSTS_PER_MONTH:
        counted = select(func.count()).where(
            Post.workspace_id == workspace.id, Post.created_at >= month_start(workspace, now)
        )
    else:
        members = await session.scalar(
            select(func.count()).where(Member.workspace_id == workspace.id)
        )
        counted = select(func.count()).where(
            Invitation.workspace_id == workspace.id,
            Invitation.accepted_at.is_(None),
            Invitation.expires_at > now,
        )
        return int(members or 0) + int(await session.scalar(counted) or 0)
    return int(await session.scalar(counted) or 0)


async def refuse_beyond(
    session: AsyncSession,
    defaults: PlanDefaults,
    workspace_id: uuid.UUID,
    limit: PlanLimit,
    now: datetime,
    *,
    adding: int = 1,
    counted_already: int = 0,
) -> Workspace | None:
    """402 PLAN_LIMIT when `adding` more would pass the workspace's limit. A workspace
    without that limit costs no count. `counted_already`: of the usage, what the addition
    itself already holds (an accepted invitation is counted until its member joins).
    Returns the workspace it read, for a caller that needs it again in the transaction."""
    workspace = await session.get(Workspace, workspace_id)
    if workspace is None:
        return None
    allowed = defaults.limits_of(workspace)[limit]
    if allowed is None:
        return workspace
    # Additions racing for the last places take turns: the workspace row is locked until
    # this transaction ends, so the next one counts what this one added (on Postgres; SQLite
    # runs one writer at a time anyway). Only a workspace with that limit pays for it.
    await session.execute(
        select(Workspace.id).where(Workspace.id == workspace_id).with_for_update()
    )
    used = await usage(session, workspace, limit, now) - counted_already
    if used + adding > allowed:
        raise HeraldError(
            ErrorCode.PLAN_LIMIT,
            f"the workspace's plan allows {allowed} {_WHAT[limit]}; {used} used",
            [ErrorDetail(f"plan_limits.{limit.value}", f"limit {allowed}, used {used}")],
        )
    return workspace
