"""Webhook endpoints and deliveries: subscribing, signing secrets and their rotation, turning
outbox events into deliveries, and what each attempt's answer does to a delivery."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from cryptography.fernet import InvalidToken
from sqlalchemy import insert, update
from sqlalchemy.ext.asyncio import AsyncSession

from herald.crypto import CredentialCipher
from herald.db.models import Event, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from herald.errors import HeraldError
from herald.outbound import webhook_policy
from herald.principal import Principal, system_actor
from herald.repositories.webhooks import active_endpoints, undispatched_events
from herald.schemas.posts import rfc3339
from herald.schemas.webhooks import EndpointBody, EndpointPatch
from herald.services import audit
from herald.services.events import record_event
from herald.services.notifications import notification_of
from herald.settings import Settings
from herald.status import DeliveryState
from herald.webhooks.attempt import AttemptResult, Verdict, post_once
from herald.webhooks.events import subscribed, unknown_events
from herald.webhooks.schedule import retry_delay
from herald.webhooks.signing import new_secret, signed_headers
from platforms.base import Rejected
from platforms.outbound import check_url as check_reachable


async def check_url(settings: Settings, url: str) -> None:
    """A webhook URL Herald may call: https (http only where allow-listed) to an address the
    outbound policy reaches. The HTTP client checks again on every connection."""
    parts = urlsplit(url)
    policy = webhook_policy(settings)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise HeraldError.invalid("url", "the URL's port is not a number from 1 to 65535") from None
    insecure = parts.scheme == "http" and parts.hostname
    if insecure and not policy.allows_endpoint(parts.hostname or "", port):
        raise HeraldError.invalid("url", "webhook URLs must be https")
    try:
        await check_reachable(url, policy, settings.webhook_timeout_s)
    except Rejected as err:
        raise HeraldError.invalid("url", err.message) from err


def _check_events(events: list[str]) -> list[str]:
    unknown = unknown_events(events)
    if unknown:
        raise HeraldError.invalid("events", f"unknown event types: {', '.join(unknown)}")
    if not events:
        raise HeraldError.invalid("events", "subscribe to at least one event type (or '*')")
    return list(dict.fromkeys(events))


def _sealed(cipher: CredentialCipher, secret: str) -> str:
    return cipher.encrypt({"secret": secret})


def _opened(cipher: CredentialCipher, token: str) -> str:
    return str(cipher.decrypt(token)["secret"])


async def create_endpoint(
    session: AsyncSession,
    settings: Settings,
    cipher: CredentialCipher,
    principal: Principal,
    body: EndpointBody,
    now: datetime,
) -> tuple[WebhookEndpoint, str]:
    """The endpoint and its secret (shown this once)."""
    await check_url(settings, body.url)
    secret = new_secret()
    endpoint = WebhookEndpoint(
        workspace_id=principal.workspace_id,
        url=body.url,
        events=_check_events(body.events),
        description=body.description,
        is_active=True,
        secret_encrypted=_sealed(cipher, secret),
        created_at=now,
        updated_at=now,
    )
    session.add(endpoint)
    await session.flush()
    _audit(session, principal, "webhook.created", endpoint, now)
    return endpoint, secret


def _audit(
    session: AsyncSession,
    principal: Principal,
    action: str,
    endpoint: WebhookEndpoint,
    now: datetime,
    **more: object,
) -> None:
    facts = {"url": endpoint.url, "events": endpoint.events, "is_active": endpoint.is_active}
    audit.record(session, principal, action, "webhook", endpoint.id, {**facts, **more}, now)


async def update_endpoint(
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    endpoint: WebhookEndpoint,
    body: EndpointPatch,
    now: datetime,
) -> None:
    if body.url is not None:
        await check_url(settings, body.url)
        endpoint.url = body.url
    if body.events is not None:
        endpoint.events = _check_events(body.events)
    if "description" in body.model_fields_set:
        endpoint.description = body.description
    if body.is_active is not None:
        endpoint.is_active = body.is_active
        if body.is_active:  # switched back on: the failure streak starts over
            endpoint.failing_since = None
            endpoint.disabled_reason = None
    endpoint.updated_at = now
    _audit(
        session, principal, "webhook.updated", endpoint, now, fields=sorted(body.model_fields_set)
    )


async def delete_endpoint(
    session: AsyncSession, principal: Principal, endpoint: WebhookEndpoint, now: datetime
) -> None:
    _audit(session, principal, "webhook.deleted", endpoint, now)
    await session.delete(endpoint)


def rotate_secret(
    session: AsyncSession,
    settings: Settings,
    cipher: CredentialCipher,
    principal: Principal,
    endpoint: WebhookEndpoint,
    now: datetime,
) -> str:
    """A new secret; the current one keeps signing beside it for webhook_secret_overlap_s."""
    secret = new_secret()
    endpoint.previous_secret_encrypted = endpoint.secret_encrypted
    endpoint.previous_secret_until = now + timedelta(seconds=settings.webhook_secret_overlap_s)
    endpoint.secret_encrypted = _sealed(cipher, secret)
    endpoint.updated_at = now
    _audit(
        session,
        principal,
        "webhook.secret_rotated",
        endpoint,
        now,
        previous_signs_until=endpoint.previous_secret_until,
    )
    return secret


def live_secrets(cipher: CredentialCipher, endpoint: WebhookEndpoint, now: datetime) -> list[str]:
    """The secrets a delivery is signed with now: the current one, and the one before it
    while its overlap lasts."""
    secrets = [_opened(cipher, endpoint.secret_encrypted)]
    until = endpoint.previous_secret_until
    if endpoint.previous_secret_encrypted and until is not None and now < until:
        # A rotation away from a secret that cannot be read (sealed under another key) signs
        # with the new one alone.
        with contextlib.suppress(InvalidToken):
            secrets.append(_opened(cipher, endpoint.previous_secret_encrypted))
    return secrets


def event_body(event_type: str, at: datetime, data: dict[str, object]) -> str:
    return json.dumps(
        {"type": event_type, "timestamp": rfc3339(at), "data": data}, separators=(",", ":")
    )


async def fan_out(session: AsyncSession, now: datetime, limit: int) -> int:
    """Turns undispatched events into one delivery per subscribed active endpoint (and a
    notification, for those a person must act on); returns how many events it took (0: the
    outbox is drained)."""
    events = await undispatched_events(session, limit)
    if not events:
        return 0
    endpoints = await active_endpoints(session, {e.workspace_id for e in events})
    deliveries = []
    for event in events:
        notification = notification_of(event)
        if notification is not None:
            session.add(notification)
        for endpoint in endpoints.get(event.workspace_id, []):
            if subscribed(endpoint.events, event.type) and event.created_at >= endpoint.created_at:
                deliveries.append(_delivery_of(event, endpoint, now))
    # Plain statements: one insert for every delivery, one update for every event (the unit
    # of work's per-object bookkeeping was most of what fanning out cost).
    if deliveries:
        await session.execute(insert(WebhookDelivery), deliveries)
    await session.execute(
        update(Event)
        .where(Event.id.in_([e.id for e in events]))
        .values(dispatched_at=now)
        .execution_options(synchronize_session=False)
    )
    return len(events)


def _delivery_of(event: Event, endpoint: WebhookEndpoint, now: datetime) -> dict[str, Any]:
    return _delivery_values(
        endpoint,
        event.type,
        event.resource_id,
        event_body(event.type, event.created_at, event.data),
        now,
        event_id=event.id,
        # The event's time: first attempts go out in this order (per resource, in sequence).
        created_at=event.created_at,
        next_attempt_at=now,
    )


def _new_delivery(
    endpoint: WebhookEndpoint,
    event_type: str,
    resource_id: uuid.UUID,
    body: str,
    now: datetime,
    *,
    event_id: uuid.UUID | None = None,
    created_at: datetime | None = None,
    next_attempt_at: datetime | None = None,
) -> WebhookDelivery:
    return WebhookDelivery(
        **_delivery_values(
            endpoint,
            event_type,
            resource_id,
            body,
            now,
            event_id=event_id,
            created_at=created_at,
            next_attempt_at=next_attempt_at,
        )
    )


def _delivery_values(
    endpoint: WebhookEndpoint,
    event_type: str,
    resource_id: uuid.UUID,
    body: str,
    now: datetime,
    *,
    event_id: uuid.UUID | None = None,
    created_at: datetime | None = None,
    next_attempt_at: datetime | None = None,
) -> dict[str, Any]:
    """A new pending delivery's columns, as a row to insert or an object to add."""
    return dict(
        id=uuid.uuid4(),
        workspace_id=endpoint.workspace_id,
        endpoint_id=endpoint.id,
        event_id=event_id,
        event_type=event_type,
        resource_id=resource_id,
        body=body,
        state=DeliveryState.PENDING,
        retrying=False,
        attempts=0,
        round_failures=0,
        next_attempt_at=next_attempt_at,
        created_at=created_at or now,
        updated_at=now,
    )


