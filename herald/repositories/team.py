"""Workspaces' members, roles and invitations."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import Row, func, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from herald.db.models import Invitation, Member, Role, User
from herald.repositories.paging import decode_cursor, encode_keyset
from herald.roles import BUILTIN_ROLES, OWNER


async def get_role(
    session: AsyncSession, workspace_id: uuid.UUID, role_id: uuid.UUID
) -> Role | None:
    """A built-in role, or one of the workspace's own."""
    result = await session.execute(
        select(Role).where(
            Role.id == role_id,
            or_(Role.workspace_id.is_(None), Role.workspace_id == workspace_id),
        )
    )
    return result.scalar_one_or_none()


async def list_roles(session: AsyncSession, workspace_id: uuid.UUID) -> Sequence[Role]:
    """The built-in roles first (owner to viewer), then the workspace's by creation."""
    result = await session.execute(
        select(Role)
        .where(or_(Role.workspace_id.is_(None), Role.workspace_id == workspace_id))
        .order_by(Role.created_at, Role.id)
    )
    builtin = [role.id for role in BUILTIN_ROLES]
    roles = result.scalars().all()
    return sorted(roles, key=lambda r: builtin.index(r.id) if r.id in builtin else len(builtin))


async def role_named(session: AsyncSession, workspace_id: uuid.UUID, name: str) -> Role | None:
    result = await session.execute(
        select(Role).where(Role.workspace_id == workspace_id, func.lower(Role.name) == name.lower())
    )
    return result.scalar_one_or_none()


async def role_in_use(session: AsyncSession, role_id: uuid.UUID) -> bool:
    member = await session.execute(select(Member.user_id).where(Member.role_id == role_id).limit(1))
    if member.first() is not None:
        return True
    invited = await session.execute(
        select(Invitation.id)
        .where(Invitation.role_id == role_id, Invitation.accepted_at.is_(None))
        .limit(1)
    )
    return invited.first() is not None


async def get_member(
    session: AsyncSession, workspace_id: uuid.UUID, user_id: uuid.UUID
) -> Member | None:
    return await session.get(Member, (workspace_id, user_id))


async def list_members(
    session: AsyncSession, workspace_id: uuid.UUID, limit: int, cursor: str | None
) -> tuple[Sequence[Row[User, Role, Member]], str | None]:
    """One page of members in the order they joined, and the next page's cursor (None: last).
    The keyset is the membership's (created_at, user id): a member is a (workspace, user)."""
    key = tuple_(Member.created_at, Member.user_id)
    query = (
        select(User, Role, Member)
        .join(Member, Member.user_id == User.id)
        .join(Role, Role.id == Member.role_id)
        .where(Member.workspace_id == workspace_id)
    )
    if cursor is not None:
        query = query.where(key > tuple_(*decode_cursor(cursor)))
    rows = (await session.execute(query.order_by(*key).limit(limit + 1))).all()
    page = rows[:limit]
    if len(rows) <= limit:
        return page, None
    last = page[-1][2]
    return page, encode_keyset(last.created_at, last.user_id)


async def owner_count(session: AsyncSession, workspace_id: uuid.UUID) -> int:
    """The workspace's owners, their rows locked (Postgres) so that two requests demoting two
    owners at once cannot leave none; SQLite's one writer serialises them anyway."""
    result = await session.execute(
        select(Member.user_id)
        .where(Member.workspace_id == workspace_id, Member.role_id == OWNER.id)
        .with_for_update()
    )
    return len(result.all())


async def find_invitation(session: AsyncSession, digest: str) -> Invitation | None:
    result = await session.execute(select(Invitation).where(Invitation.token_digest == digest))
    return result.scalar_one_or_none()
