"""What a dispatcher pass records after sending new events' first attempts
(herald.services.webhooks.record_fan_out), on a database of its own: each outcome's row, a
second dispatcher that read the same events, and an endpoint deleted while a pass sent."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from herald.db.models import (
    Base,
    Event,
    Notification,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from herald.services.webhooks import delivery_id_of, fan_out, record_fan_out
from herald.settings import Settings
from herald.status import DeliveryState
from herald.webhooks.attempt import AttemptResult

NOW = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
SETTINGS = Settings(
    _env_file=None,  # type: ignore[call-arg]
    webhook_retry_schedule_s=[5.0, 300.0],
)
WORKSPACE = uuid.uuid4()


@pytest.fixture
async def session() -> AsyncIterator[AsyncSession]:
    engine = create_async_engine("sqlite+aiosqlite://")
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    async with AsyncSession(engine, expire_on_commit=False) as session:
        yield session
    await engine.dispose()


def _endpoint(path: str) -> WebhookEndpoint:
    return WebhookEndpoint(
        id=uuid.uuid4(),
        workspace_id=WORKSPACE,
        url=f"https://example.com/{path}",
        events=["*"],
        is_active=True,
        secret_encrypted="sealed",
        created_at=NOW - timedelta(days=1),
        updated_at=NOW - timedelta(days=1),
    )


def _event(kind: str) -> Event:
    return Event(
        id=uuid.uuid4(),
        workspace_id=WORKSPACE,
        type=kind,
        resource_type="post",
        resource_id=uuid.uuid4(),
        data={"id": "p", "content": "hello", "targets": []},
        created_at=NOW,
    )


def _answer(status: int) -> AttemptResult:
    return AttemptResult(NOW, 7, status_code=status, response="ok")


async def _count(session: AsyncSession, model: type[Base]) -> int:
    return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_each_outcome_is_recorded_once_under_its_derived_id(session: AsyncSession) -> None:
    prompt, failing, unreadable = _endpoint("a"), _endpoint("b"), _endpoint("c")
    events = [_event("post.created"), _event("post.failed")]
    session.add_all([prompt, failing, unreadable, *events])
    await session.commit()
    endpoints = {WORKSPACE: [prompt, failing, unreadable]}
    rows = fan_out(events, endpoints, NOW)
    assert [r["id"] for r in rows] == [
        delivery_id_of(event.id, endpoint.id)
        for event in events
        for endpoint in (prompt, failing, unreadable)
    ]
    outcomes: dict[uuid.UUID, AttemptResult | str] = {}
    for row in rows:
        if row["endpoint_id"] == prompt.id:
            outcomes[row["id"]] = _answer(204)
        elif row["endpoint_id"] == failing.id:
            outcomes[row["id"]] = _answer(500)
        else:
            outcomes[row["id"]] = "its secret cannot be read"

    waiting = await record_fan_out(session, SETTINGS, events, rows, outcomes, NOW, lambda: 0.0)
    await session.commit()

    by_endpoint: dict[uuid.UUID, list[WebhookDelivery]] = {}
    for delivery in await session.scalars(select(WebhookDelivery)):
        by_endpoint.setdefault(delivery.endpoint_id, []).append(delivery)
    assert all(
        (d.state, d.attempts, d.last_status_code) == (DeliveryState.DELIVERED, 1, 204)
        and d.delivered_at is not None
        for d in by_endpoint[prompt.id]
    )
    assert all(
        (d.state, d.retrying, d.attempts, d.round_failures) == (DeliveryState.PENDING, True, 1, 1)
        for d in by_endpoint[failing.id]
    )
    assert sorted(wait for _, wait in waiting) == [5.0, 5.0]
    assert {delivery_id for delivery_id, _ in waiting} == {d.id for d in by_endpoint[failing.id]}
    assert all(
        (d.state, d.attempts, d.last_error)
        == (DeliveryState.FAILED, 0, "its secret cannot be read")
        for d in by_endpoint[unreadable.id]
    )
    assert await _count(session, WebhookAttempt) == 4  # the answered ones, none for the rest
    await session.refresh(failing)
    assert failing.failing_since is not None  # its streak starts
    assert all(e.dispatched_at is not None for e in await session.scalars(select(Event)))
    [notification] = await session.scalars(select(Notification))
    assert notification.type == "post.failed"

    # A second dispatcher that read the same events before the first recorded them (they
    # overlap after a stall): it finds them taken and writes nothing.
    again = await record_fan_out(session, SETTINGS, events, rows, outcomes, NOW, lambda: 0.0)
    await session.commit()
    assert again == []
    assert await _count(session, WebhookDelivery) == 6
    assert await _count(session, WebhookAttempt) == 4
    assert await _count(session, Notification) == 1


async def test_an_endpoint_deleted_while_the_pass_sent_gets_no_rows(session: AsyncSession) -> None:
    kept, deleted = _endpoint("kept"), _endpoint("gone")
    [event] = events = [_event("post.created")]
    session.add_all([kept, deleted, event])
    await session.commit()
    rows = fan_out(events, {WORKSPACE: [kept, deleted]}, NOW)
    outcomes: dict[uuid.UUID, AttemptResult | str] = {row["id"]: _answer(200) for row in rows}
    await session.delete(deleted)
    await session.commit()

    await record_fan_out(session, SETTINGS, events, rows, outcomes, NOW, lambda: 0.0)
    await session.commit()

    [delivery] = await session.scalars(select(WebhookDelivery))
    assert delivery.endpoint_id == kept.id and delivery.state == DeliveryState.DELIVERED
