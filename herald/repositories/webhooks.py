"""Queries over webhook endpoints, deliveries and their attempts."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from herald.db.models import Event, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from herald.repositories.paging import page_by_creation
from herald.status import DeliveryState


async def get_endpoint(
    session: AsyncSession, workspace_id: uuid.UUID, endpoint_id: uuid.UUID
) -> WebhookEndpoint | None:
    endpoint = await session.get(WebhookEndpoint, endpoint_id)
    return endpoint if endpoint is not None and endpoint.workspace_id == workspace_id else None


async def list_endpoints(
    session: AsyncSession, workspace_id: uuid.UUID, limit: int, cursor: str | None
) -> tuple[Sequence[WebhookEndpoint], str | None]:
    query = select(WebhookEndpoint).where(WebhookEndpoint.workspace_id == workspace_id)
    return await page_by_creation(
        session,
        query,
        WebhookEndpoint.created_at,
        WebhookEndpoint.id,
        limit,
        cursor,
        newest_first=True,
    )


async def active_endpoints(
    session: AsyncSession, workspace_ids: set[uuid.UUID]
) -> dict[uuid.UUID, list[WebhookEndpoint]]:
    rows = await session.scalars(
        select(WebhookEndpoint)
        .where(WebhookEndpoint.workspace_id.in_(workspace_ids), WebhookEndpoint.is_active)
        .order_by(WebhookEndpoint.created_at)
    )
    found: dict[uuid.UUID, list[WebhookEndpoint]] = {}
    for endpoint in rows:
        found.setdefault(endpoint.workspace_id, []).append(endpoint)
    return found


async def undispatched_events(session: AsyncSession, limit: int) -> Sequence[Event]:
    """The oldest events not yet turned into deliveries (read; claim_events takes them)."""
    rows = await session.scalars(
        select(Event)
        .where(Event.dispatched_at.is_(None))
        .order_by(Event.created_at, Event.id)
        .limit(limit)
    )
    return rows.all()


async def claim_events(
    session: AsyncSession, event_ids: list[uuid.UUID], now: datetime
) -> set[uuid.UUID]:
    """Marks these events dispatched; returns those this transaction marked (a second
    dispatcher that read the same events finds them taken)."""
    rows = await session.execute(
        update(Event)
        .where(Event.id.in_(event_ids), Event.dispatched_at.is_(None))
        .values(dispatched_at=now)
        .returning(Event.id)
        .execution_options(synchronize_session=False)
    )
    return set(rows.scalars())


async def existing_endpoint_ids(
    session: AsyncSession, endpoint_ids: set[uuid.UUID]
) -> set[uuid.UUID]:
    if not endpoint_ids:
        return set()
    rows = await session.scalars(
        select(WebhookEndpoint.id).where(WebhookEndpoint.id.in_(endpoint_ids))
    )
    return set(rows)


async def clear_failure_streaks(session: AsyncSession, endpoint_ids: set[uuid.UUID]) -> None:
    """A delivery got through: these endpoints are failing no longer."""
    await session.execute(
        update(WebhookEndpoint)
        .where(WebhookEndpoint.id.in_(endpoint_ids), WebhookEndpoint.failing_since.is_not(None))
        .values(failing_since=None)
        .execution_options(synchronize_session=False)
    )


async def due_first_tries(
    session: AsyncSession, now: datetime, limit: int
) -> Sequence[tuple[WebhookDelivery, WebhookEndpoint]]:
    """Deliveries the dispatcher sends (no retry workflow owns them), oldest first."""
    rows = await session.execute(
        select(WebhookDelivery, WebhookEndpoint)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(
            WebhookDelivery.state == DeliveryState.PENDING,
            WebhookDelivery.retrying.is_(False),
            WebhookDelivery.next_attempt_at <= now,
        )
        .order_by(WebhookDelivery.created_at, WebhookDelivery.id)
        .limit(limit)
    )
    return [(delivery, endpoint) for delivery, endpoint in rows]


async def orphaned_retries(
    session: AsyncSession, overdue_before: datetime, limit: int
) -> Sequence[WebhookDelivery]:
    """Retrying deliveries long past their next attempt: their workflow never started (the
    dispatcher died between recording the failure and starting it)."""
    rows = await session.scalars(
        select(WebhookDelivery)
        .where(
            WebhookDelivery.state == DeliveryState.PENDING,
            WebhookDelivery.retrying.is_(True),
            WebhookDelivery.next_attempt_at < overdue_before,
        )
        .limit(limit)
    )
    return rows.all()


async def get_delivery_with_endpoint(
    session: AsyncSession, delivery_id: uuid.UUID
) -> tuple[WebhookDelivery, WebhookEndpoint] | None:
    row = (
        await session.execute(
            select(WebhookDelivery, WebhookEndpoint)
            .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
            .where(WebhookDelivery.id == delivery_id)
        )
    ).first()
    return (row[0], row[1]) if row is not None else None


async def get_deliveries_with_endpoints(
    session: AsyncSession, delivery_ids: list[uuid.UUID]
) -> dict[uuid.UUID, tuple[WebhookDelivery, WebhookEndpoint]]:
    rows = await session.execute(
        select(WebhookDelivery, WebhookEndpoint)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(WebhookDelivery.id.in_(delivery_ids))
    )
    return {delivery.id: (delivery, endpoint) for delivery, endpoint in rows}


async def get_delivery(
    session: AsyncSession, endpoint_id: uuid.UUID, delivery_id: uuid.UUID
) -> WebhookDelivery | None:
    delivery = await session.get(WebhookDelivery, delivery_id)
    return delivery if delivery is not None and delivery.endpoint_id == endpoint_id else None


async def list_deliveries(
    session: AsyncSession,
    endpoint_id: uuid.UUID,
    limit: int,
    cursor: str | None,
    state: DeliveryState | None = None,
) -> tuple[Sequence[WebhookDelivery], str | None]:
    query = select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id)
    if state is not None:
        query = query.where(WebhookDelivery.state == state)
    return await page_by_creation(
        session,
        query,
        WebhookDelivery.created_at,
        WebhookDelivery.id,
        limit,
        cursor,
        newest_first=True,
    )


async def attempts_of(
    session: AsyncSession, delivery_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[WebhookAttempt]]:
    rows = await session.scalars(
        select(WebhookAttempt)
        .where(WebhookAttempt.delivery_id.in_(delivery_ids))
        .order_by(WebhookAttempt.number)
    )
    found: dict[uuid.UUID, list[WebhookAttempt]] = {d: [] for d in delivery_ids}
    for attempt in rows:
        found[attempt.delivery_id].append(attempt)
    return found
