"""Mirrors: new posts on a source account republished to target accounts."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import SessionDep, TemporalDep, require
from herald.db.models import Mirror
from herald.db.types import utcnow
from herald.errors import ErrorCode, ErrorDetail, HeraldError
from herald.principal import Permission, Principal
from herald.repositories.accounts import get_accounts
from herald.repositories.mirrors import get_mirror, list_mirror_posts, list_mirrors
from herald.schemas.mirrors import (
    MirrorBody,
    MirrorList,
    MirrorOut,
    MirrorPatch,
    MirrorPostList,
    MirrorPostOut,
)

router = APIRouter(prefix="/v1/mirrors", tags=["mirrors"])

Reader = Annotated[Principal, Depends(require(Permission.WORKSPACE_READ))]
Manager = Annotated[Principal, Depends(require(Permission.POSTS_SCHEDULE))]


async def _check_accounts(
    session: AsyncSession, principal: Principal, source: uuid.UUID | None, targets: list[uuid.UUID]
) -> None:
    wanted = [*([source] if source else []), *targets]
    found = await get_accounts(session, principal.workspace_id, wanted)
    problems = []
    if source is not None and source not in found:
        problems.append(ErrorDetail("source_account_id", "no such account in this workspace"))
    problems += [
        ErrorDetail(f"target_account_ids.{i}", "no such account in this workspace")
        for i, account in enumerate(targets)
        if account not in found
    ]
    if source is not None and source in targets:
        problems.append(ErrorDetail("target_account_ids", "the source cannot be a target"))
    if problems:
        raise HeraldError(ErrorCode.VALIDATION_ERROR, problems[0].message, problems)


async def _mirror(session: AsyncSession, principal: Principal, mirror_id: uuid.UUID) -> Mirror:
    mirror = await get_mirror(session, principal.workspace_id, mirror_id)
    if mirror is None:
        raise HeraldError.not_found("mirror")
    return mirror


@router.get("", response_model=MirrorList, summary="List mirrors")
async def list_(session: SessionDep, principal: Reader) -> MirrorList:
    rows = await list_mirrors(session, principal.workspace_id)
    return MirrorList(data=[MirrorOut.of(m) for m in rows])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=MirrorOut,
    summary="Create a mirror; its workflow starts polling",
)
async def create(
    body: MirrorBody, session: SessionDep, temporal: TemporalDep, principal: Manager
) -> MirrorOut:
    await _check_accounts(session, principal, body.source_account_id, body.target_account_ids)
    now = utcnow()
    mirror = Mirror(
        workspace_id=principal.workspace_id,
        name=body.name,
        description=body.description,
        source_account_id=body.source_account_id,
        target_account_ids=[str(a) for a in body.target_account_ids],
        is_active=body.is_active,
        future_content_enabled=body.future_content_enabled,
        existing_content_enabled=body.existing_content_enabled,
        existing_content_config=body.existing_content_config.model_dump(mode="json"),
        settings=body.settings.model_dump(mode="json"),
        last_enabled_at=now if body.is_active else None,
        created_at=now,
        updated_at=now,
    )
    session.add(mirror)
    await session.commit()
    await temporal.start_mirror(mirror.id)
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
    if body.target_account_ids is not None:
        await _check_accounts(session, principal, None, body.target_account_ids)
        if str(mirror.source_account_id) in {str(a) for a in body.target_account_ids}:
            raise HeraldError.invalid("target_account_ids", "the source cannot be a target")
        mirror.target_account_ids = [str(a) for a in body.target_account_ids]
    for field in ("name", "description", "future_content_enabled"):
        value = getattr(body, field)
        if value is not None:
            setattr(mirror, field, value)
    if body.settings is not None:
        mirror.settings = body.settings.model_dump(mode="json")
    toggled = body.is_active is not None and body.is_active != mirror.is_active
    if body.is_active is not None:
        mirror.is_active = body.is_active
        if body.is_active and toggled:
            mirror.last_enabled_at = utcnow()
    await session.commit()
    if toggled:
        await temporal.signal_mirror(mirror.id, "resume" if mirror.is_active else "pause")
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
    await session.delete(mirror)
    await session.commit()
    await temporal.stop_mirror(mirror_id)
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
