"""Notifications: the events a person must act on (failed or partial posts, expired accounts,
switched-off webhooks, approvals waiting), kept per workspace with when they were read."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from herald.db.models import Event, Notification
from herald.principal import Principal
from herald.repositories.paging import page_by_creation
from herald.services import audit

TITLE_LENGTH = 80


def _excerpt(data: dict[str, Any]) -> str:
    text = " ".join(str(data.get("content") or "").split())
    return text if len(text) <= TITLE_LENGTH else text[: TITLE_LENGTH - 1] + "…"


def _failed_targets(data: dict[str, Any]) -> str:
    failed = [
        t.get("platform", "?") for t in data.get("targets", []) if t.get("status") == "failed"
    ]
    return ", ".join(failed) or "its targets"


# The event types that become notifications, and the title each one gets.
TITLES: dict[str, Callable[[dict[str, Any]], str]] = {
    "post.failed": lambda d: f"A post failed on {_failed_targets(d)}: {_excerpt(d)}",
    "post.partial": lambda d: f"A post failed on {_failed_targets(d)} only: {_excerpt(d)}",
    "post.approval_requested": lambda d: f"A post waits for approval: {_excerpt(d)}",
    "account.expired": lambda d: (
        f"The {d.get('platform')} account @{d.get('username')} needs reconnecting"
    ),
    "webhook.disabled": lambda d: f"The webhook {d.get('url')} was switched off: {d.get('reason')}",
}


def notification_of(event: Event) -> Notification | None:
    title = TITLES.get(event.type)
    if title is None:
        return None
    return Notification(
        workspace_id=event.workspace_id,
        type=event.type,
        title=title(event.data),
        resource_type=event.resource_type,
        resource_id=event.resource_id,
        created_at=event.created_at,
    )


async def list_notifications(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    unread: bool | None,
    limit: int,
    cursor: str | None,
) -> tuple[Sequence[Notification], str | None]:
    query = select(Notification).where(Notification.workspace_id == workspace_id)
    if unread is not None:
        read = Notification.read_at
        query = query.where(read.is_(None) if unread else read.is_not(None))
    return await page_by_creation(
        session, query, Notification.created_at, Notification.id, limit, cursor, newest_first=True
    )


async def mark_read(
    session: AsyncSession, principal: Principal, ids: list[uuid.UUID] | None, now: datetime
) -> int:
    """Marks the named notifications (all unread ones when `ids` is None) read; returns how
    many changed. Ids of other workspaces or already read ones change nothing."""
    workspace_id = principal.workspace_id
    statement = update(Notification).where(
        Notification.workspace_id == workspace_id, Notification.read_at.is_(None)
    )
    if ids is not None:
        statement = statement.where(Notification.id.in_(ids))
    result = await session.execute(statement.values(read_at=now))
    marked = int(getattr(result, "rowcount", 0) or 0)
    if marked:
        audit.record(
            session,
            principal,
            "notifications.read",
            "workspace",
            workspace_id,
            {"marked": marked, "ids": ids if ids is not None else "all"},
            now,
        )
    return marked
