"""Event outbox: one row per state change, written in the transaction that makes the change."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from herald.db.models import Event, SocialAccount
from herald.schemas.accounts import AccountOut


def record_event(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    event_type: str,
    resource_type: str,
    resource_id: uuid.UUID,
    data: dict[str, Any],
) -> None:
    session.add(
        Event(
            workspace_id=workspace_id,
            type=event_type,
            resource_type=resource_type,
            resource_id=resource_id,
            data=data,
        )
    )


def account_event(
    session: AsyncSession, account: SocialAccount, event_type: str, **extra: Any
) -> None:
    """An event carrying the account as the API shows it (never its secrets), plus `extra`."""
    data = {**AccountOut.of(account).model_dump(mode="json"), **extra}
    record_event(session, account.workspace_id, event_type, "account", account.id, data)
