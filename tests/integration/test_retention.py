"""The retention schedule's pass keeps the outbox bounded: settled deliveries (with their
attempts), dispatched events and read notifications older than `retention_s` go; an event a
delivery still waits on and everything recent stay."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import func, select, update

from herald import temporal as names
from herald.db.models import Event, Notification, WebhookAttempt, WebhookDelivery
from herald.db.types import utcnow
from herald.payloads import RetentionReport
from herald.status import DeliveryState
from tests.integration.test_webhooks import _settled, _subscribe
from tests.support.receiver import running_receiver
from tests.support.stack import Stack


async def test_old_settled_rows_are_pruned_and_what_a_delivery_waits_on_is_kept(
    stack: Stack,
) -> None:
    tenant = await stack.new_tenant()
    with running_receiver() as receiver:
        endpoint, _ = await _subscribe(stack, tenant, receiver, ["post.created"])
        for index in range(3):
            await stack.new_draft(tenant, f"old {index}")
        await _settled(stack, tenant, endpoint["id"], "delivered", count=3)
    async with stack.resources.sessions() as session, session.begin():
        deliveries = (
            await session.scalars(
                select(WebhookDelivery)
                .where(WebhookDelivery.workspace_id == tenant.workspace_id)
                .order_by(WebhookDelivery.created_at)
            )
        ).all()
        assert len(deliveries) == 3 and all(d.state == DeliveryState.DELIVERED for d in deliveries)
        long_ago = utcnow() - timedelta(days=40)
        # Two settled long ago; the third still retrying (as after a long outage).
        for delivery in deliveries:
            delivery.updated_at = long_ago
        deliveries[2].state = DeliveryState.PENDING
        deliveries[2].retrying = True
        event_ids = [d.event_id for d in deliveries]
        await session.execute(
            update(Event).where(Event.id.in_(event_ids)).values(created_at=long_ago)
        )
        session.add_all(
            [
                Notification(
                    workspace_id=tenant.workspace_id,
                    type="post.failed",
                    title=title,
                    resource_type="post",
                    resource_id=uuid.uuid4(),
                    created_at=long_ago,
                    read_at=read_at,
                )
                for title, read_at in (
                    ("read long ago", long_ago),
                    ("never read", None),
                    ("read just now", utcnow()),
                )
            ]
        )
    client = await stack.resources.temporal.client()
    report = await client.execute_workflow(
        names.RETENTION_WORKFLOW,
        id=f"retention-test-{uuid.uuid4().hex[:8]}",
        task_queue=stack.settings.temporal_task_queue,
        result_type=RetentionReport,
    )
    assert (report.deliveries, report.events, report.notifications) == (2, 2, 1)
    async with stack.resources.sessions() as session:
        left = (
            await session.scalars(
                select(WebhookDelivery.id).where(
                    WebhookDelivery.workspace_id == tenant.workspace_id
                )
            )
        ).all()
        assert left == [deliveries[2].id]
        attempts = await session.scalar(
            select(func.count())
            .select_from(WebhookAttempt)
            .where(WebhookAttempt.delivery_id.in_([d.id for d in deliveries[:2]]))
        )
        assert attempts == 0  # gone with their deliveries
        kept_events = (await session.scalars(select(Event.id).where(Event.id.in_(event_ids)))).all()
        assert kept_events == [event_ids[2]]
        titles = (
            await session.scalars(
                select(Notification.title).where(Notification.workspace_id == tenant.workspace_id)
            )
        ).all()
        assert sorted(titles) == ["never read", "read just now"]
