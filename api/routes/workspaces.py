"""Workspaces: a user's list, making one (its maker its owner), reading and settings."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, status

from api.auth import KeyCaller
from api.deps import CallerDep, ResourcesDep, SessionDep, require
from herald.db.models import Workspace
from herald.errors import HeraldError
from herald.principal import Permission, Principal
from herald.repositories.people import memberships_of
from herald.schemas.team import WorkspaceBody, WorkspaceList, WorkspaceOut, WorkspacePatch
from herald.services.team import create_workspace, update_workspace

router = APIRouter(prefix="/v1/workspaces", tags=["workspaces"])

Reader = Annotated[Principal, Depends(require(Permission.WORKSPACE_READ))]
Settler = Annotated[Principal, Depends(require(Permission.WORKSPACE_SETTINGS))]


@router.get(
    "",
    response_model=WorkspaceList,
    summary="The workspaces the caller acts in (a user's memberships; an API key's one)",
)
async def list_(session: SessionDep, caller: CallerDep, resources: ResourcesDep) -> WorkspaceList:
    if isinstance(caller, KeyCaller):
        own = await session.get(Workspace, caller.workspace_id)
        return WorkspaceList(data=[WorkspaceOut.of(own)] if own else [])
    current = await resources.auth.user(session, caller)
    rows = await memberships_of(session, current.user.id)
    return WorkspaceList(data=[WorkspaceOut.of(w) for w, _ in rows])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=WorkspaceOut,
    summary="Make a workspace; the user making it is its owner (user tokens only)",
)
async def create(
    body: WorkspaceBody, session: SessionDep, caller: CallerDep, resources: ResourcesDep
) -> WorkspaceOut:
    current = await resources.auth.user(session, caller)
    return WorkspaceOut.of(
        await create_workspace(session, current.user, body, resources.clock.now())
    )


@router.get("/{workspace_id}", response_model=WorkspaceOut, summary="Get a workspace")
async def get(workspace_id: uuid.UUID, session: SessionDep, principal: Reader) -> WorkspaceOut:
    workspace = await session.get(Workspace, principal.workspace_id)
    if workspace is None:
        raise HeraldError.not_found("workspace")
    return WorkspaceOut.of(workspace)


@router.patch(
    "/{workspace_id}",
    response_model=WorkspaceOut,
    summary="Rename a workspace or change its settings (approval_required, "
    "approval_timeout_s, timezone)",
)
async def patch(
    workspace_id: uuid.UUID, body: WorkspacePatch, session: SessionDep, principal: Settler
) -> WorkspaceOut:
    return WorkspaceOut.of(await update_workspace(session, principal, body))
