"""Event outbox: one row per state change, written in the transaction that makes the change."""

from __future__ import annotations

import threading
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from herald.db.models import Event, SocialAccount
from herald.db.types import utcnow
from herald.schemas.accounts import AccountOut


class _EventClock:
    """Strictly increasing event times within a process: events written in one transaction
    (post.created, then post.approval_requested) keep the order they were recorded in when
    the dispatcher sorts them by time, even within one microsecond."""

    def __init__(self) -> None:
        self._last: datetime | None = None
        self._lock = threading.Lock()

    def next(self) -> datetime:
        with self._lock:
            now = utcnow()
            if self._last is not None and now <= self._last:
                now = self._last + timedelta(microseconds=1)
            self._last = now
            return now


_clock = _EventClock()


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
            created_at=_clock.next(),
        )
    )


def account_event(
    session: AsyncSession, account: SocialAccount, event_type: str, **extra: Any
) -> None:
    """An event carrying the account as the API shows it (never its secrets), plus `extra`."""
    data = {**AccountOut.of(account).model_dump(mode="json"), **extra}
    record_event(session, account.workspace_id, event_type, "account", account.id, data)
