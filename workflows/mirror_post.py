"""One workflow per mirrored source post with media (`mirror-post/{mirror_post_id}`): import
its media into the library (the URL import's own activity: size limits, type sniffing, the
address policy), then make the copy and start its post workflow. The mirror's polling never
waits on a download; a worker killed mid-import has the import retried, and the copy is made
once (create_mirrored_post decides from the record it locks)."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributePair, TypedSearchAttributes
from temporalio.exceptions import ActivityError, WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from activities.mirrors import MirrorActivities
    from herald import temporal as names
    from herald.payloads import MirroredPostInput, PostWorkflowInput, StartedPost
    from workflows.media_import import import_media
    from workflows.post import PostWorkflow


@workflow.defn(name=names.MIRRORED_POST_WORKFLOW)
class MirroredPostWorkflow:
    @workflow.run
    async def run(self, input: MirroredPostInput) -> None:
        # Each import settles its media ready or failed; one whose attempts all broke off
        # leaves it pending, and the next step fails it with the post.
        results = await asyncio.gather(
            *(import_media(item) for item in input.media), return_exceptions=True
        )
        for result in results:
            if isinstance(result, BaseException) and not isinstance(result, ActivityError):
                raise result  # cancelled: nothing more to do
        made = await workflow.execute_local_activity_method(
            MirrorActivities.create_mirrored_post,
            input,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=1)),
        )
        if made.started is not None:
            await start_post(made.started)


async def start_post(started: StartedPost) -> None:
    """The copy's post workflow, left running on its own (`post/{id}`: started once; the
    reconciler starts it if this never ran)."""
    # Started before (an earlier attempt, or the reconciler) is fine.
    with contextlib.suppress(WorkflowAlreadyStartedError):
        await workflow.start_child_workflow(
            PostWorkflow.run,
            PostWorkflowInput(post_id=started.post_id),
            id=names.post_workflow_id(started.post_id),
            parent_close_policy=ParentClosePolicy.ABANDON,
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(names.POST_ID, started.post_id),
                    SearchAttributePair(names.WORKSPACE_ID, started.workspace_id),
                    SearchAttributePair(names.PLATFORMS, started.platforms),
                ]
            ),
        )
