"""One analytics sync of one account, started by its Schedule `analytics/{account_id}` (or by
POST /v1/accounts/{id}/backfill): plan which posts are due (age tiers), sample the account
and them on the platform's task queue, and pause the schedule when the account no longer works
(reconnecting resumes it)."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.analytics import AnalyticsActivities
    from herald import temporal as names
    from herald.payloads import (
        AnalyticsPause,
        AnalyticsPlanRequest,
        AnalyticsSampleRequest,
        AnalyticsSyncInput,
        AnalyticsSyncReport,
    )

PLAN_TIMEOUT = timedelta(seconds=30)
SAMPLE_TIMEOUT = timedelta(minutes=30)
SAMPLE_HEARTBEAT = timedelta(minutes=1)
# Rate limits name their own wait (next_retry_delay); other failures back off to this.
SAMPLE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5),
    maximum_interval=timedelta(minutes=10),
    maximum_attempts=20,
)


@workflow.defn(name=names.ANALYTICS_SYNC_WORKFLOW)
class AnalyticsSyncWorkflow:
    @workflow.run
    async def run(self, input: AnalyticsSyncInput) -> AnalyticsSyncReport:
        at = workflow.now()
        plan = await workflow.execute_local_activity_method(
            AnalyticsActivities.plan_analytics_sync,
            AnalyticsPlanRequest(account_id=input.account_id, at=at, backfill=input.backfill),
            start_to_close_timeout=PLAN_TIMEOUT,
        )
        if plan.pause_reason is not None or plan.platform is None:
            reason = plan.pause_reason or "account unknown"
            await self._pause(input.account_id, reason)
            return AnalyticsSyncReport(paused=reason)
        if plan.wait_until is not None and plan.wait_until > workflow.now():
            await workflow.sleep(plan.wait_until - workflow.now())
        sampled = await workflow.execute_activity_method(
            AnalyticsActivities.sample_analytics,
            AnalyticsSampleRequest(
                account_id=input.account_id,
                target_ids=plan.target_ids,
                sampled_at=workflow.now(),
            ),
            task_queue=names.platform_task_queue(workflow.info().task_queue, plan.platform),
            start_to_close_timeout=SAMPLE_TIMEOUT,
            heartbeat_timeout=SAMPLE_HEARTBEAT,
            retry_policy=SAMPLE_RETRY,
        )
        report = AnalyticsSyncReport(
            account_sampled=sampled.account_sampled,
            targets_sampled=sampled.targets_sampled,
            targets_refused=sampled.targets_refused,
        )
        if sampled.expired is not None:
            report.paused = f"the platform refused the account's credentials: {sampled.expired}"
            await self._pause(input.account_id, report.paused)
        return report

    async def _pause(self, account_id: str, note: str) -> None:
        await workflow.execute_activity_method(
            AnalyticsActivities.pause_analytics_schedule,
            AnalyticsPause(account_id=account_id, note=note),
            start_to_close_timeout=PLAN_TIMEOUT,
        )
