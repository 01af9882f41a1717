"""Account groups: named sets of a workspace's accounts that a post can target at once."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from herald.db.models import AccountGroup
from herald.db.types import utcnow
from herald.errors import ErrorCode, ErrorDetail, HeraldError
from herald.principal import Principal
from herald.repositories.accounts import get_accounts, get_group
from herald.schemas.groups import GroupBody, GroupPatch
from herald.services import audit


async def _checked_accounts(
    session: AsyncSession, principal: Principal, account_ids: list[uuid.UUID]
) -> list[str]:
    found = await get_accounts(session, principal.workspace_id, account_ids)
    problems = [
        ErrorDetail(f"account_ids.{i}", "no such account in this workspace")
        for i, account_id in enumerate(account_ids)
        if account_id not in found
    ]
    if problems:
        raise HeraldError(ErrorCode.VALIDATION_ERROR, problems[0].message, problems)
    return [str(a) for a in dict.fromkeys(account_ids)]


async def _group(session: AsyncSession, principal: Principal, group_id: uuid.UUID) -> AccountGroup:
    group = await get_group(session, principal.workspace_id, group_id)
    if group is None:
        raise HeraldError.not_found("account group")
    return group


def _audit(session: AsyncSession, principal: Principal, action: str, group: AccountGroup) -> None:
    facts = {"name": group.name, "account_ids": group.account_ids}
    audit.record(session, principal, action, "account_group", group.id, facts)


async def create_group(
    session: AsyncSession, principal: Principal, body: GroupBody
) -> AccountGroup:
    now = utcnow()
    group = AccountGroup(
        workspace_id=principal.workspace_id,
        name=body.name,
        account_ids=await _checked_accounts(session, principal, body.account_ids),
        created_at=now,
        updated_at=now,
    )
    session.add(group)
    await session.flush()
    _audit(session, principal, "account_group.created", group)
    return group


async def update_group(
    session: AsyncSession, principal: Principal, group_id: uuid.UUID, body: GroupPatch
) -> AccountGroup:
    group = await _group(session, principal, group_id)
    if body.name is not None:
        group.name = body.name
    if body.account_ids is not None:
        group.account_ids = await _checked_accounts(session, principal, body.account_ids)
    group.updated_at = utcnow()
    _audit(session, principal, "account_group.updated", group)
    await session.flush()
    return group


async def delete_group(session: AsyncSession, principal: Principal, group_id: uuid.UUID) -> None:
    group = await _group(session, principal, group_id)
    _audit(session, principal, "account_group.deleted", group)
    await session.delete(group)
