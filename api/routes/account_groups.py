"""Account groups: named sets of accounts a post can target at once."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from api.deps import PageCursor, PageLimit, SessionDep, require
from herald.principal import Permission, Principal
from herald.repositories.accounts import list_groups
from herald.schemas.groups import GroupBody, GroupList, GroupOut, GroupPatch
from herald.services.account_groups import create_group, delete_group, update_group

router = APIRouter(prefix="/v1/account-groups", tags=["accounts"])

Reader = Annotated[Principal, Depends(require(Permission.WORKSPACE_READ))]
Manager = Annotated[Principal, Depends(require(Permission.ACCOUNTS_CONNECT))]


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
    return GroupOut.of(await create_group(session, principal, body))


@router.patch(
    "/{group_id}", response_model=GroupOut, summary="Rename a group or change its accounts"
)
async def patch(
    group_id: uuid.UUID, body: GroupPatch, session: SessionDep, principal: Manager
) -> GroupOut:
    return GroupOut.of(await update_group(session, principal, group_id, body))


@router.delete("/{group_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete a group")
async def delete(group_id: uuid.UUID, session: SessionDep, principal: Manager) -> Response:
    await delete_group(session, principal, group_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
