"""Webhook delivery: the dispatcher that turns outbox events into deliveries and sends their
first attempt, and the attempts of deliveries a retry workflow owns.

Why this shape: a delivery that succeeds at once (nearly all) costs no workflow of its own,
only its share of one long dispatcher activity, so subscribing endpoints barely changes what
a post costs the Temporal server; a delivery that fails gets a workflow
(`webhook-delivery/{id}`) whose durable timers carry it through the ~27-hour retry schedule,
visible in the Temporal UI. All state is in the database: a dispatcher that dies resumes from
it (deliveries are at least once, under one webhook-id).

A pass sends new events' first attempts before it writes anything, then records events,
deliveries and attempts together in one short transaction: on SQLite, whose one write lock
the API's creates and the worker's outcomes wait for, a pass holds it for a few plain
statements (issue #13: the pass's own transactions around its sends had cost the publish
benchmark a fifth of its throughput). Delivery ids are derived from (event, endpoint), so
the events of a pass that died unrecorded go out again under the same webhook-ids."""

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
from herald.db.models import WebhookEndpoint
from herald.db.types import utcnow
from herald.metrics import WEBHOOK_ATTEMPTS
from herald.payloads import WebhookDispatchInput, WebhookRetryInput
from herald.repositories.webhooks import (
    active_endpoints,
    due_first_tries,
    get_deliveries_with_endpoints,
    get_delivery_with_endpoint,
    orphaned_retries,
    undispatched_events,
)
from herald.services import webhooks
from herald.services.webhooks import Outgoing
from herald.settings import Settings
from herald.status import DeliveryState
from herald.webhooks.attempt import AttemptResult, Verdict

log = logging.getLogger(__name__)

# Events a dispatcher pass takes at most; first attempts a pass sends at most of deliveries
# already recorded (requeued by the retry endpoint).
EVENTS_PER_PASS = 200
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

