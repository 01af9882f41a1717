"""Resolves the Authorization header to a Principal. Routes declare the permission they need."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from herald.crypto import API_KEY_PREFIX, api_key_digest
from herald.errors import ErrorCode, HeraldError
from herald.principal import ALL_PERMISSIONS, ActorType, Permission, Principal
from herald.repositories.api_keys import find_active_key


def _token_of(authorization: str | None) -> str:
    if not authorization or not authorization.strip():
        raise HeraldError(
            ErrorCode.UNAUTHORIZED,
            "missing credentials: send Authorization: Bearer <api key>",
            headers={"WWW-Authenticate": "Bearer"},
        )
    scheme, _, rest = authorization.strip().partition(" ")
    return rest.strip() if scheme.lower() == "bearer" else authorization.strip()


async def authenticate(session: AsyncSession, authorization: str | None) -> Principal:
    token = _token_of(authorization)
    key = (
        await find_active_key(session, api_key_digest(token))
        if token.startswith(API_KEY_PREFIX)
        else None
    )
    if key is None:
        raise HeraldError(
            ErrorCode.UNAUTHORIZED,
            "invalid or revoked credentials",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    permissions = (
        frozenset(Permission(p) for p in key.permissions)
        if key.permissions is not None
        else ALL_PERMISSIONS
    )
    return Principal(
        workspace_id=key.workspace_id,
        actor_type=ActorType.API_KEY,
        actor_id=str(key.id),
        permissions=permissions,
    )


def authorize(principal: Principal, permission: Permission) -> Principal:
    if not principal.can(permission):
        raise HeraldError(ErrorCode.FORBIDDEN, f"this action needs the {permission} permission")
    return principal
