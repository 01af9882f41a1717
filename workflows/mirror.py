"""One workflow per mirror (`mirror/{id}`): poll the source, start a post workflow for each
copy (or, for a source post with media, a `mirror-post/{id}` workflow that imports them first),
sleep, repeat; `pause`/`resume` Updates follow `is_active`; history stays bounded by
continue-as-new."""

from __future__ import annotations

import contextlib
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from activities.mirrors import MirrorActivities
    from herald import temporal as names
    from herald.payloads import MirroredPostInput, MirrorInput
    from workflows.mirror_post import MirroredPostWorkflow, start_post

POLLS_PER_RUN = 100


@workflow.defn(name=names.MIRROR_WORKFLOW)
class MirrorWorkflow:
    @workflow.init
    def __init__(self, input: MirrorInput) -> None:
        self._active = True
        self._changed = False
        # Source posts whose mirror-post workflow this run started (polls name them again
        # until their copy is decided).
        self._importing: set[str] = set()

    @workflow.run
    async def run(self, input: MirrorInput) -> None:
        interval = timedelta(seconds=input.poll_interval_s)
        for poll in range(POLLS_PER_RUN):
            if self._active:
                result = await workflow.execute_activity_method(
                    MirrorActivities.poll_mirror,
                    input,
                    start_to_close_timeout=timedelta(minutes=5),
                    # A worker killed mid-poll is noticed in seconds; the poll is retried.
                    heartbeat_timeout=timedelta(seconds=10),
                    retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=5)),
                )
                if not result.exists:
                    return
                self._active = result.active
                for started in result.started:
                    await start_post(started)
                for pending in result.imports:
                    await self._start_import(pending)
                self._importing &= {p.mirror_post_id for p in result.imports}
            self._changed = False
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(
                    lambda: self._changed, timeout=None if not self._active else interval
                )
            if workflow.info().is_continue_as_new_suggested() or poll == POLLS_PER_RUN - 1:
                break
        await workflow.wait_condition(workflow.all_handlers_finished)
        workflow.continue_as_new(input)

    async def _start_import(self, pending: MirroredPostInput) -> None:
        """Its mirror-post workflow, once ever: one that ran before (started by an earlier run,
        or by this poll's retry after a lost answer) is not run again."""
        if pending.mirror_post_id in self._importing:
            return
        self._importing.add(pending.mirror_post_id)
        with contextlib.suppress(WorkflowAlreadyStartedError):
            await workflow.start_child_workflow(
                MirroredPostWorkflow.run,
                pending,
                id=names.mirrored_post_workflow_id(pending.mirror_post_id),
                parent_close_policy=ParentClosePolicy.ABANDON,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            )

    @workflow.update
    def pause(self) -> bool:
        self._active = False
        self._changed = True
        return self._active

    @workflow.update
    def resume(self) -> bool:
        self._active = True
        self._changed = True
        return self._active

    @workflow.update
    def poll_now(self) -> bool:
        self._changed = True
        return self._active
