"""A workspace's members, their invitations, and accepting one."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Response, status

from api.deps import PageCursor, PageLimit, ResourcesDep, SessionDep, require
from api.openapi import error_responses
from herald.db.models import User
from herald.principal import Permission, Principal
from herald.repositories.team import list_members
from herald.schemas.auth import AcceptBody, UserOut
from herald.schemas.team import (
    Accepted,
    InvitationCreated,
    InviteBody,
    MemberList,
    MemberOut,
    MemberPatch,
)
from herald.services import team

router = APIRouter(tags=["team"])

Reader = Annotated[Principal, Depends(require(Permission.WORKSPACE_READ))]
Inviter = Annotated[Principal, Depends(require(Permission.USERS_INVITE))]
Manager = Annotated[Principal, Depends(require(Permission.USERS_MANAGE))]

BASE = "/v1/workspaces/{workspace_id}/users"


@router.get(BASE, response_model=MemberList, summary="The workspace's members and their roles")
async def list_(
    workspace_id: uuid.UUID,
    session: SessionDep,
    principal: Reader,
    cursor: PageCursor = None,
    limit: PageLimit = 50,
) -> MemberList:
    rows, next_cursor = await list_members(session, principal.workspace_id, limit, cursor)
    return MemberList(
        data=[MemberOut.of(u, r, m.created_at) for u, r, m in rows], next_cursor=next_cursor
    )


@router.post(
    f"{BASE}/invite",
    status_code=status.HTTP_201_CREATED,
    response_model=InvitationCreated,
    summary="Invite someone with a role; the token (shown once) is theirs to accept",
    description="There is no mail: pass the token on. It works once, for "
    "HERALD_INVITATION_TTL_S (7 days). Records an `invitation.created` event.",
    responses=error_responses(402),
)
async def invite(
    workspace_id: uuid.UUID,
    body: InviteBody,
    session: SessionDep,
    resources: ResourcesDep,
    principal: Inviter,
) -> InvitationCreated:
    invitation, token = await team.invite(
        session,
        principal,
        body,
        resources.settings.invitation_ttl_s,
        resources.clock.now(),
        resources.plan,
    )
    return InvitationCreated.of(invitation, token)


@router.patch(f"{BASE}/{{user_id}}", response_model=MemberOut, summary="Change a member's role")
async def change_role(
    workspace_id: uuid.UUID,
    user_id: uuid.UUID,
    body: MemberPatch,
    session: SessionDep,
    principal: Manager,
) -> MemberOut:
    member, role = await team.change_role(session, principal, user_id, body.role_id)
    user = await session.get(User, user_id)
    assert user is not None
    return MemberOut.of(user, role, member.created_at)


@router.delete(
    f"{BASE}/{{user_id}}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove a member (never the last owner)",
)
async def remove(
    workspace_id: uuid.UUID, user_id: uuid.UUID, session: SessionDep, principal: Manager
) -> Response:
    await team.remove_member(session, principal, user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/v1/invitations/{token}/accept",
    status_code=status.HTTP_201_CREATED,
    response_model=Accepted,
    summary="Accept an invitation: as a new user (name, password), or with your access token",
    # 401: an access token that does not work; 403: the invitation is for another address.
    responses=error_responses(401, 402, 403),
)
async def accept(
    token: str,
    body: AcceptBody,
    session: SessionDep,
    resources: ResourcesDep,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Accepted:
    user = None
    if authorization:
        caller = await resources.auth.identify(session, authorization)
        user = (await resources.auth.user(session, caller)).user
    invitation, joined = await team.accept(
        session,
        token,
        body,
        user,
        resources.clock.now(),
        resources.plan,
        resources.settings.signup,
    )
    return Accepted(
        workspace_id=invitation.workspace_id, role_id=invitation.role_id, user=UserOut.of(joined)
    )
