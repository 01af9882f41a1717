"""Mirrors: new posts on a source account republished to target accounts."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import PageCursor, PageLimit, SessionDep, TemporalDep, require
from herald.db.models import Mirror
from herald.errors import HeraldError
from herald.principal import Permission, Principal
from herald.repositories.mirrors import get_mirror, list_mirror_posts, list_mirrors
from herald.schemas.mirrors import (
    MirrorBody,
    MirrorList,
    MirrorOut,
    MirrorPatch,
    MirrorPostList,
    MirrorPostOut,
)
from herald.services.mirrors import create_mirror, delete_mirror, update_mirror

router = APIRouter(prefix="/v1/mirrors", tags=["mirrors"])

Reader = Annotated[Principal, Depends(require(Permission.WORKSPACE_READ))]
Manager = Annotated[Principal, Depends(require(Permission.POSTS_SCHEDULE))]


async def _mirror(session: AsyncSession, principal: Principal, mirror_id: uuid.UUID) -> Mirror:
    mirror = await get_mirror(session, principal.workspace_id, mirror_id)
    if mirror is None:
        raise HeraldError.not_found("mirror")
    return mirror


@router.get("", response_model=MirrorList, summary="List mirrors")
async def list_(
    session: SessionDep, principal: Reader, cursor: PageCursor = None, limit: PageLimit = 50
) -> MirrorList:
    rows, next_cursor = await list_mirrors(session, principal.workspace_id, limit, cursor)
    return MirrorList(data=[MirrorOut.of(m) for m in rows], next_cursor=next_cursor)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=MirrorOut,
    summary="Create a mirror; its workflow starts polling",
)
async def create(
    body: MirrorBody, session: SessionDep, temporal: TemporalDep, principal: Manager
) -> MirrorOut:
    mirror = await create_mirror(session, principal, body, temporal)
    return MirrorOut.of(mirror)


@router.get("/{mirror_id}", response_model=MirrorOut, summary="Get a mirror")
async def get(mirror_id: uuid.UUID, session: SessionDep, principal: Reader) -> MirrorOut:
    return MirrorOut.of(await _mirror(session, principal, mirror_id))


@router.patch(
    "/{mirror_id}",
    response_model=MirrorOut,
    summary="Change a mirror; is_active pauses or resumes it",
)
async def patch(
    mirror_id: uuid.UUID,
    body: MirrorPatch,
    session: SessionDep,
    temporal: TemporalDep,
    principal: Manager,
) -> MirrorOut:
    mirror = await _mirror(session, principal, mirror_id)
    await update_mirror(session, principal, mirror, body, temporal)
    return MirrorOut.of(mirror)


@router.delete(
    "/{mirror_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a mirror and stop its workflow",
)
async def delete(
    mirror_id: uuid.UUID, session: SessionDep, temporal: TemporalDep, principal: Manager
) -> Response:
    mirror = await _mirror(session, principal, mirror_id)
    await delete_mirror(session, principal, mirror, temporal)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/{mirror_id}/posts",
    response_model=MirrorPostList,
    summary="Source posts the mirror saw, with what became of them",
)
async def posts(
    mirror_id: uuid.UUID,
    session: SessionDep,
    principal: Reader,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> MirrorPostList:
    mirror = await _mirror(session, principal, mirror_id)
    rows = await list_mirror_posts(session, mirror.id, limit)
    return MirrorPostList(
        data=[MirrorPostOut.of(record, str(s) if s else None, at) for record, s, at in rows]
    )
