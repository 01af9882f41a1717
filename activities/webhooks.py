"""Webhook delivery: the dispatcher that turns outbox events into deliveries and sends their
first attempt, and the attempts of deliveries a retry workflow owns.

Why this shape: a delivery that succeeds at once (nearly all) costs no workflow of its own,
only its share of one long dispatcher activity, so subscribing endpoints barely changes what
a post costs the Temporal server; a delivery that fails gets a workflow
(`webhook-delivery/{id}`) whose durable timers carry it through the ~27-hour retry schedule,
visible in the Temporal UI. All state is in the database: a dispatcher that dies resumes from
it (deliveries are at least once, under one webhook-id)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import httpx
from cryptography.fernet import InvalidToken
from temporalio import activity
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy

from herald import temporal as names
from herald.crypto import CredentialCipher
from herald.db.engine import SessionFactory
from herald.db.models import WebhookDelivery, WebhookEndpoint
from herald.db.types import utcnow
from herald.metrics import WEBHOOK_ATTEMPTS
from herald.payloads import WebhookDispatchInput, WebhookRetryInput
from herald.repositories.webhooks import (
    any_undispatched,
    due_first_tries,
    get_deliveries_with_endpoints,
    get_delivery_with_endpoint,
    orphaned_retries,
)
from herald.services import webhooks
from herald.settings import Settings
from herald.status import DeliveryState
from herald.webhooks.attempt import AttemptResult

log = logging.getLogger(__name__)

FAN_OUT_BATCH = 500
SEND_BATCH = 200
# Receivers called side by side by one dispatcher (each (endpoint, resource) in order): a few
# lanes, and one more for every attempt still waiting on its receiver after SLOW_ATTEMPT_S, up
# to MAX_LANES. Receivers that answer at once need no more than the few to keep up, and every
# extra connection in flight costs the worker CPU in the HTTP pool (about a third more per
# delivery at 16 than at 4, issue #13); a slow receiver must not hold up the others.
LANES = 4
MAX_LANES = 16
SLOW_ATTEMPT_S = 0.25
# A retrying delivery this far past its next attempt has no workflow: start one.
ORPHAN_GRACE = timedelta(minutes=2)
ORPHAN_SWEEP_EVERY_S = 30.0
UNREADABLE_SECRET = (
    "the endpoint's signing secret cannot be read (sealed under another HERALD_SECRET_KEY); "
    "rotate it with POST /v1/webhooks/{id}/rotate-secret"
)


@dataclass(frozen=True)
class _Sent:
    delivery_id: uuid.UUID
    result: AttemptResult


class _Lanes:
    """The gate of one batch's senders: LANES open, one more for each attempt that is still
    waiting after SLOW_ATTEMPT_S, never more than MAX_LANES."""

    def __init__(self) -> None:
        self.gate = asyncio.Semaphore(LANES)
        self._open = LANES

    def _widen(self) -> None:
        if self._open < MAX_LANES:
            self._open += 1
            self.gate.release()

    @contextlib.contextmanager
    def widened_while_slow(self) -> Iterator[None]:
        timer = asyncio.get_running_loop().call_later(SLOW_ATTEMPT_S, self._widen)
        try:
            yield
        finally:
            timer.cancel()


class WebhookActivities:
    def __init__(
        self,
        sessions: SessionFactory,
        read_sessions: SessionFactory,
        cipher: CredentialCipher,
        http: httpx.AsyncClient,
        client: Client,
        settings: Settings,
    ) -> None:
        self._sessions = sessions
        self._read_sessions = read_sessions
        self._cipher = cipher
        self._http = http
        self._client = client
        self._settings = settings

    @activity.defn(name="dispatch_webhooks")
    async def dispatch_webhooks(self, input: WebhookDispatchInput) -> int:
        """One dispatcher session: polls every webhook_poll_s for new events and due first
        attempts until the session (webhook_dispatch_session_s) is up, heartbeating. Returns
        how many first attempts it sent (the activity's result in the Temporal UI)."""
        ends = time.monotonic() + input.session_s
        next_sweep = time.monotonic()
        sent = 0
        while time.monotonic() < ends:
            activity.heartbeat()
            fanned_out = await self._fan_out()
            sending = await self._send_due()
            sent += sending
            if time.monotonic() >= next_sweep:
                await self._adopt_orphans()
                next_sweep = time.monotonic() + ORPHAN_SWEEP_EVERY_S
            # Straight on only while a batch came back full (more is waiting): under a steady
            # trickle of events, going again at once made a transaction of every one or two
            # events, and those transactions were most of what a delivery cost the worker.
            if fanned_out < FAN_OUT_BATCH and sending < SEND_BATCH:
                await asyncio.sleep(self._settings.webhook_poll_s)
        return sent

    async def _fan_out(self) -> int:
        """How many events it turned into deliveries (0: none were waiting)."""
        async with self._read_sessions() as reader:
            if not await any_undispatched(reader):
                return 0  # nothing new: no write transaction (on SQLite, no write lock)
        async with self._sessions() as session, session.begin():
            return await webhooks.fan_out(session, utcnow(), FAN_OUT_BATCH)

    async def _send_due(self) -> int:
        now = utcnow()
        async with self._read_sessions() as reader:
            due = await due_first_tries(reader, now, SEND_BATCH)
        if not due:
            return 0
        lanes = _Lanes()
        sent: list[_Sent] = []

        async def send_group(group: list[tuple[WebhookDelivery, WebhookEndpoint]]) -> None:
            async with lanes.gate:
                for delivery, endpoint in group:
                    activity.heartbeat()
                    with lanes.widened_while_slow():
                        attempt = await self._send(delivery, endpoint)
                    if attempt is not None:
                        sent.append(attempt)

        await asyncio.gather(*(send_group(g) for g in webhooks.ordered_groups(due)))
        # One transaction settles the whole batch: a write per delivery was most of what a
        # delivery cost. A dispatcher that dies before it sends these again (at least once,
        # under the same webhook-id).
        for delivery_id, wait in await self._settle(sent, owned_by_retry=False):
            await self._start_retry(delivery_id, wait)
        return len(due)

    async def _send(self, delivery: WebhookDelivery, endpoint: WebhookEndpoint) -> _Sent | None:
        """One attempt over HTTP; None when it cannot go out (then it is failed, saying why)."""
        if not endpoint.is_active:
            await self._stop(delivery.id, endpoint)
            return None
        now = utcnow()
        try:
            prepared = webhooks.prepare(self._cipher, delivery, endpoint, now)
        except InvalidToken:
            # A secret sealed under another HERALD_SECRET_KEY: this delivery cannot be signed,
            # and must not hold up every other one.
            log.error("webhook %s: its signing secret cannot be read", endpoint.id)
            await self._stop(delivery.id, endpoint, UNREADABLE_SECRET)
            return None
        return _Sent(delivery.id, await webhooks.attempt(self._http, prepared, now))

    async def _settle(
        self, sent: list[_Sent], *, owned_by_retry: bool
    ) -> list[tuple[uuid.UUID, float]]:
        """Logs the attempts and moves their deliveries on, in one transaction; returns the
        deliveries that wait for another attempt, with the seconds until it."""
        if not sent:
            return []
        waiting: list[tuple[uuid.UUID, float]] = []
        async with self._sessions() as session, session.begin():
            found = await get_deliveries_with_endpoints(session, [s.delivery_id for s in sent])
            for attempt in sent:
                pair = found.get(attempt.delivery_id)
                if pair is None:
                    continue  # the endpoint was deleted meanwhile
                current, owner = pair
                if current.state != DeliveryState.PENDING or current.retrying != owned_by_retry:
                    continue  # requeued or settled by someone else meanwhile
                result = attempt.result
                wait = webhooks.settle(
                    session, self._settings, current, owner, result, utcnow(), random.random()
                )
                WEBHOOK_ATTEMPTS.labels(result.verdict.value).observe(result.duration_ms / 1000)
                log.info(
                    "webhook %s delivery %s: attempt %s, %s",
                    owner.id,
                    current.id,
                    current.attempts,
                    result.summary(),
                )
                if wait is not None:
                    waiting.append((current.id, wait))
        return waiting

    async def _start_retry(self, delivery_id: uuid.UUID, wait_s: float) -> None:
        await self._client.start_workflow(
            names.WEBHOOK_RETRY_WORKFLOW,
            WebhookRetryInput(
                delivery_id=str(delivery_id),
                wait_s=wait_s,
                attempt_timeout_s=self._settings.webhook_timeout_s,
            ),
            id=names.webhook_retry_workflow_id(delivery_id),
            task_queue=self._settings.temporal_task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )

    async def _adopt_orphans(self) -> None:
        now = utcnow()
        async with self._read_sessions() as reader:
            orphans = await orphaned_retries(reader, now - ORPHAN_GRACE, SEND_BATCH)
        for delivery in orphans:
            log.warning("webhook delivery %s had no retry workflow; starting one", delivery.id)
            await self._start_retry(delivery.id, 0.0)

    @activity.defn(name="attempt_webhook_delivery")
    async def attempt_webhook_delivery(self, delivery_id: str) -> float | None:
        """The next attempt of a retrying delivery; the seconds until the one after (None:
        delivered, failed, or no longer this workflow's)."""
        key = uuid.UUID(delivery_id)
        async with self._read_sessions() as reader:
            found = await get_delivery_with_endpoint(reader, key)
        if found is None:
            return None
        delivery, endpoint = found
        if delivery.state != DeliveryState.PENDING or not delivery.retrying:
            return None
        attempt = await self._send(delivery, endpoint)
        if attempt is None:
            return None
        waiting = await self._settle([attempt], owned_by_retry=True)
        return waiting[0][1] if waiting else None

    async def _stop(
        self, delivery_id: uuid.UUID, endpoint: WebhookEndpoint, reason: str | None = None
    ) -> None:
        """A delivery that cannot go out (its endpoint switched off meanwhile, or its secret
        unreadable): failed, saying why; the retry endpoint sends it again once fixed."""
        async with self._sessions() as session, session.begin():
            found = await get_delivery_with_endpoint(session, delivery_id)
            if found is not None and found[0].state == DeliveryState.PENDING:
                why = reason or endpoint.disabled_reason or "the endpoint was switched off"
                webhooks.stop(found[0], why, utcnow())
