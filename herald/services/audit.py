"""The audit log: the one place an audit row is written.

Every change a person may ask "who did this?" about adds a row to the session that makes the
change, so the row commits with the change or not at all. The actor is the principal's (a
user, an API key) or Herald's own (`system`: mirrors, recurrences, timeouts, expiries).
Metadata says what changed, never a secret: callers pass what they mean to record, and this
module drops anything that looks like a credential on top of that.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from herald.crypto import API_KEY_PREFIX, INVITATION_TOKEN_PREFIX, REFRESH_TOKEN_PREFIX
from herald.db.models import AuditEvent
from herald.db.types import utcnow
from herald.principal import Actor, Principal

# A key containing one of these never reaches the log, whatever a caller passes.
_SECRET_KEY_PARTS = ("secret", "token", "password", "credential", "digest", "authorization")
_SECRET_KEYS = frozenset({"key", "api_key", "code", "state", "code_verifier"})
_SECRET_VALUE_PREFIXES = (
    API_KEY_PREFIX,
    INVITATION_TOKEN_PREFIX,
    REFRESH_TOKEN_PREFIX,
    "whsec_",
    "Bearer ",
)
REDACTED = "[redacted]"


def _is_secret_key(name: str) -> bool:
    lowered = name.lower()
    return lowered in _SECRET_KEYS or any(part in lowered for part in _SECRET_KEY_PARTS)


def scrub(value: Any) -> Any:
    """`value` as JSON the log may keep: secret-named keys gone, secret-looking strings
    redacted, ids and times as strings."""
    if isinstance(value, Mapping):
        return {str(k): scrub(v) for k, v in value.items() if not _is_secret_key(str(k))}
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return [scrub(v) for v in value]
    if isinstance(value, str):
        return REDACTED if value.startswith(_SECRET_VALUE_PREFIXES) else value
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if value is None or isinstance(value, bool | int | float):
        return value
    return str(value)


def record_as(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    actor: Actor,
    action: str,
    resource_type: str,
    resource_id: uuid.UUID | str,
    metadata: Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> AuditEvent:
    """An audit row in `session`'s transaction: `action` (`post.created`) by `actor`."""
    row = AuditEvent(
        workspace_id=workspace_id,
        action=action,
        actor_type=actor.type.value,
        actor_id=actor.id,
        resource_type=resource_type,
        resource_id=str(resource_id),
        details=scrub(dict(metadata or {})),
        created_at=now or utcnow(),
    )
    session.add(row)
    return row


def record(
    session: AsyncSession,
    principal: Principal,
    action: str,
    resource_type: str,
    resource_id: uuid.UUID | str,
    metadata: Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> AuditEvent:
    """An audit row for what the request's caller did in their workspace."""
    return record_as(
        session,
        principal.workspace_id,
        principal.actor,
        action,
        resource_type,
        resource_id,
        metadata,
        now,
    )
