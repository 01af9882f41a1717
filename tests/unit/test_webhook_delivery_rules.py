"""What an attempt's answer does to a delivery and its endpoint (herald.services.webhooks
.settle), over in-memory rows: the retry schedule with its jitter and Retry-After floor, the
end of the schedule, 410, and an endpoint switched off after days of failures."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from herald.db.models import Event, WebhookDelivery, WebhookEndpoint
from herald.services.webhooks import settle
from herald.settings import Settings
from herald.status import DeliveryState
from herald.webhooks.attempt import AttemptResult

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
SETTINGS = Settings(
    _env_file=None,  # type: ignore[call-arg]
    webhook_retry_schedule_s=[5.0, 300.0],
    webhook_disable_after_s=5 * 86400.0,
)


@pytest.fixture
async def session() -> AsyncIterator[AsyncSession]:
    engine = create_async_engine("sqlite+aiosqlite://")
    async with AsyncSession(engine) as session:
        yield session
    await engine.dispose()


def _rows() -> tuple[WebhookDelivery, WebhookEndpoint]:
    endpoint = WebhookEndpoint(
        id=uuid.uuid4(), workspace_id=uuid.uuid4(), url="https://example.com/h", is_active=True
    )
    delivery = WebhookDelivery(
        id=uuid.uuid4(),
        endpoint_id=endpoint.id,
        state=DeliveryState.PENDING,
        retrying=False,
        attempts=0,
        round_failures=0,
    )
    return delivery, endpoint


def _answer(status: int | None, retry_after_s: float | None = None) -> AttemptResult:
    return AttemptResult(NOW, 12, status_code=status, retry_after_s=retry_after_s)


async def test_failures_walk_the_schedule_with_jitter_then_fail(session: AsyncSession) -> None:
    delivery, endpoint = _rows()
    assert settle(session, SETTINGS, delivery, endpoint, _answer(500), NOW, 0.0) == 5.0
    assert delivery.retrying and delivery.next_attempt_at == NOW + timedelta(seconds=5)
    assert settle(session, SETTINGS, delivery, endpoint, _answer(None), NOW, 0.5) == 315.0
    assert settle(session, SETTINGS, delivery, endpoint, _answer(502), NOW, 0.0) is None
    assert (delivery.state, delivery.attempts, delivery.next_attempt_at) == (
        DeliveryState.FAILED,
        3,
        None,
    )
    assert endpoint.is_active and endpoint.failing_since == NOW


async def test_a_retry_after_is_a_floor_and_a_success_ends_the_failure_streak(
    session: AsyncSession,
) -> None:
    delivery, endpoint = _rows()
    assert settle(session, SETTINGS, delivery, endpoint, _answer(429, 90.0), NOW, 0.0) == 90.0
    later = NOW + timedelta(seconds=90)
    assert settle(session, SETTINGS, delivery, endpoint, _answer(204), later, 0.0) is None
    assert (delivery.state, delivery.delivered_at) == (DeliveryState.DELIVERED, later)
    assert endpoint.failing_since is None


async def test_410_and_five_days_of_failures_switch_the_endpoint_off(
    session: AsyncSession,
) -> None:
    delivery, endpoint = _rows()
    assert settle(session, SETTINGS, delivery, endpoint, _answer(410), NOW, 0.0) is None
    assert delivery.state == DeliveryState.FAILED
    assert not endpoint.is_active and "410" in (endpoint.disabled_reason or "")

    delivery, endpoint = _rows()
    endpoint.failing_since = NOW - timedelta(days=5)
    assert settle(session, SETTINGS, delivery, endpoint, _answer(500), NOW, 0.0) is None
    assert not endpoint.is_active and endpoint.disabled_reason == "every delivery failed for 5 days"
    [disabled] = [
        row for row in session.new if isinstance(row, Event) and row.resource_id == endpoint.id
    ]
    assert (
        disabled.type == "webhook.disabled" and disabled.data["reason"] == endpoint.disabled_reason
    )
