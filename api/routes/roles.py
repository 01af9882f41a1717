"""Roles: the five built-in ones and the workspace's own."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from api.deps import ResourcesDep, SessionDep, require
from herald.principal import Permission, Principal
from herald.repositories.team import list_roles
from herald.schemas.team import RoleBody, RoleList, RoleOut, RolePatch
from herald.services import team

router = APIRouter(prefix="/v1/workspaces/{workspace_id}/roles", tags=["team"])

Reader = Annotated[Principal, Depends(require(Permission.WORKSPACE_READ))]
Manager = Annotated[Principal, Depends(require(Permission.ROLES_MANAGE))]


@router.get("", response_model=RoleList, summary="Built-in roles, then the workspace's own")
async def list_(workspace_id: uuid.UUID, session: SessionDep, principal: Reader) -> RoleList:
    return RoleList(data=[RoleOut.of(r) for r in await list_roles(session, principal.workspace_id)])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=RoleOut,
    summary="A custom role with any of the 20 permissions (none you do not hold)",
)
async def create(
    workspace_id: uuid.UUID,
    body: RoleBody,
    session: SessionDep,
    resources: ResourcesDep,
    principal: Manager,
) -> RoleOut:
    return RoleOut.of(await team.create_role(session, principal, body, resources.clock.now()))


@router.patch("/{role_id}", response_model=RoleOut, summary="Rename a custom role or change it")
async def patch(
    workspace_id: uuid.UUID,
    role_id: uuid.UUID,
    body: RolePatch,
    session: SessionDep,
    principal: Manager,
) -> RoleOut:
    return RoleOut.of(await team.update_role(session, principal, role_id, body))


@router.delete(
    "/{role_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a custom role nobody has (409 while members or invitations use it)",
)
async def delete(
    workspace_id: uuid.UUID, role_id: uuid.UUID, session: SessionDep, principal: Manager
) -> Response:
    await team.delete_role(session, principal, role_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
