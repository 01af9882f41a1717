"""Users, their login sessions and refresh tokens, and the memberships that give them roles."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Row, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from herald.db.models import AuthSession, Member, RefreshToken, Role, User, Workspace


async def find_user_by_email(session: AsyncSession, key: str) -> User | None:
    result = await session.execute(select(User).where(User.email_key == key))
    return result.scalar_one_or_none()


async def user_of_session(
    session: AsyncSession, user_id: uuid.UUID, session_id: uuid.UUID
) -> User | None:
    """The user, if the login session is theirs and still open."""
    result = await session.execute(
        select(User)
        .join(AuthSession, AuthSession.user_id == User.id)
        .where(User.id == user_id, AuthSession.id == session_id, AuthSession.revoked_at.is_(None))
    )
    return result.scalar_one_or_none()


async def session_is_open(session: AsyncSession, user_id: uuid.UUID, session_id: uuid.UUID) -> bool:
    return await user_of_session(session, user_id, session_id) is not None


async def roles_in_session(
    session: AsyncSession,
    user_id: uuid.UUID,
    session_id: uuid.UUID,
    workspace_id: uuid.UUID | None,
    limit: int = 2,
) -> Sequence[Row[uuid.UUID, uuid.UUID, list[str]]]:
    """(workspace_id, role_id, role permissions) of the user's memberships, in one query that
    also checks the login session is open: one workspace's, or up to `limit` of them."""
    query = (
        select(Member.workspace_id, Member.role_id, Role.permissions)
        .join(Role, Role.id == Member.role_id)
        .join(AuthSession, AuthSession.user_id == Member.user_id)
        .where(
            Member.user_id == user_id,
            AuthSession.id == session_id,
            AuthSession.revoked_at.is_(None),
        )
    )
    if workspace_id is not None:
        query = query.where(Member.workspace_id == workspace_id)
    return (await session.execute(query.limit(limit))).all()


async def memberships_of(
    session: AsyncSession, user_id: uuid.UUID
) -> Sequence[Row[Workspace, Role]]:
    result = await session.execute(
        select(Workspace, Role)
        .join(Member, Member.workspace_id == Workspace.id)
        .join(Role, Role.id == Member.role_id)
        .where(Member.user_id == user_id)
        .order_by(Workspace.created_at, Workspace.id)
    )
    return result.all()


async def find_refresh_token(
    session: AsyncSession, digest: str
) -> Row[RefreshToken, AuthSession] | None:
    result = await session.execute(
        select(RefreshToken, AuthSession)
        .join(AuthSession, AuthSession.id == RefreshToken.session_id)
        .where(RefreshToken.token_digest == digest)
    )
    return result.first()


async def mark_rotated(session: AsyncSession, token_id: uuid.UUID, now: datetime) -> bool:
    """Marks the token exchanged; False if it already was (another request got there first)."""
    result = await session.execute(
        update(RefreshToken)
        .where(RefreshToken.id == token_id, RefreshToken.rotated_at.is_(None))
        .values(rotated_at=now)
    )
    return bool(getattr(result, "rowcount", 0) == 1)


async def revoke_session(
    session: AsyncSession, session_id: uuid.UUID, reason: str, now: datetime
) -> None:
    await session.execute(
        update(AuthSession)
        .where(AuthSession.id == session_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=now, revoked_reason=reason)
    )
