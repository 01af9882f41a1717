"""Webhook endpoints and deliveries: subscribing, signing secrets and their rotation, turning
outbox events into deliveries, and what each attempt's answer does to a delivery."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from cryptography.fernet import InvalidToken
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from herald.crypto import CredentialCipher
from herald.db.models import Event, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from herald.errors import HeraldError
from herald.outbound import webhook_policy
from herald.principal import Principal, system_actor
from herald.repositories.webhooks import (
    claim_events,
    clear_failure_streaks,
    existing_endpoint_ids,
)
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

# The namespace of delivery ids derived from (event, endpoint).
DELIVERY_IDS = uuid.UUID("5d1f0a3e-7c2b-4f7e-9a61-3b8e2f4c9d10")


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


def delivery_id_of(event_id: uuid.UUID, endpoint_id: uuid.UUID) -> uuid.UUID:
    """One id per (event, endpoint), derived rather than drawn: a dispatcher that dies after
    sending and before recording sends again under the same webhook-id."""
    return uuid.uuid5(DELIVERY_IDS, f"{event_id}/{endpoint_id}")


def fan_out(
    events: Sequence[Event], endpoints: dict[uuid.UUID, list[WebhookEndpoint]], now: datetime
) -> list[dict[str, Any]]:
    """The deliveries of these events, as rows not yet written: one per subscribed active
    endpoint that existed when the event happened, in event order."""
    deliveries = []
    for event in events:
        for endpoint in endpoints.get(event.workspace_id, []):
            if subscribed(endpoint.events, event.type) and event.created_at >= endpoint.created_at:
                deliveries.append(_delivery_of(event, endpoint, now))
    return deliveries


def _delivery_of(event: Event, endpoint: WebhookEndpoint, now: datetime) -> dict[str, Any]:
    return _delivery_values(
        endpoint,
        event.type,
        event.resource_id,
        event_body(event.type, event.created_at, event.data),
        now,
        delivery_id=delivery_id_of(event.id, endpoint.id),
        event_id=event.id,
        # The event's time: first attempts go out in this order (per resource, in sequence).
        created_at=event.created_at,
        next_attempt_at=now,
    )


async def record_fan_out(
    session: AsyncSession,
    settings: Settings,
    events: Sequence[Event],
    deliveries: list[dict[str, Any]],
    outcomes: dict[uuid.UUID, AttemptResult | str],
    now: datetime,
    jitter: Callable[[], float],
) -> list[tuple[uuid.UUID, float]]:
    """Writes what a dispatcher pass did with new events: marks them dispatched (with a
    notification for those a person must act on) and records their deliveries with their
    first attempt's outcome (an AttemptResult, or why it could not go out). Events another
    dispatcher recorded meanwhile are left to it. Returns the deliveries that wait for another
    attempt, with the seconds until it.

    Everything is computed before the first statement, and the common case (delivered at
    once) is a few plain statements: on SQLite this transaction holds the one write lock."""
    claimed = await claim_events(session, [e.id for e in events], now)
    if not claimed:
        return []
    session.add_all(
        n for n in (notification_of(e) for e in events if e.id in claimed) if n is not None
    )
    mine = [d for d in deliveries if d["event_id"] in claimed]
    present = await existing_endpoint_ids(session, {d["endpoint_id"] for d in mine})
    delivered: list[dict[str, Any]] = []
    attempts: list[dict[str, Any]] = []
    stopped: list[dict[str, Any]] = []
    unsettled: list[tuple[dict[str, Any], AttemptResult]] = []
    for row in mine:
        outcome = outcomes.get(row["id"])
        if row["endpoint_id"] not in present or outcome is None:
            continue  # its endpoint was deleted meanwhile
        if isinstance(outcome, str):
            stopped.append({**row, **_stopped_columns(outcome, now)})
        elif outcome.verdict is Verdict.DELIVERED:
            delivered.append(
                {**row, **_attempt_columns(outcome, now), **_delivered_columns(now), "attempts": 1}
            )
            attempts.append(_attempt_row(row["id"], 1, outcome))
        else:
            unsettled.append((row, outcome))
    if delivered or stopped:
        await session.execute(insert(WebhookDelivery), delivered + stopped)
    if attempts:
        await session.execute(insert(WebhookAttempt), attempts)
        await clear_failure_streaks(session, {d["endpoint_id"] for d in delivered})
    return await _settle_new(session, settings, unsettled, now, jitter)


async def _settle_new(
    session: AsyncSession,
    settings: Settings,
    unsettled: list[tuple[dict[str, Any], AttemptResult]],
    now: datetime,
    jitter: Callable[[], float],
) -> list[tuple[uuid.UUID, float]]:
    """First attempts that failed (rare): the rules of settle, on objects of this session."""
    if not unsettled:
        return []
    pending = [(WebhookDelivery(**row), result) for row, result in unsettled]
    session.add_all(delivery for delivery, _ in pending)
    await session.flush()  # before their attempt rows, which refer to them
    waiting = []
    for delivery, result in pending:
        endpoint = await session.get(WebhookEndpoint, delivery.endpoint_id)
        if endpoint is None:
            continue
        wait = settle(session, settings, delivery, endpoint, result, now, jitter())
        if wait is not None:
            waiting.append((delivery.id, wait))
    return waiting


def _delivery_values(
    endpoint: WebhookEndpoint,
    event_type: str,
    resource_id: uuid.UUID,
    body: str,
    now: datetime,
    *,
    delivery_id: uuid.UUID | None = None,
    event_id: uuid.UUID | None = None,
    created_at: datetime | None = None,
    next_attempt_at: datetime | None = None,
) -> dict[str, Any]:
    """A new pending delivery's columns, as a row to insert or an object to add."""
    return dict(
        id=delivery_id or uuid.uuid4(),
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
class Outgoing:
    """A delivery to attempt: what it sends, and to which endpoint."""

    delivery_id: uuid.UUID
    resource_id: uuid.UUID | None
    body: str
    endpoint: WebhookEndpoint

    @classmethod
    def of(cls, delivery: WebhookDelivery, endpoint: WebhookEndpoint) -> Outgoing:
        return cls(delivery.id, delivery.resource_id, delivery.body, endpoint)


@dataclass(frozen=True)
class Prepared:
    """What an attempt sends, read before any HTTP call so no transaction waits on one."""

    delivery_id: uuid.UUID
    url: str
    headers: dict[str, str]
    body: str


def prepare(outgoing: Outgoing, secrets: Sequence[str], now: datetime) -> Prepared:
    """Signed with the endpoint's live secrets (live_secrets: read once for many)."""
    headers = signed_headers(outgoing.delivery_id, outgoing.body, now, secrets)
    return Prepared(outgoing.delivery_id, outgoing.endpoint.url, headers, outgoing.body)


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
        _apply(delivery, _delivered_columns(now))
        endpoint.failing_since = None
        return None
    if verdict is Verdict.GONE:
        _apply(delivery, _FAILED)
        disable(session, endpoint, "the receiver answered 410 Gone", now)
        return None
    delivery.round_failures += 1
    endpoint.failing_since = endpoint.failing_since or now
    if now - endpoint.failing_since >= timedelta(seconds=settings.webhook_disable_after_s):
        _apply(delivery, _FAILED)
        days = settings.webhook_disable_after_s / 86400
        disable(session, endpoint, f"every delivery failed for {days:g} days", now)
        return None
    wait = retry_delay(
        settings.webhook_retry_schedule_s, delivery.round_failures, result.retry_after_s, jitter
    )
    if wait is None:
        _apply(delivery, _FAILED)
        return None
    delivery.retrying = True
    delivery.next_attempt_at = now + timedelta(seconds=wait)
    return wait


# A delivery's columns in each settled state: applied to an object, or merged into a row.
_FAILED: dict[str, Any] = {
    "state": DeliveryState.FAILED,
    "retrying": False,
    "next_attempt_at": None,
}


def _delivered_columns(now: datetime) -> dict[str, Any]:
    return {"state": DeliveryState.DELIVERED, "delivered_at": now, "next_attempt_at": None}


def _stopped_columns(reason: str, now: datetime) -> dict[str, Any]:
    return {**_FAILED, "last_error": reason, "updated_at": now}


def _attempt_columns(result: AttemptResult, now: datetime) -> dict[str, Any]:
    """What a delivery keeps of its latest attempt."""
    return {
        "last_status_code": result.status_code,
        "last_response": result.response,
        "last_duration_ms": result.duration_ms,
        "last_error": result.error,
        "updated_at": now,
    }


def _attempt_row(delivery_id: uuid.UUID, number: int, result: AttemptResult) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "delivery_id": delivery_id,
        "number": number,
        "at": result.at,
        "status_code": result.status_code,
        "duration_ms": result.duration_ms,
        "response": result.response,
        "error": result.error,
    }


