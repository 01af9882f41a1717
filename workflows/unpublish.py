"""Unpublish, one workflow per request (`unpublish/{post_id}`): delete each published target
from its platform, on that platform's task queue, retrying until the platform answers. It
carries the post's search attributes; its `HeraldStatus` ends `unpublished` once every
published target is gone."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.unpublish import UnpublishActivities
    from herald import temporal as names
    from herald.payloads import TargetOutcome, TargetRef, UnpublishInput
    from herald.status import PostStatus, TargetError

UNPUBLISHED_STATUS_PATCH = "unpublished-status-1"
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
        outcomes = list(await asyncio.gather(*(self._delete(target) for target in targets)))
        # Runs recorded before this change never set the status; new ones say when the post
        # is gone from every platform (the post's own run has ended and cannot say it).
        if workflow.patched(UNPUBLISHED_STATUS_PATCH) and any(
            o.post_status is PostStatus.UNPUBLISHED for o in outcomes
        ):
            workflow.upsert_search_attributes(
                [names.STATUS.value_set(PostStatus.UNPUBLISHED.value)]
            )
        return outcomes

    async def _delete(self, target: TargetRef) -> TargetOutcome:
        return await workflow.execute_activity_method(
            UnpublishActivities.delete_target,
            target,
            task_queue=names.platform_task_queue(workflow.info().task_queue, target.platform),
            start_to_close_timeout=TIMEOUT,
            retry_policy=RETRY,
        )
