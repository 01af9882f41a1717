"""One run per Schedule action of a recurring series (`recurrence/{id}`): make this fire
time's copy of the template, then hand it to its own post-lifecycle workflow."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import (
    RetryPolicy,
    SearchAttributeKey,
    SearchAttributePair,
    TypedSearchAttributes,
)
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from activities.recurrence import RecurrenceActivities
    from herald import temporal as names
    from herald.payloads import (
        OccurrenceInput,
        OccurrenceRequest,
        OccurrenceResult,
        PostWorkflowInput,
    )
    from workflows.post import PostWorkflow

# Set by Temporal on every workflow a Schedule starts: the time this action was due.
SCHEDULED_START = SearchAttributeKey.for_datetime("TemporalScheduledStartTime")


@workflow.defn(name=names.RECURRENCE_OCCURRENCE_WORKFLOW)
class RecurrenceOccurrenceWorkflow:
    @workflow.run
    async def run(self, input: OccurrenceInput) -> OccurrenceResult:
        fired_at = workflow.info().typed_search_attributes.get(SCHEDULED_START) or workflow.now()
        result = await workflow.execute_activity_method(
            RecurrenceActivities.create_occurrence,
            OccurrenceRequest(recurrence_id=input.recurrence_id, fired_at=fired_at),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RetryPolicy(maximum_interval=timedelta(seconds=30)),
        )
        if result.post_id is not None:
            await workflow.start_child_workflow(
                PostWorkflow.run,
                PostWorkflowInput(post_id=result.post_id),
                id=names.post_workflow_id(result.post_id),
                parent_close_policy=ParentClosePolicy.ABANDON,
                search_attributes=TypedSearchAttributes(
                    [
                        SearchAttributePair(names.POST_ID, result.post_id),
                        SearchAttributePair(names.WORKSPACE_ID, result.workspace_id or ""),
                        SearchAttributePair(names.PLATFORMS, result.platforms),
                    ]
                ),
            )
        return result
