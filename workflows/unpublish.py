"""Unpublish, one workflow per request (`unpublish/{post_id}`): delete each published target
from its platform, on that platform's task queue, retrying until the platform answers."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.unpublish import UnpublishActivities
    from herald import temporal as names
    from herald.payloads import TargetOutcome, TargetRef, UnpublishInput
    from herald.status import TargetError

TIMEOUT = timedelta(minutes=1)
RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    maximum_interval=timedelta(minutes=2),
    maximum_attempts=10,
    non_retryable_error_types=[TargetError.REJECTED],
)


@workflow.defn(name=names.UNPUBLISH_WORKFLOW)
class UnpublishWorkflow:
    @workflow.run
    async def run(self, input: UnpublishInput) -> list[TargetOutcome]:
        targets = await workflow.execute_activity_method(
            UnpublishActivities.published_targets,
            input,
            start_to_close_timeout=TIMEOUT,
            retry_policy=RetryPolicy(maximum_interval=timedelta(seconds=30)),
        )
        return list(await asyncio.gather(*(self._delete(target) for target in targets)))

    async def _delete(self, target: TargetRef) -> TargetOutcome:
        return await workflow.execute_activity_method(
            UnpublishActivities.delete_target,
            target,
            task_queue=names.platform_task_queue(workflow.info().task_queue, target.platform),
            start_to_close_timeout=TIMEOUT,
            retry_policy=RETRY,
        )
