"""Notifications: what needs a person's attention in the workspace."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from api.deps import PageCursor, PageLimit, SessionDep, require
from herald.db.types import utcnow
from herald.principal import Permission, Principal
from herald.schemas.notifications import NotificationList, NotificationOut, ReadBody, ReadOut
from herald.services.notifications import list_notifications, mark_read

router = APIRouter(prefix="/v1/notifications", tags=["notifications"])

Reader = Annotated[Principal, Depends(require(Permission.WORKSPACE_READ))]
# The workspace's notifications are one inbox its team shares: marking them read changes what
# everyone sees, so a viewer (who changes nothing) may not; the people who act on them
# (editors, reviewers, admins, owners) hold posts.edit.
Marker = Annotated[Principal, Depends(require(Permission.POSTS_EDIT))]


@router.get(
    "",
    response_model=NotificationList,
    summary="Failed and partial posts, expired accounts, switched-off webhooks, approvals "
    "waiting; newest first",
)
async def list_(
    session: SessionDep,
    principal: Reader,
    unread: Annotated[bool | None, Query(description="true: unread only; false: read only")] = None,
    cursor: PageCursor = None,
    limit: PageLimit = 50,
) -> NotificationList:
    rows, next_cursor = await list_notifications(
        session, principal.workspace_id, unread, limit, cursor
    )
    return NotificationList(data=[NotificationOut.of(n) for n in rows], next_cursor=next_cursor)


@router.post("/read", response_model=ReadOut, summary="Mark notifications read (ids, or all)")
async def read(body: ReadBody, session: SessionDep, principal: Marker) -> ReadOut:
    ids = None if body.all else body.ids
    return ReadOut(marked=await mark_read(session, principal, ids, utcnow()))
