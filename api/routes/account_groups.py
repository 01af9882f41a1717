"""Account groups: named sets of accounts a post can target at once."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Response, status
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import PageCursor, PageLimit, SessionDep, require
from herald.db.models import AccountGroup
from herald.db.types import utcnow
from herald.errors import ErrorCode, ErrorDetail, HeraldError
from herald.principal import Permission, Principal
from herald.repositories.accounts import get_accounts, get_group, list_groups
from herald.schemas.groups import GroupBody, GroupList, GroupOut, GroupPatch
from herald.services import audit

router = APIRouter(prefix="/v1/account-groups", tags=["accounts"])

Reader = Annotated[Principal, Depends(require(Permission.WORKSPACE_READ))]
Manager = Annotated[Principal, Depends(require(Permission.ACCOUNTS_CONNECT))]


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


@router.get("", response_model=GroupList, summary="List account groups")
async def list_(
    session: SessionDep, principal: Reader, cursor: PageCursor = None, limit: PageLimit = 50
) -> GroupList:
    groups, next_cursor = await list_groups(session, principal.workspace_id, limit, cursor)
    return GroupList(data=[GroupOut.of(g) for g in groups], next_cursor=next_cursor)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=GroupOut,
    summary="Create an account group",
)
async def create(body: GroupBody, session: SessionDep, principal: Manager) -> GroupOut:
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
    return GroupOut.of(group)


@router.patch(
    "/{group_id}", response_model=GroupOut, summary="Rename a group or change its accounts"
)
async def patch(
    group_id: uuid.UUID, body: GroupPatch, session: SessionDep, principal: Manager
) -> GroupOut:
    group = await _group(session, principal, group_id)
    if body.name is not None:
        group.name = body.name
    if body.account_ids is not None:
        group.account_ids = await _checked_accounts(session, principal, body.account_ids)
    group.updated_at = utcnow()
    _audit(session, principal, "account_group.updated", group)
    await session.flush()
    return GroupOut.of(group)


@router.delete("/{group_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete a group")
async def delete(group_id: uuid.UUID, session: SessionDep, principal: Manager) -> Response:
    group = await _group(session, principal, group_id)
    _audit(session, principal, "account_group.deleted", group)
    await session.delete(group)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
