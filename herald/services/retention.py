"""Keeps the outbox bounded: what is settled and older than the retention goes, in batches;
an event that a delivery still waits on never does."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, delete, exists, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from herald.db.models import Base, Event, Notification, WebhookDelivery
from herald.status import DeliveryState

BATCH = 5000


@dataclass(frozen=True)
class Pruned:
    deliveries: int
    events: int
    notifications: int

    @property
    def total(self) -> int:
        return self.deliveries + self.events + self.notifications


async def prune_once(session: AsyncSession, cutoff: datetime) -> Pruned:
    """One batch of each kind older than `cutoff` (attempts go with their delivery)."""
    settled = select(WebhookDelivery.id).where(
        WebhookDelivery.state != DeliveryState.PENDING, WebhookDelivery.updated_at < cutoff
    )
    deliveries = await _delete_batch(session, WebhookDelivery, WebhookDelivery.id, settled)
    still_wanted = exists().where(WebhookDelivery.event_id == Event.id)
    old_events = select(Event.id).where(
        Event.dispatched_at.is_not(None), Event.created_at < cutoff, ~still_wanted
    )
    events = await _delete_batch(session, Event, Event.id, old_events)
    read = select(Notification.id).where(
        Notification.read_at.is_not(None), Notification.read_at < cutoff
    )
    notifications = await _delete_batch(session, Notification, Notification.id, read)
    return Pruned(deliveries, events, notifications)


async def _delete_batch(
    session: AsyncSession,
    model: type[Base],
    key: InstrumentedAttribute[uuid.UUID],
    ids: Select[uuid.UUID],
) -> int:
    chosen = (await session.scalars(ids.limit(BATCH))).all()
    if not chosen:
        return 0
    await session.execute(delete(model).where(key.in_(chosen)))
    return len(chosen)
