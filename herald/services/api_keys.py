"""API keys a workspace makes for itself: the secret is shown once, only its digest is kept,
and a revoked key fails its very next request (keys are looked up on every request)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from herald.crypto import api_key_digest, new_api_key
from herald.db.models import ApiKey
from herald.errors import HeraldError
from herald.principal import Principal
from herald.repositories.api_keys import get_key
from herald.roles import GRANTABLE
from herald.schemas.team import ApiKeyBody
from herald.services import audit
from herald.services.team import refuse_unless_within

PREFIX_LENGTH = 10


async def create_key(
    session: AsyncSession, principal: Principal, body: ApiKeyBody, now: datetime
) -> tuple[ApiKey, str]:
    if body.expires_at is not None and body.expires_at <= now:
        raise HeraldError.invalid("expires_at", "must be in the future")
    permissions = (
        [str(p) for p in body.permissions]
        if body.permissions is not None
        else sorted(str(p) for p in principal.permissions & GRANTABLE)
    )
    refuse_unless_within(principal, permissions, "this key")
    secret = new_api_key()
    key = ApiKey(
        workspace_id=principal.workspace_id,
        name=body.name,
        key_digest=api_key_digest(secret),
        key_prefix=secret[:PREFIX_LENGTH],
        permissions=permissions,
        created_at=now,
        created_by_type=principal.actor_type.value,
        created_by_id=principal.actor_id,
        expires_at=body.expires_at,
    )
    session.add(key)
    await session.flush()
    audit.record(
        session,
        principal,
        "api_key.created",
        "api_key",
        key.id,
        {"name": key.name, "permissions": key.permissions, "expires_at": key.expires_at},
        now,
    )
    return key, secret


async def revoke_key(
    session: AsyncSession, principal: Principal, key_id: uuid.UUID, now: datetime
) -> None:
    key = await get_key(session, principal.workspace_id, key_id)
    if key is None:
        raise HeraldError.not_found("API key")
    if key.permissions is not None:
        refuse_unless_within(principal, key.permissions, "revoking this key")
    key.revoked_at = now
    audit.record(session, principal, "api_key.revoked", "api_key", key.id, {"name": key.name}, now)