@dataclass(frozen=True)
class Prepared:
    """What an attempt sends, read before any HTTP call so no transaction waits on one."""

    delivery_id: uuid.UUID
    url: str
    headers: dict[str, str]
    body: str


def prepare(
    cipher: CredentialCipher, delivery: WebhookDelivery, endpoint: WebhookEndpoint, now: datetime
) -> Prepared:
    headers = signed_headers(delivery.id, delivery.body, now, live_secrets(cipher, endpoint, now))
    return Prepared(delivery.id, endpoint.url, headers, delivery.body)


async def attempt(client: httpx.AsyncClient, prepared: Prepared, now: datetime) -> AttemptResult:
    return await post_once(client, prepared.url, prepared.headers, prepared.body, now)


def settle(
    session: AsyncSession,
    settings: Settings,
    delivery: WebhookDelivery,
    endpoint: WebhookEndpoint,
    result: AttemptResult,
    now: datetime,
    jitter: float,
) -> float | None:
    """Logs the attempt and moves the delivery on: delivered, failed (schedule spent, or the
    receiver answered 410), or waiting; returns the seconds until its next attempt (None:
    there is none). Keeps the endpoint's failure streak and disables it when it lasts."""
    _log_attempt(session, delivery, result, now)
    verdict = result.verdict
    if verdict is Verdict.DELIVERED:
        delivery.state = DeliveryState.DELIVERED
        delivery.delivered_at = now
        delivery.next_attempt_at = None
        endpoint.failing_since = None
        return None
    if verdict is Verdict.GONE:
        _fail(delivery)
        disable(session, endpoint, "the receiver answered 410 Gone", now)
        return None
    delivery.round_failures += 1
    endpoint.failing_since = endpoint.failing_since or now
    if now - endpoint.failing_since >= timedelta(seconds=settings.webhook_disable_after_s):
        _fail(delivery)
        days = settings.webhook_disable_after_s / 86400
        disable(session, endpoint, f"every delivery failed for {days:g} days", now)
        return None
    wait = retry_delay(
        settings.webhook_retry_schedule_s, delivery.round_failures, result.retry_after_s, jitter
    )
    if wait is None:
        _fail(delivery)
        return None
    delivery.retrying = True
    delivery.next_attempt_at = now + timedelta(seconds=wait)
    return wait