# An attempt's outcome: the receiver's answer, or why the delivery could not go out.
Outcome = AttemptResult | str


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
        how many events and requeued deliveries it sent (the activity's result in the
        Temporal UI)."""
        ends = time.monotonic() + input.session_s
        next_sweep = time.monotonic()
        sent = 0
        while time.monotonic() < ends:
            activity.heartbeat()
            events = await self._deliver_new()
            requeued = await self._send_due()
            sent += events + requeued
            if time.monotonic() >= next_sweep:
                await self._adopt_orphans()
                next_sweep = time.monotonic() + ORPHAN_SWEEP_EVERY_S
            # Straight on only while a batch came back full (more is waiting): under a steady
            # trickle of events, going again at once made a transaction of every one or two
            # events, and those transactions were most of what a delivery cost the worker.
            if events < EVENTS_PER_PASS and requeued < SEND_BATCH:
                await asyncio.sleep(self._settings.webhook_poll_s)
        return sent

    async def _deliver_new(self) -> int:
        """New events' first attempts: the events are read, their deliveries sent, and then
        all of it recorded in one short transaction (on SQLite the write lock is held for a
        few plain statements, not for the pass). A dispatcher that dies before recording
        sends them again, under the same webhook-ids. Returns how many events it took."""
        async with self._read_sessions() as reader:
            events = await undispatched_events(reader, EVENTS_PER_PASS)
            if not events:
                return 0
            endpoints = await active_endpoints(reader, {e.workspace_id for e in events})
        rows = webhooks.fan_out(events, endpoints, utcnow())
        endpoint_of = {e.id: e for found in endpoints.values() for e in found}
        outgoing = [
            Outgoing(row["id"], row["resource_id"], row["body"], endpoint_of[row["endpoint_id"]])
            for row in rows
        ]
        outcomes = await self._attempt_all(outgoing)
        async with self._sessions() as session, session.begin():
            waiting = await webhooks.record_fan_out(
                session, self._settings, events, rows, outcomes, utcnow(), random.random
            )
        self._observe(outgoing, outcomes, first_attempts=True)
        for delivery_id, wait in waiting:
            await self._start_retry(delivery_id, wait)
        return len(events)

    async def _send_due(self) -> int:
        """First attempts of deliveries already recorded: those the retry endpoint requeued."""
        now = utcnow()
        async with self._read_sessions() as reader:
            due = await due_first_tries(reader, now, SEND_BATCH)
        if not due:
            return 0
        outgoing = [Outgoing.of(delivery, endpoint) for delivery, endpoint in due]
        sent = await self._send_all(outgoing)
        # One transaction settles the whole batch: a write per delivery was most of what a
        # delivery cost. A dispatcher that dies before it sends these again (at least once,
        # under the same webhook-id).
        for delivery_id, wait in await self._settle(sent, owned_by_retry=False):
            await self._start_retry(delivery_id, wait)
        return len(due)

    async def _send_all(self, outgoing: list[Outgoing]) -> list[_Sent]:
        """Attempts of recorded deliveries; those that cannot go out (their endpoint switched
        off meanwhile, or its secret unreadable) are failed, saying why (the retry endpoint
        sends them again once fixed)."""
        off = [item for item in outgoing if not item.endpoint.is_active]
        for item in off:
            reason = item.endpoint.disabled_reason or "the endpoint was switched off"
            await self._stop(item.delivery_id, reason)
        live = [item for item in outgoing if item.endpoint.is_active]
        outcomes = await self._attempt_all(live)
        self._observe(live, outcomes, first_attempts=False)
        sent = []
        for delivery_id, outcome in outcomes.items():
            if isinstance(outcome, str):
                await self._stop(delivery_id, outcome)
            else:
                sent.append(_Sent(delivery_id, outcome))
        return sent

    async def _attempt_all(self, outgoing: list[Outgoing]) -> dict[uuid.UUID, Outcome]:
        """One attempt of each, over HTTP: each (endpoint, resource) in order, the rest side
        by side on the lanes."""
        secrets = self._secrets_of({item.endpoint.id: item.endpoint for item in outgoing})
        lanes = _Lanes()
        outcomes: dict[uuid.UUID, Outcome] = {}

        async def send_group(group: list[Outgoing]) -> None:
            async with lanes.gate:
                for item in group:
                    activity.heartbeat()
                    signing = secrets[item.endpoint.id]
                    if signing is None:
                        outcomes[item.delivery_id] = UNREADABLE_SECRET
                        continue
                    now = utcnow()
                    prepared = webhooks.prepare(item, signing, now)
                    with lanes.widened_while_slow():
                        outcomes[item.delivery_id] = await webhooks.attempt(
                            self._http, prepared, now
                        )

        await asyncio.gather(*(send_group(g) for g in webhooks.ordered_groups(outgoing)))
        return outcomes

    def _secrets_of(
        self, endpoints: dict[uuid.UUID, WebhookEndpoint]
    ) -> dict[uuid.UUID, list[str] | None]:
        """Each endpoint's live secrets, opened once for all its deliveries (None: sealed
        under another HERALD_SECRET_KEY, so none of them can be signed, and they must not
        hold up every other one)."""
        now = utcnow()
        secrets: dict[uuid.UUID, list[str] | None] = {}
        for endpoint_id, endpoint in endpoints.items():
            try:
                secrets[endpoint_id] = webhooks.live_secrets(self._cipher, endpoint, now)
            except InvalidToken:
                log.error("webhook %s: its signing secret cannot be read", endpoint_id)
                secrets[endpoint_id] = None
        return secrets

    @staticmethod
    def _observe(
        outgoing: list[Outgoing], outcomes: dict[uuid.UUID, Outcome], *, first_attempts: bool
    ) -> None:
        """Counts and logs the attempts: each one that did not get through, and a line a pass."""
        delivered = 0
        for item in outgoing:
            outcome = outcomes.get(item.delivery_id)
            if not isinstance(outcome, AttemptResult):
                continue
            WEBHOOK_ATTEMPTS.labels(outcome.verdict.value).observe(outcome.duration_ms / 1000)
            if outcome.verdict is Verdict.DELIVERED:
                delivered += 1
                continue
            log.info(
                "webhook %s delivery %s: %s",
                item.endpoint.id,
                item.delivery_id,
                outcome.summary(),
            )
        if outgoing:
            log.info(
                "webhooks: %d %s, %d delivered",
                len(outgoing),
                "first attempts" if first_attempts else "requeued attempts",
                delivered,
            )

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
                wait = webhooks.settle(
                    session,
                    self._settings,
                    current,
                    owner,
                    attempt.result,
                    utcnow(),
                    random.random(),
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
        sent = await self._send_all([Outgoing.of(delivery, endpoint)])
        waiting = await self._settle(sent, owned_by_retry=True)
        return waiting[0][1] if waiting else None

    async def _stop(self, delivery_id: uuid.UUID, reason: str) -> None:
        """A recorded delivery that cannot go out: failed, saying why."""
        async with self._sessions() as session, session.begin():
            found = await get_delivery_with_endpoint(session, delivery_id)
            if found is not None and found[0].state == DeliveryState.PENDING:
                webhooks.stop(found[0], reason, utcnow())
