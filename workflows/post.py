"""Post lifecycle, one workflow per post (`post/{id}`): wait for the time, publish every target.

The timer is updatable: `reschedule`, `publish_now` and `cancel` Updates move or stop it. Each
handler persists its change through an activity before returning, so the API's answer already
shows it; validators refuse changes once publishing has begun.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeUpdate
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.exceptions import TimeoutError as TimeoutError_

with workflow.unsafe.imports_passed_through():
    from activities.posts import PostActivities
    from activities.publish import PublishActivities
    from herald import temporal as names
    from herald.payloads import (
        ApprovalChange,
        ApprovalDecision,
        PostPlan,
        PostRunResult,
        PostWorkflowInput,
        PostWorkflowState,
        PublishBatchInput,
        PublishTargetInput,
        RescheduleRequest,
        ScheduleChange,
        ScheduleChangeKind,
        ScheduleRequest,
        StartPublishing,
        TargetAttempt,
        TargetFailure,
        TargetOutcome,
        TargetRef,
    )
    from herald.status import ApprovalStatus, PostPhase, PostStatus

DB_ACTIVITY_TIMEOUT = timedelta(seconds=30)
DB_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30)
)
PUBLISH_TIMEOUT = timedelta(minutes=2)
LEAN_PUBLISH_PATCH = "lean-publish-1"
BATCH_PUBLISH_PATCH = "batch-publish-1"
FINAL_STATUSES = frozenset(
    {PostStatus.PUBLISHED, PostStatus.PARTIAL, PostStatus.FAILED, PostStatus.CANCELLED}
)
PUBLISH_HEARTBEAT_TIMEOUT = timedelta(seconds=10)

_Arg = TypeVar("_Arg")
_Result = TypeVar("_Result")


class Stage:
    LOADING = "loading"
    APPROVAL = "approval"
    WAITING = "waiting"
    PUBLISHING = "publishing"
    DONE = "done"


@workflow.defn(name=names.POST_WORKFLOW)
class PostWorkflow:
    @workflow.init
    def __init__(self, input: PostWorkflowInput) -> None:
        self._post_id = input.post_id
        self._stage = Stage.LOADING
        self._due: datetime | None = None
        self._publish_now = False
        self._cancelled = False
        self._changed = False
        self._updates_in_flight = 0
        self._outcomes: dict[str, TargetOutcome] = {}
        self._author_id = ""
        self._decided: ApprovalStatus | None = None
        self._lean = False
        self._batched = False
        self._local = input.local_steps

    @workflow.run
    async def run(self, input: PostWorkflowInput) -> PostRunResult:
        # Histories recorded before this change replay the old path (three more activities and
        # a search-attribute upsert per step); new runs take the lean one. The input says so
        # for runs the API starts; only the others (children of mirrors and recurrences) pay
        # for the patch marker.
        self._lean = input.lean_publish or workflow.patched(LEAN_PUBLISH_PATCH)
        # Likewise for publishing each batch's first attempts together, one activity per
        # platform (the API's starts say so; older histories publish target by target).
        self._batched = input.batch_publish or workflow.patched(BATCH_PUBLISH_PATCH)
        plan = await self._db_step(
            PostActivities.load_post_plan, input.model_copy(update={"start_if_due": self._lean})
        )
        if plan is None or not plan.targets:
            self._stage = Stage.DONE
            status = plan.status if plan else PostStatus.CANCELLED
            return PostRunResult(post_id=input.post_id, status=status)
        self._due = plan.next_due
        self._publish_now = plan.phase is PostPhase.QUEUED or input.target_ids is not None
        self._author_id = plan.author_id
        if plan.phase is PostPhase.PENDING_APPROVAL:
            approved = await self._await_approval(plan)
            if not approved:
                self._stage = Stage.DONE
                await workflow.wait_condition(workflow.all_handlers_finished)
                return PostRunResult(post_id=plan.post_id, status=PostStatus.REJECTED)
        batch = plan.batch
        if batch is None:
            self._stage = Stage.WAITING
            self._set_status(plan.status)

        while True:
            if batch is None:
                await self._wait_until_due()
                if self._cancelled:
                    break
                # Decided with no await in between, so no Update can slip in after the check.
                self._stage = Stage.PUBLISHING
                batch = await self._db_step(
                    PostActivities.start_publishing,
                    StartPublishing(
                        post_id=plan.post_id,
                        now=workflow.now(),
                        publish_all=self._publish_now,
                        target_ids=input.target_ids,
                    ),
                )
            else:
                self._stage = Stage.PUBLISHING  # load_post_plan already started it
            self._set_status(PostStatus.PROCESSING, batch.platforms)
            if self._batched:
                await self._publish_batch(plan, batch.targets)
            else:
                await asyncio.gather(*(self._publish(plan, target) for target in batch.targets))
            if batch.next_due is None:
                break
            self._due = batch.next_due
            self._stage = Stage.WAITING
            batch = None

        final = self._final_status()
        status = (
            final
            if final is not None
            else await self._db_step(PostActivities.finalize_post, plan.post_id)
        )
        self._set_status(status)
        self._stage = Stage.DONE
        await workflow.wait_condition(workflow.all_handlers_finished)
        return PostRunResult(
            post_id=plan.post_id, status=status, outcomes=list(self._outcomes.values())
        )

    async def _db_step(
        self, step: Callable[[PostActivities, _Arg], Awaitable[_Result]], arg: _Arg
    ) -> _Result:
        """One of PostActivities' database steps: a local activity in runs that say so
        (PostWorkflowInput.local_steps), a regular one in the histories recorded before."""
        if self._local:
            return await workflow.execute_local_activity_method(
                step, arg, start_to_close_timeout=DB_ACTIVITY_TIMEOUT, retry_policy=DB_RETRY
            )
        return await workflow.execute_activity_method(
            step, arg, start_to_close_timeout=DB_ACTIVITY_TIMEOUT, retry_policy=DB_RETRY
        )

    async def _await_approval(self, plan: PostPlan) -> bool:
        """Waits for approve or reject; a workspace timeout expires the request. An approval
        that comes after the scheduled time publishes at once (the timer is already due)."""
        self._stage = Stage.APPROVAL
        self._set_status(PostStatus.PENDING_APPROVAL)
        timeout = timedelta(seconds=plan.approval_timeout_s) if plan.approval_timeout_s else None
        try:
            await workflow.wait_condition(lambda: self._decided is not None, timeout=timeout)
        except TimeoutError:
            self._stage = Stage.DONE  # from here no decision is accepted
            await workflow.wait_condition(lambda: self._updates_in_flight == 0)
            if self._decided is None:
                await self._record_approval(ApprovalStatus.EXPIRED, None)
                self._decided = ApprovalStatus.EXPIRED
        approved = self._decided is ApprovalStatus.APPROVED
        self._set_status(PostStatus.SCHEDULED if approved else PostStatus.REJECTED)
        return approved

    async def _record_approval(
        self, decision: ApprovalStatus, by: ApprovalDecision | None
    ) -> PostPhase:
        return await self._db_step(
            PostActivities.decide_approval,
            ApprovalChange(
                post_id=self._post_id,
                decision=decision,
                actor_id=by.actor_id if by else None,
                actor_type=by.actor_type if by else None,
                reason=by.reason if by else None,
            ),
        )

    def _refuse_unless_awaiting_approval(self, decision: ApprovalDecision) -> None:
        if self._stage not in (Stage.LOADING, Stage.APPROVAL) or self._decided is not None:
            raise ApplicationError(
                "the post is not waiting for approval",
                type=names.ILLEGAL_TRANSITION,
                non_retryable=True,
            )
        if self._author_id and decision.actor_id == self._author_id:
            raise ApplicationError(
                "the author cannot approve or reject their own post",
                type=names.ILLEGAL_TRANSITION,
                non_retryable=True,
            )

    async def _decide(self, decision: ApprovalStatus, input: ApprovalDecision) -> PostPhase:
        self._updates_in_flight += 1
        try:
            await workflow.wait_condition(lambda: self._stage != Stage.LOADING)
            self._refuse_unless_awaiting_approval(input)
            phase = await self._record_approval(decision, input)
            self._decided = decision
            self._publish_now = phase is PostPhase.QUEUED
            return phase
        finally:
            self._updates_in_flight -= 1

    @workflow.update
    async def approve(self, input: ApprovalDecision) -> PostPhase:
        return await self._decide(ApprovalStatus.APPROVED, input)

    @approve.validator
    def _validate_approve(self, input: ApprovalDecision) -> None:
        self._refuse_unless_awaiting_approval(input)

    @workflow.update
    async def reject(self, input: ApprovalDecision) -> PostPhase:
        return await self._decide(ApprovalStatus.REJECTED, input)

    @reject.validator
    def _validate_reject(self, input: ApprovalDecision) -> None:
        self._refuse_unless_awaiting_approval(input)

    async def _wait_until_due(self) -> None:
        while True:
            # An Update that is still persisting its change must land before we decide.
            await workflow.wait_condition(lambda: self._updates_in_flight == 0)
            if self._cancelled or self._publish_now:
                return
            remaining = None if self._due is None else self._due - workflow.now()
            if remaining is not None and remaining <= timedelta(0):
                return
            self._changed = False
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(
                    lambda: self._changed or self._updates_in_flight > 0, timeout=remaining
                )

    async def _publish_batch(self, plan: PostPlan, targets: list[TargetRef]) -> None:
        """The batch's first attempts, one activity per platform; a target that must be tried
        again goes on alone, after its wait, until its deadline."""
        window = self._publish_window(plan)
        deadline = workflow.now() + window if window is not None else None
        by_platform: dict[str, list[TargetRef]] = {}
        for target in targets:
            by_platform.setdefault(target.platform, []).append(target)
        await asyncio.gather(
            *(self._publish_together(plan, group, deadline) for group in by_platform.values())
        )

    async def _publish_together(
        self, plan: PostPlan, targets: list[TargetRef], deadline: datetime | None
    ) -> None:
        try:
            attempts = await workflow.execute_activity_method(
                PublishActivities.publish_targets,
                PublishBatchInput(
                    post_id=plan.post_id, targets=targets, publish_retry=plan.publish_retry
                ),
                task_queue=self._platform_queue(targets[0]),
                start_to_close_timeout=PUBLISH_TIMEOUT,
                schedule_to_close_timeout=self._publish_window(plan),
                heartbeat_timeout=PUBLISH_HEARTBEAT_TIMEOUT,
                # Only a batch that did not finish is tried again (its worker died).
                retry_policy=self._retry_policy(plan),
            )
        except ActivityError as err:
            await asyncio.gather(*(self._fail(_failure_of(t.id, err)) for t in targets))
            return
        await asyncio.gather(
            *(
                self._carry_on(plan, target, attempt, deadline)
                for target, attempt in zip(targets, attempts, strict=True)
            )
        )

    async def _carry_on(
        self, plan: PostPlan, target: TargetRef, attempt: TargetAttempt, deadline: datetime | None
    ) -> None:
        """After a target's first attempt: its outcome, or its next attempts, alone."""
        if attempt.outcome is not None:
            self._outcomes[target.id] = attempt.outcome
            return
        wait = timedelta(seconds=attempt.retry_after_s or plan.publish_retry.initial_s)
        out_of_time = deadline is not None and workflow.now() + wait >= deadline
        if not attempt.retry or plan.max_attempts == 1 or out_of_time:
            await self._fail(
                TargetFailure(
                    target_id=target.id,
                    code=attempt.error_code or "publish_failed",
                    message=attempt.error_message or "the publish failed",
                    retryable=True,
                )
            )
            return
        await workflow.sleep(wait)
        await self._publish(plan, target.model_copy(update={"fresh": False}), deadline, 1)

    async def _fail(self, failure: TargetFailure) -> None:
        self._outcomes[failure.target_id] = await self._db_step(
            PostActivities.record_target_failure, failure
        )

    async def _publish(
        self,
        plan: PostPlan,
        target: TargetRef,
        deadline: datetime | None = None,
        attempts_made: int = 0,
    ) -> None:
        """A target's attempts, one activity retried by Temporal (`attempts_made`: by its
        batch already, `deadline`: the batch's)."""
        window = deadline - workflow.now() if deadline is not None else self._publish_window(plan)
        try:
            outcome = await workflow.execute_activity_method(
                PublishActivities.publish_target,
                PublishTargetInput(post_id=plan.post_id, target_id=target.id, fresh=target.fresh),
                task_queue=self._platform_queue(target),
                start_to_close_timeout=PUBLISH_TIMEOUT,
                # Retried by time: until the deadline (then the last error is the failure).
                schedule_to_close_timeout=window,
                # A worker killed mid-call is noticed within this, not PUBLISH_TIMEOUT.
                heartbeat_timeout=PUBLISH_HEARTBEAT_TIMEOUT,
                retry_policy=self._retry_policy(plan, attempts_made),
            )
        except ActivityError as err:
            outcome = await self._db_step(
                PostActivities.record_target_failure, _failure_of(target.id, err)
            )
        self._outcomes[target.id] = outcome

    @staticmethod
    def _platform_queue(target: TargetRef) -> str:
        return names.platform_task_queue(workflow.info().task_queue, target.platform)

    @staticmethod
    def _retry_policy(plan: PostPlan, attempts_made: int = 0) -> RetryPolicy:
        """The publish retry schedule, carried on after `attempts_made` attempts."""
        retry = plan.publish_retry
        initial = retry.initial_s
        if attempts_made:
            initial = min(initial * retry.backoff**attempts_made, retry.max_s)
        return RetryPolicy(
            initial_interval=timedelta(seconds=initial),
            backoff_coefficient=retry.backoff,
            maximum_interval=timedelta(seconds=retry.max_s),
            maximum_attempts=max(plan.max_attempts - attempts_made, 0) if plan.max_attempts else 0,
        )

    @staticmethod
    def _publish_window(plan: PostPlan) -> timedelta | None:
        """How long the target may keep retrying, from now (its batch just began, at its due
        time); None for runs recorded before deadlines, which count attempts instead."""
        if plan.publish_deadline_s is None:
            return None
        return max(timedelta(seconds=plan.publish_deadline_s), PUBLISH_TIMEOUT)

    def _final_status(self) -> PostStatus | None:
        """The post's status as the last stored outcome saw it, when that is final; None
        means ask the database (old histories always do)."""
        if not self._lean or self._cancelled:
            return None
        for outcome in self._outcomes.values():
            if outcome.post_status in FINAL_STATUSES:
                return outcome.post_status
        return None

    def _set_status(self, status: PostStatus, platforms: list[str] | None = None) -> None:
        attributes: list[SearchAttributeUpdate[Any]] = [names.STATUS.value_set(status.value)]
        if platforms:
            attributes.append(names.PLATFORMS.value_set(platforms))
        if self._due is not None:
            attributes.append(names.SCHEDULED_AT.value_set(self._due))
        if self._lean:
            # Each upsert is a command and a history event: skip those that change nothing.
            current = workflow.info().typed_search_attributes
            attributes = [a for a in attributes if current.get(a.key) != a.value]
            if not attributes:
                return
        workflow.upsert_search_attributes(attributes)

    # --- Updates: change the schedule while the post waits -------------------------------

    def _refuse_unless_waiting(self) -> None:
        # While the plan loads, a change is accepted and applied once loading is done.
        if self._stage not in (Stage.LOADING, Stage.WAITING) or self._cancelled:
            raise ApplicationError(
                f"the post is {self._stage if not self._cancelled else 'cancelled'}; "
                "its schedule can no longer change",
                type=names.ILLEGAL_TRANSITION,
                non_retryable=True,
            )

    async def _persist(self, change: ScheduleChange) -> PostStatus:
        self._updates_in_flight += 1
        try:
            await workflow.wait_condition(lambda: self._stage != Stage.LOADING)
            self._refuse_unless_waiting()
            return await self._db_step(PostActivities.apply_schedule_change, change)
        finally:
            self._updates_in_flight -= 1

    @workflow.update
    async def reschedule(self, request: RescheduleRequest) -> PostStatus:
        status = await self._persist(
            ScheduleChange(
                post_id=self._post_id,
                kind=ScheduleChangeKind.RESCHEDULE,
                scheduled_at=request.scheduled_at,
                actor_type=request.actor_type,
                actor_id=request.actor_id,
            )
        )
        self._due = request.scheduled_at
        self._changed = True
        self._set_status(status)
        return status

    @reschedule.validator
    def _validate_reschedule(self, request: RescheduleRequest) -> None:
        self._refuse_unless_waiting()

    # The request is optional: Updates recorded before the audit log carried none.
    @workflow.update
    async def publish_now(self, request: ScheduleRequest | None = None) -> PostStatus:
        by = request or ScheduleRequest()
        status = await self._persist(
            ScheduleChange(
                post_id=self._post_id,
                kind=ScheduleChangeKind.PUBLISH_NOW,
                actor_type=by.actor_type,
                actor_id=by.actor_id,
            )
        )
        self._publish_now = True
        self._changed = True
        return status

    @publish_now.validator
    def _validate_publish_now(self, request: ScheduleRequest | None = None) -> None:
        self._refuse_unless_waiting()

    @workflow.update
    async def cancel(self, request: ScheduleRequest | None = None) -> PostStatus:
        by = request or ScheduleRequest()
        status = await self._persist(
            ScheduleChange(
                post_id=self._post_id,
                kind=ScheduleChangeKind.CANCEL,
                actor_type=by.actor_type,
                actor_id=by.actor_id,
            )
        )
        self._cancelled = True
        self._changed = True
        self._set_status(status)
        return status

    @cancel.validator
    def _validate_cancel(self, request: ScheduleRequest | None = None) -> None:
        self._refuse_unless_waiting()

    @workflow.query
    def state(self) -> PostWorkflowState:
        return PostWorkflowState(
            stage=self._stage,
            scheduled_at=self._due,
            outcomes=list(self._outcomes.values()),
        )


def _failure_of(target_id: str, err: ActivityError) -> TargetFailure:
    cause = err.cause
    while isinstance(cause, ActivityError) and cause.cause is not None:
        cause = cause.cause
    if isinstance(cause, ApplicationError):
        # Publish activities name the error class in `type` and keep the platform's message.
        code = cause.type or "platform_error"
        return TargetFailure(target_id=target_id, code=code, message=cause.message, retryable=True)
    if isinstance(cause, TimeoutError_):
        return TargetFailure(
            target_id=target_id,
            code="timeout",
            message="the platform call did not finish in time, again and again until the target "
            "ran out of time (publish_deadline_s) or attempts",
            retryable=True,
        )
    return TargetFailure(
        target_id=target_id, code="publish_failed", message=str(cause or err), retryable=True
    )