def _fail(delivery: WebhookDelivery) -> None:
    delivery.state = DeliveryState.FAILED
    delivery.retrying = False
    delivery.next_attempt_at = None


def stop(delivery: WebhookDelivery, reason: str, now: datetime) -> None:
    """A pending delivery whose endpoint was switched off: failed, with the reason."""
    _fail(delivery)
    delivery.last_error = reason
    delivery.updated_at = now


def disable(session: AsyncSession, endpoint: WebhookEndpoint, reason: str, now: datetime) -> None:
    if not endpoint.is_active:
        return
    endpoint.is_active = False
    endpoint.disabled_reason = reason
    endpoint.updated_at = now
    audit.record_as(
        session,
        endpoint.workspace_id,
        system_actor("webhook-delivery"),
        "webhook.disabled",
        "webhook",
        endpoint.id,
        {"url": endpoint.url, "reason": reason},
        now,
    )
    record_event(
        session,
        endpoint.workspace_id,
        "webhook.disabled",
        "webhook",
        endpoint.id,
        {"id": str(endpoint.id), "url": endpoint.url, "reason": reason},
    )


def requeue(
    session: AsyncSession,
    principal: Principal,
    endpoint: WebhookEndpoint,
    delivery: WebhookDelivery,
    now: datetime,
) -> None:
    """POST .../retry: the dispatcher sends it again at once, and a failure starts the retry
    schedule over."""
    if not endpoint.is_active:
        raise HeraldError.conflict("the endpoint is switched off; PATCH is_active first")
    if delivery.state == DeliveryState.PENDING:
        raise HeraldError.conflict("the delivery is still being attempted")
    delivery.state = DeliveryState.PENDING
    delivery.retrying = False
    delivery.round_failures = 0
    delivery.next_attempt_at = now
    delivery.updated_at = now
    _audit(
        session,
        principal,
        "webhook.delivery_retried",
        endpoint,
        now,
        delivery_id=delivery.id,
        event_type=delivery.event_type,
    )


