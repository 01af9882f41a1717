"""The retention pass, started by its Schedule (every `retention_interval_s`)."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.retention import RetentionActivities
    from herald import temporal as names
    from herald.payloads import RetentionReport


@workflow.defn(name=names.RETENTION_WORKFLOW)
class RetentionWorkflow:
    @workflow.run
    async def run(self) -> RetentionReport:
        return await workflow.execute_activity_method(
            RetentionActivities.prune_outbox,
            start_to_close_timeout=timedelta(minutes=30),
            heartbeat_timeout=timedelta(minutes=2),
            retry_policy=RetryPolicy(maximum_attempts=3),
        )
