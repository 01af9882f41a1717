"""Workspaces and their people: members, invitations and roles.

Nobody hands out more than they hold: a role given (by invitation or change), a custom role's
permissions and an API key's scope must be within the caller's own permissions, and a member
whose role holds more than the caller's cannot be changed or removed by them. A workspace
always keeps an owner: removing or demoting the last one answers 409.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from herald.crypto import INVITATION_TOKEN_PREFIX, new_secret_token, token_digest
from herald.db.models import Invitation, Member, Role, User, Workspace
from herald.errors import ErrorCode, HeraldError
from herald.principal import Actor, ActorType, Permission, Principal
from herald.repositories.people import find_user_by_email
from herald.repositories.team import (
    find_invitation,
    get_member,
    get_role,
    owner_count,
    role_in_use,
    role_named,
)
from herald.roles import BUILTIN_BY_ID, BUILTIN_NAMES, OWNER, role_permissions
from herald.schemas.auth import AcceptBody, email_key
from herald.schemas.team import (
    InviteBody,
    RoleBody,
    RolePatch,
    WorkspaceBody,
    WorkspacePatch,
)
from herald.services import audit
from herald.services.events import record_event
from herald.services.plan_limits import PlanDefaults, PlanLimit, refuse_beyond
from herald.services.signup import SignupMode, new_user, refuse_new_user

INVITATION_CREATED = "invitation.created"


def refuse_unless_within(principal: Principal, permissions: Iterable[str], what: str) -> None:
    beyond = sorted(set(permissions) - principal.permissions)
    if beyond:
        raise HeraldError(
            ErrorCode.FORBIDDEN, f"{what} would hold {', '.join(beyond)}, which you do not"
        )


# --- workspaces -----------------------------------------------------------------------------


async def create_workspace(
    session: AsyncSession, user: User, body: WorkspaceBody, now: datetime
) -> Workspace:
    """A new workspace, its creator its owner."""
    workspace = Workspace(
        name=body.name, settings=body.settings.model_dump(exclude_none=True), created_at=now
    )
    session.add(workspace)
    await session.flush()
    session.add(
        Member(workspace_id=workspace.id, user_id=user.id, role_id=OWNER.id, created_at=now)
    )
    await session.flush()
    audit.record_as(
        session,
        workspace.id,
        Actor(ActorType.USER, str(user.id)),
        "workspace.created",
        "workspace",
        workspace.id,
        {"name": workspace.name, "settings": workspace.settings},
        now,
    )
    return workspace


async def update_workspace(
    session: AsyncSession, principal: Principal, patch: WorkspacePatch
) -> Workspace:
    workspace = await session.get(Workspace, principal.workspace_id)
    if workspace is None:
        raise HeraldError.not_found("workspace")
    audit.record(
        session,
        principal,
        "workspace.updated",
        "workspace",
        workspace.id,
        patch.model_dump(exclude_unset=True),
    )
    if patch.name is not None:
        workspace.name = patch.name
    if patch.settings is not None:
        changes = patch.settings.model_dump(exclude_unset=True)
        # approval_timeout_s: null switches the timeout off.
        workspace.settings = {
            **workspace.settings,
            **{k: v for k, v in changes.items() if v is not None or k == "approval_timeout_s"},
        }
    return workspace


# --- roles ----------------------------------------------------------------------------------


async def _role(session: AsyncSession, workspace_id: uuid.UUID, role_id: uuid.UUID) -> Role:
    role = await get_role(session, workspace_id, role_id)
    if role is None:
        raise HeraldError.invalid("role_id", "no such role in this workspace")
    return role


def _grants(role: Role) -> frozenset[Permission]:
    return role_permissions(role.id, role.permissions) - {Permission.WORKSPACE_READ}


async def _free_name(session: AsyncSession, workspace_id: uuid.UUID, name: str) -> str:
    name = name.strip()
    if not name:
        raise HeraldError.invalid("name", "must not be blank")
    if name.lower() in BUILTIN_NAMES or await role_named(session, workspace_id, name):
        raise HeraldError.conflict(f"a role named {name!r} exists already")
    return name


async def create_role(
    session: AsyncSession, principal: Principal, body: RoleBody, now: datetime
) -> Role:
    refuse_unless_within(principal, body.permissions, "this role")
    role = Role(
        workspace_id=principal.workspace_id,
        name=await _free_name(session, principal.workspace_id, body.name),
        permissions=[str(p) for p in body.permissions],
        created_at=now,
    )
    session.add(role)
    await session.flush()
    audit.record(session, principal, "role.created", "role", role.id, _role_facts(role), now)
    return role


def _role_facts(role: Role) -> dict[str, object]:
    return {"name": role.name, "permissions": role.permissions}


async def _custom_role(session: AsyncSession, principal: Principal, role_id: uuid.UUID) -> Role:
    role = await get_role(session, principal.workspace_id, role_id)
    if role is None:
        raise HeraldError.not_found("role")
    if role.id in BUILTIN_BY_ID:
        raise HeraldError.conflict("built-in roles cannot be changed or deleted")
    refuse_unless_within(principal, _grants(role), "this role")
    return role


async def update_role(
    session: AsyncSession, principal: Principal, role_id: uuid.UUID, patch: RolePatch
) -> Role:
    role = await _custom_role(session, principal, role_id)
    if patch.name is not None and patch.name.strip().lower() != role.name.lower():
        role.name = await _free_name(session, principal.workspace_id, patch.name)
    if patch.permissions is not None:
        refuse_unless_within(principal, patch.permissions, "this role")
        role.permissions = [str(p) for p in patch.permissions]
    audit.record(session, principal, "role.updated", "role", role.id, _role_facts(role))
    return role


async def delete_role(session: AsyncSession, principal: Principal, role_id: uuid.UUID) -> None:
    role = await _custom_role(session, principal, role_id)
    if await role_in_use(session, role.id):
        raise HeraldError.conflict("members or open invitations still have this role")
    audit.record(session, principal, "role.deleted", "role", role.id, _role_facts(role))
    await session.delete(role)


# --- members --------------------------------------------------------------------------------


async def _member(session: AsyncSession, principal: Principal, user_id: uuid.UUID) -> Member:
    member = await get_member(session, principal.workspace_id, user_id)
    if member is None:
        raise HeraldError.not_found("member")
    current = await session.get(Role, member.role_id)
    assert current is not None
    refuse_unless_within(principal, _grants(current), "changing this member")
    return member


async def _refuse_last_owner(session: AsyncSession, member: Member) -> None:
    if member.role_id == OWNER.id and await owner_count(session, member.workspace_id) <= 1:
        raise HeraldError.conflict(
            "this is the workspace's last owner: make another member owner first"
        )


async def change_role(
    session: AsyncSession, principal: Principal, user_id: uuid.UUID, role_id: uuid.UUID
) -> tuple[Member, Role]:
    member = await _member(session, principal, user_id)
    role = await _role(session, principal.workspace_id, role_id)
    refuse_unless_within(principal, _grants(role), "this role")
    if role.id != member.role_id:
        await _refuse_last_owner(session, member)
        audit.record(
            session,
            principal,
            "member.role_changed",
            "member",
            member.user_id,
            {"from_role_id": member.role_id, "role_id": role.id, "role_name": role.name},
        )
        member.role_id = role.id
    return member, role


async def remove_member(session: AsyncSession, principal: Principal, user_id: uuid.UUID) -> None:
    member = await _member(session, principal, user_id)
    await _refuse_last_owner(session, member)
    audit.record(
        session, principal, "member.removed", "member", member.user_id, {"role_id": member.role_id}
    )
    await session.delete(member)


# --- invitations ----------------------------------------------------------------------------


async def invite(
    session: AsyncSession,
    principal: Principal,
    body: InviteBody,
    ttl_s: int,
    now: datetime,
    plan: PlanDefaults,
) -> tuple[Invitation, str]:
    """An invitation and its token (shown once; only its digest is kept)."""
    role = await _role(session, principal.workspace_id, body.role_id)
    refuse_unless_within(principal, _grants(role), "this role")
    existing = await find_user_by_email(session, email_key(body.email))
    if existing is not None and await get_member(session, principal.workspace_id, existing.id):
        raise HeraldError.conflict("this person is a member already")
    # Open invitations count: each is a member to be.
    await refuse_beyond(session, plan, principal.workspace_id, PlanLimit.MEMBERS, now)
    token = new_secret_token(INVITATION_TOKEN_PREFIX)
    invitation = Invitation(
        workspace_id=principal.workspace_id,
        email=body.email,
        role_id=role.id,
        token_digest=token_digest(token),
        invited_by_type=principal.actor_type,
        invited_by_id=principal.actor_id,
        created_at=now,
        expires_at=now + timedelta(seconds=ttl_s),
    )
    session.add(invitation)
    await session.flush()
    # No mail server: the inviter passes the token on. The event never carries it.
    record_event(
        session,
        principal.workspace_id,
        INVITATION_CREATED,
        "invitation",
        invitation.id,
        {
            "id": str(invitation.id),
            "email": invitation.email,
            "role_id": str(role.id),
            "role_name": role.name,
            "expires_at": invitation.expires_at.isoformat(),
            "invited_by": {"type": principal.actor_type.value, "id": principal.actor_id},
        },
    )
    audit.record(
        session,
        principal,
        INVITATION_CREATED,
        "invitation",
        invitation.id,
        {"email": invitation.email, "role_id": role.id, "role_name": role.name},
        now,
    )
    return invitation, token


async def accept(
    session: AsyncSession,
    token: str,
    body: AcceptBody,
    user: User | None,
    now: datetime,
    plan: PlanDefaults,
    signup: SignupMode,
) -> tuple[Invitation, User]:
    """Joins the invitation's workspace: as `user` (logged in; the invitation must be for
    their address), or as a new user made from `body`."""
    invitation = await find_invitation(session, token_digest(token))
    if invitation is None or invitation.accepted_at is not None or invitation.expires_at <= now:
        raise HeraldError.not_found("invitation (it may have expired or been used)")
    # The invitation counts already; a limit lowered since it was made still holds.
    await refuse_beyond(
        session, plan, invitation.workspace_id, PlanLimit.MEMBERS, now, counted_already=1
    )
    if user is not None:
        if email_key(user.email) != email_key(invitation.email):
            raise HeraldError(ErrorCode.FORBIDDEN, "this invitation is for another email address")
        if await get_member(session, invitation.workspace_id, user.id) is not None:
            raise HeraldError.conflict("you are a member of this workspace already")
    else:
        refuse_new_user(signup, invited=True)
        if body.name is None or body.password is None:
            raise HeraldError.invalid(
                "password" if body.name else "name", "a new user needs a name and a password"
            )
        if await find_user_by_email(session, email_key(invitation.email)) is not None:
            raise HeraldError.conflict(
                "an account with this email exists: log in and accept with its access token"
            )
        user = await new_user(session, invitation.email, body.name, body.password, now)
    session.add(
        Member(
            workspace_id=invitation.workspace_id,
            user_id=user.id,
            role_id=invitation.role_id,
            created_at=now,
        )
    )
    invitation.accepted_at = now
    invitation.accepted_by = user.id
    await session.flush()
    audit.record_as(
        session,
        invitation.workspace_id,
        Actor(ActorType.USER, str(user.id)),
        "member.joined",
        "member",
        user.id,
        {"invitation_id": invitation.id, "email": user.email, "role_id": invitation.role_id},
        now,
    )
    return invitation, user
