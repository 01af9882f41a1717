"""The reconciler's run, started by its Schedule (every `reconcile_interval_s`)."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.reconciler import ReconcilerActivities
    from herald import temporal as names
    from herald.payloads import ReconcileReport


@workflow.defn(name=names.RECONCILER_WORKFLOW)
class ReconcilerWorkflow:
    @workflow.run
    async def run(self) -> ReconcileReport:
        return await workflow.execute_activity_method(
            ReconcilerActivities.reconcile_posts,
            start_to_close_timeout=timedelta(minutes=10),
            heartbeat_timeout=timedelta(minutes=1),
            retry_policy=RetryPolicy(maximum_attempts=3),
        )