def _test_delivery(endpoint: WebhookEndpoint, now: datetime) -> WebhookDelivery:
    """A webhook.test delivery: sent once, now, by the API, never retried."""
    data: dict[str, object] = {"webhook_id": str(endpoint.id), "message": "Herald says hello"}
    body = event_body("webhook.test", now, data)
    return _new_delivery(endpoint, "webhook.test", endpoint.id, body, now)


async def send_test(
    session: AsyncSession,
    principal: Principal,
    client: httpx.AsyncClient,
    cipher: CredentialCipher,
    endpoint: WebhookEndpoint,
    now: datetime,
) -> WebhookDelivery:
    """POST /v1/webhooks/{id}/test: one webhook.test attempt now, logged like any delivery.
    The call is made before anything is written, so no transaction waits on the receiver."""
    delivery = _test_delivery(endpoint, now)
    result = await attempt(client, prepare(cipher, delivery, endpoint, now), now)
    session.add(delivery)
    await session.flush()  # before its attempt row, which refers to it
    settle_test(session, delivery, result, now)
    _audit(session, principal, "webhook.tested", endpoint, now, delivery_id=delivery.id)
    await session.flush()
    return delivery


def settle_test(
    session: AsyncSession, delivery: WebhookDelivery, result: AttemptResult, now: datetime
) -> None:
    """Logs a test's one attempt: delivered or failed, never retried, never counted against
    the endpoint's failure streak (a test of a broken receiver is not an outage)."""
    _log_attempt(session, delivery, result, now)
    delivered = result.verdict is Verdict.DELIVERED
    delivery.state = DeliveryState.DELIVERED if delivered else DeliveryState.FAILED
    delivery.delivered_at = now if delivered else None


def _log_attempt(
    session: AsyncSession, delivery: WebhookDelivery, result: AttemptResult, now: datetime
) -> None:
    delivery.attempts += 1
    session.add(
        WebhookAttempt(
            delivery_id=delivery.id,
            number=delivery.attempts,
            at=result.at,
            status_code=result.status_code,
            duration_ms=result.duration_ms,
            response=result.response,
            error=result.error,
        )
    )
    delivery.last_status_code = result.status_code
    delivery.last_response = result.response
    delivery.last_duration_ms = result.duration_ms
    delivery.last_error = result.error
    delivery.updated_at = now


def ordered_groups(
    due: Sequence[tuple[WebhookDelivery, WebhookEndpoint]],
) -> list[list[tuple[WebhookDelivery, WebhookEndpoint]]]:
    """Due deliveries grouped by (endpoint, resource), each group in event order: a group is
    sent one after another, groups side by side."""
    groups: dict[tuple[uuid.UUID, uuid.UUID | None], list[tuple[WebhookDelivery, WebhookEndpoint]]]
    groups = {}
    for delivery, endpoint in due:
        groups.setdefault((endpoint.id, delivery.resource_id), []).append((delivery, endpoint))
    return list(groups.values())