def _apply(delivery: WebhookDelivery, columns: dict[str, Any]) -> None:
    for name, value in columns.items():
        setattr(delivery, name, value)


def stop(delivery: WebhookDelivery, reason: str, now: datetime) -> None:
    """A pending delivery that cannot go out (its endpoint switched off, its secret
    unreadable): failed, with the reason."""
    _apply(delivery, _stopped_columns(reason, now))


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
    return WebhookDelivery(**_delivery_values(endpoint, "webhook.test", endpoint.id, body, now))


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
    prepared = prepare(Outgoing.of(delivery, endpoint), live_secrets(cipher, endpoint, now), now)
    result = await attempt(client, prepared, now)
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
    session.add(WebhookAttempt(**_attempt_row(delivery.id, delivery.attempts, result)))
    _apply(delivery, _attempt_columns(result, now))


def ordered_groups(outgoing: Sequence[Outgoing]) -> list[list[Outgoing]]:
    """Deliveries grouped by (endpoint, resource), each group in event order: a group is sent
    one after another, groups side by side."""
    groups: dict[tuple[uuid.UUID, uuid.UUID | None], list[Outgoing]] = {}
    for item in outgoing:
        groups.setdefault((item.endpoint.id, item.resource_id), []).append(item)
    return list(groups.values())
