"""Activities of the analytics sync: which posts are due, read their counters (on the
platform's own task queue, within its caps), and pause the schedule of an account whose
credentials stopped working."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from herald import temporal as names
from herald.analytics.sets import MetricSet
from herald.analytics.tiers import Tiers
from herald.crypto import CredentialCipher
from herald.db.engine import SessionFactory
from herald.db.models import MetricSample, PostTarget, SocialAccount
from herald.db.types import utcnow
from herald.payloads import (
    AnalyticsPause,
    AnalyticsPlan,
    AnalyticsPlanRequest,
    AnalyticsSampleRequest,
    AnalyticsSampleResult,
)
from herald.rate_limits import rate_limit_wait
from herald.repositories.analytics import new_sample, sample_candidates, sampled_subjects
from herald.status import AccountStatus
from platforms.base import (
    AccountContext,
    AuthExpired,
    PlatformAdapter,
    PlatformError,
    RateLimited,
    Rejected,
)
from platforms.registry import AdapterRegistry

# When a 429 names no wait, this one.
DEFAULT_RATE_LIMIT_WAIT = timedelta(seconds=60)
RATE_LIMITED = "RateLimited"


class AnalyticsActivities:
    def __init__(
        self,
        sessions: SessionFactory,
        adapters: AdapterRegistry,
        cipher: CredentialCipher,
        client: Client,
        tiers: Tiers,
        targets_per_sync: int,
    ) -> None:
        self._sessions = sessions
        self._adapters = adapters
        self._cipher = cipher
        self._client = client
        self._tiers = tiers
        self._targets_per_sync = targets_per_sync

    @activity.defn(name="plan_analytics_sync")
    async def plan_analytics_sync(self, request: AnalyticsPlanRequest) -> AnalyticsPlan:
        async with self._sessions() as session:
            account = await session.get(SocialAccount, uuid.UUID(request.account_id))
            if account is None or account.status == AccountStatus.REVOKED:
                return AnalyticsPlan(pause_reason="account disconnected")
            if account.status != AccountStatus.ACTIVE:
                return AnalyticsPlan(pause_reason=f"account {account.status}: reconnect it")
            candidates = await sample_candidates(session, account.id)
        now = request.at
        if not request.backfill:
            candidates = [
                c for c in candidates if self._tiers.is_due(c.published_at, c.last_sampled, now)
            ]
            candidates.sort(
                key=lambda c: self._tiers.overdue_by(c.published_at, c.last_sampled, now),
                reverse=True,
            )
            candidates = candidates[: self._targets_per_sync]
        return AnalyticsPlan(
            platform=account.platform,
            target_ids=[str(c.target_id) for c in candidates],
            wait_until=rate_limit_wait(account, now),
        )

    @activity.defn(name="sample_analytics")
    async def sample_analytics(self, request: AnalyticsSampleRequest) -> AnalyticsSampleResult:
        """Reads the account's and each target's counters and stores them, one reading per
        subject at `sampled_at`; what an earlier attempt stored is skipped. A 429 ends the
        attempt with the platform's wait as the retry delay (the queue's slot is free
        meanwhile, so other accounts' syncs go on)."""
        target_ids = [uuid.UUID(t) for t in request.target_ids]
        async with self._sessions() as session:
            account = await session.get(SocialAccount, uuid.UUID(request.account_id))
            if account is None:
                return AnalyticsSampleResult()
            targets = list(
                await session.scalars(select(PostTarget).where(PostTarget.id.in_(target_ids)))
            )
            done = await sampled_subjects(
                session, [account.id], MetricSet.ACCOUNT, request.sampled_at
            ) | await sampled_subjects(session, target_ids, MetricSet.POST, request.sampled_at)
            context = self._cipher.context_of(account)
            session.expunge_all()
        adapter = self._adapters.get(account.platform)
        result = AnalyticsSampleResult(account_sampled=account.id in done)
        try:
            if account.id not in done:
                metrics = await adapter.fetch_account_metrics(context)
                await self._store(
                    new_sample(account, MetricSet.ACCOUNT, request.sampled_at, metrics)
                )
                result.account_sampled = True
            for target in targets:
                if target.id in done or target.platform_post_id is None:
                    continue
                if await self._sample_target(adapter, context, account, target, request):
                    result.targets_sampled += 1
                else:
                    result.targets_refused += 1
                activity.heartbeat(str(target.id))
        except AuthExpired as err:
            result.expired = err.message
        except RateLimited as err:
            wait = timedelta(seconds=err.retry_after_s) if err.retry_after_s else None
            if wait is not None:
                await self._hold(account.id, utcnow() + wait)
            raise ApplicationError(
                f"{account.platform} rate limited the sync: {err.message}",
                type=RATE_LIMITED,
                next_retry_delay=wait or DEFAULT_RATE_LIMIT_WAIT,
            ) from err
        except PlatformError as err:  # transient: Temporal retries with back-off
            raise ApplicationError(f"{account.platform}: {err.message}") from err
        return result

    async def _sample_target(
        self,
        adapter: PlatformAdapter,
        context: AccountContext,
        account: SocialAccount,
        target: PostTarget,
        request: AnalyticsSampleRequest,
    ) -> bool:
        assert target.platform_post_id is not None
        try:
            metrics = await adapter.fetch_metrics(context, target.platform_post_id)
        except Rejected:
            return False
        await self._store(new_sample(account, MetricSet.POST, request.sampled_at, metrics, target))
        return True

    async def _hold(self, account_id: uuid.UUID, until: datetime) -> None:
        """The account's other calls (publishes too) wait out the limit the platform named."""
        async with self._sessions() as session, session.begin():
            account = await session.get(SocialAccount, account_id)
            if account is not None:
                held = account.rate_limited_until
                account.rate_limited_until = max(held, until) if held else until

    async def _store(self, sample: MetricSample) -> None:
        try:
            async with self._sessions() as session, session.begin():
                session.add(sample)
        except IntegrityError:
            pass  # another attempt of this sync stored it first

    @activity.defn(name="pause_analytics_schedule")
    async def pause_analytics_schedule(self, request: AnalyticsPause) -> None:
        handle = self._client.get_schedule_handle(names.analytics_schedule_id(request.account_id))
        try:
            await handle.pause(note=request.note)
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND:  # no schedule: nothing to pause
                raise
