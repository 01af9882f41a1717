"""The post lifecycle on the time-skipping test server, with activities stubbed by name."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from temporalio import activity
from temporalio.client import WorkflowHandle, WorkflowHistory, WorkflowUpdateFailedError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, Worker

from herald import temporal as names
from herald.payloads import (
    ApprovalChange,
    ApprovalDecision,
    PostPlan,
    PostWorkflowInput,
    PublishBatch,
    PublishBatchInput,
    PublishTargetInput,
    RescheduleRequest,
    ScheduleChange,
    StartPublishing,
    TargetAttempt,
    TargetFailure,
    TargetOutcome,
    TargetRef,
)
from herald.status import PostPhase, PostStatus, TargetStatus
from workflows.post import PostWorkflow

BIN = Path(sys.executable).parent
HISTORIES = Path(__file__).parent / "histories"


@pytest.fixture(scope="module")
async def env() -> AsyncIterator[WorkflowEnvironment]:
    environment = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(BIN / "temporal-test-server"),
        data_converter=pydantic_data_converter,
    )
    await names.register_search_attributes(environment.client, "default")
    try:
        yield environment
    finally:
        await environment.shutdown()


@pytest.fixture(params=[False, True], ids=["activities", "local_steps"])
def local_steps(request: pytest.FixtureRequest) -> bool:
    """Every scenario runs both ways: database steps as regular activities (histories recorded
    before PostWorkflowInput.local_steps) and as local activities (every run the API starts)."""
    return bool(request.param)


@dataclass
class FakeActivities:
    """Stands in for the database and platforms; records what the workflow asked and when."""

    env: WorkflowEnvironment
    scheduled_at: datetime
    phase: PostPhase = PostPhase.SCHEDULED
    fail_platform: str | None = None
    hold: asyncio.Event | None = None
    needs_approval: bool = False
    approval_timeout_s: float | None = None
    decisions: list[str] = field(default_factory=list)
    publishing: asyncio.Event = field(default_factory=asyncio.Event)
    published_at: dict[str, datetime] = field(default_factory=dict)
    changes: list[ScheduleChange] = field(default_factory=list)
    failures: list[TargetFailure] = field(default_factory=list)
    plan_requests: list[PostWorkflowInput] = field(default_factory=list)
    max_attempts: int = 2
    publish_deadline_s: float | None = None
    # Fail the platform only this many times (None: always).
    fail_times: int | None = None
    attempts: dict[str, int] = field(default_factory=dict)

    def plan(self, post_id: str) -> PostPlan:
        return PostPlan(
            post_id=post_id,
            workspace_id=str(uuid.uuid4()),
            phase=PostPhase.PENDING_APPROVAL if self.needs_approval else self.phase,
            status=PostStatus.SCHEDULED,
            scheduled_at=self.scheduled_at,
            targets=[
                TargetRef(id="t-mastodon", platform="mastodon"),
                TargetRef(id="t-x", platform="x"),
            ],
            max_attempts=self.max_attempts,
            publish_deadline_s=self.publish_deadline_s,
            next_due=self.scheduled_at,
            author_id="author",
            approval_timeout_s=self.approval_timeout_s,
        )

    def activities(self) -> list[object]:
        @activity.defn(name="load_post_plan")
        async def load_post_plan(input: PostWorkflowInput) -> PostPlan:
            self.plan_requests.append(input)
            return self.plan(input.post_id)

        @activity.defn(name="apply_schedule_change")
        async def apply_schedule_change(change: ScheduleChange) -> PostStatus:
            self.changes.append(change)
            return PostStatus.CANCELLED if change.kind == "cancel" else PostStatus.SCHEDULED

        @activity.defn(name="record_target_failure")
        async def record_target_failure(failure: TargetFailure) -> TargetOutcome:
            self.failures.append(failure)
            return TargetOutcome(target_id=failure.target_id, status=TargetStatus.FAILED)

        @activity.defn(name="start_publishing")
        async def start_publishing(input: StartPublishing) -> PublishBatch:
            return PublishBatch(targets=self.plan(input.post_id).targets, next_due=None)

        @activity.defn(name="finalize_post")
        async def finalize_post(post_id: str) -> PostStatus:
            if not self.published_at and not self.failures:
                return PostStatus.CANCELLED
            return PostStatus.PARTIAL if self.failures else PostStatus.PUBLISHED

        @activity.defn(name="decide_approval")
        async def decide_approval(change: ApprovalChange) -> PostPhase:
            self.decisions.append(change.decision)
            if change.decision == "approved":
                return PostPhase.SCHEDULED
            return PostPhase.REJECTED

        return [
            decide_approval,
            load_post_plan,
            start_publishing,
            apply_schedule_change,
            record_target_failure,
            finalize_post,
        ]

    def publisher(self, platform: str) -> list[object]:
        @activity.defn(name="publish_target")
        async def publish_target(input: PublishTargetInput) -> TargetOutcome:
            self.publishing.set()
            if self.hold is not None:
                await self.hold.wait()
            tried = self.attempts[input.target_id] = self.attempts.get(input.target_id, 0) + 1
            if platform == self.fail_platform and (
                self.fail_times is None or tried <= self.fail_times
            ):
                raise ApplicationError(
                    f"service unavailable ({tried})", type="platform_unavailable"
                )
            self.published_at[input.target_id] = await self.env.get_current_time()
            return TargetOutcome(target_id=input.target_id, status=TargetStatus.PUBLISHED)

        @activity.defn(name="publish_targets")
        async def publish_targets(input: PublishBatchInput) -> list[TargetAttempt]:
            attempts = []
            for target in input.targets:
                one = PublishTargetInput(post_id=input.post_id, target_id=target.id)
                try:
                    outcome = await publish_target(one)
                except ApplicationError as err:
                    attempts.append(
                        TargetAttempt(
                            target_id=target.id, error_code=err.type, error_message=err.message
                        )
                    )
                else:
                    attempts.append(TargetAttempt(target_id=target.id, outcome=outcome))
            return attempts

        return [publish_target, publish_targets]


@contextlib.asynccontextmanager
async def workers_for(
    env: WorkflowEnvironment, fake: FakeActivities, queue: str
) -> AsyncIterator[None]:
    """The post workflow on `queue` and a publisher per platform queue, all faked by name."""
    workers = [
        Worker(
            env.client, task_queue=queue, workflows=[PostWorkflow], activities=fake.activities()
        ),
        *(
            Worker(
                env.client,
                task_queue=names.platform_task_queue(queue, platform),
                activities=fake.publisher(platform),
            )
            for platform in ("mastodon", "x")
        ),
    ]
    async with contextlib.AsyncExitStack() as stack:
        for worker in workers:
            await stack.enter_async_context(worker)
        yield


async def _run(
    env: WorkflowEnvironment,
    fake: FakeActivities,
    steer: object = None,
    *,
    lean_publish: bool = False,
    local_steps: bool = False,
    batch_publish: bool = False,
    histories: list[WorkflowHistory] | None = None,
) -> tuple[PostStatus, FakeActivities]:
    queue = f"wf-{uuid.uuid4().hex[:8]}"
    async with workers_for(env, fake, queue):
        handle = await env.client.start_workflow(
            PostWorkflow.run,
            PostWorkflowInput(
                post_id=str(uuid.uuid4()),
                lean_publish=lean_publish,
                local_steps=local_steps,
                batch_publish=batch_publish,
            ),
            id=f"post/{uuid.uuid4()}",
            task_queue=queue,
        )
        if steer is not None:
            await steer(handle)  # type: ignore[operator]
        result = await handle.result()
        history = await handle.fetch_history()
        if histories is not None:
            histories.append(history)
        if local_steps:
            # Only publishing is dispatched by the server; the database steps left markers.
            assert set(_activities(history)) <= {"publish_target", "publish_targets"}
        await Replayer(
            workflows=[PostWorkflow], data_converter=pydantic_data_converter
        ).replay_workflow(history)
        return result.status, fake


def _activities(history: WorkflowHistory) -> list[str]:
    return [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in history.events
        if e.HasField("activity_task_scheduled_event_attributes")
    ]


async def test_publishes_every_target_at_the_scheduled_time(
    env: WorkflowEnvironment, local_steps: bool
) -> None:
    at = await env.get_current_time() + timedelta(hours=3)
    status, fake = await _run(env, FakeActivities(env, at), local_steps=local_steps)
    assert status == PostStatus.PUBLISHED
    assert set(fake.published_at) == {"t-mastodon", "t-x"}
    for moment in fake.published_at.values():
        assert at <= moment < at + timedelta(seconds=5)


async def test_reschedule_moves_the_timer_each_time(
    env: WorkflowEnvironment, local_steps: bool
) -> None:
    start = await env.get_current_time()
    final = start + timedelta(hours=5)

    async def steer(handle: WorkflowHandle[PostWorkflow, object]) -> None:
        for hours in (2, 9, 5):
            await handle.execute_update(
                PostWorkflow.reschedule,
                RescheduleRequest(scheduled_at=start + timedelta(hours=hours)),
            )

    status, fake = await _run(
        env, FakeActivities(env, start + timedelta(hours=1)), steer, local_steps=local_steps
    )
    assert status == PostStatus.PUBLISHED
    assert [c.kind for c in fake.changes] == ["reschedule"] * 3
    for moment in fake.published_at.values():
        assert final <= moment < final + timedelta(seconds=5)


async def test_cancel_stops_the_post_before_it_publishes(
    env: WorkflowEnvironment, local_steps: bool
) -> None:
    at = await env.get_current_time() + timedelta(hours=1)

    async def steer(handle: WorkflowHandle[PostWorkflow, object]) -> None:
        await handle.execute_update(PostWorkflow.cancel)

    status, fake = await _run(env, FakeActivities(env, at), steer, local_steps=local_steps)
    assert status == PostStatus.CANCELLED
    assert fake.published_at == {}


async def test_publish_now_skips_the_wait(env: WorkflowEnvironment, local_steps: bool) -> None:
    start = await env.get_current_time()

    async def steer(handle: WorkflowHandle[PostWorkflow, object]) -> None:
        await handle.execute_update(PostWorkflow.publish_now)

    status, fake = await _run(
        env, FakeActivities(env, start + timedelta(days=30)), steer, local_steps=local_steps
    )
    assert status == PostStatus.PUBLISHED
    for moment in fake.published_at.values():
        assert moment < start + timedelta(minutes=1)


async def test_a_target_that_keeps_failing_is_recorded_failed_and_the_post_partial(
    env: WorkflowEnvironment, local_steps: bool
) -> None:
    at = await env.get_current_time() + timedelta(minutes=1)
    status, fake = await _run(
        env, FakeActivities(env, at, fail_platform="x"), local_steps=local_steps
    )
    assert status == PostStatus.PARTIAL
    assert [(f.target_id, f.code) for f in fake.failures] == [("t-x", "platform_unavailable")]
    assert "t-mastodon" in fake.published_at


async def test_retryable_errors_are_retried_until_the_deadline_not_a_count(
    env: WorkflowEnvironment,
) -> None:
    """A flaky hour loses nothing: with no attempt cap, a target that fails twelve times
    publishes on the thirteenth; one that never recovers fails once its deadline has passed,
    with the last error the platform gave."""
    at = await env.get_current_time() + timedelta(minutes=1)
    flaky = FakeActivities(
        env, at, fail_platform="x", fail_times=12, max_attempts=0, publish_deadline_s=3600
    )
    status, fake = await _run(env, flaky, lean_publish=True, local_steps=True)
    assert status == PostStatus.PUBLISHED, fake.failures
    assert fake.attempts["t-x"] == 13
    began = await env.get_current_time()
    broken = FakeActivities(env, began, fail_platform="x", max_attempts=0, publish_deadline_s=3600)
    status, fake = await _run(env, broken, lean_publish=True, local_steps=True)
    assert status == PostStatus.PARTIAL
    [failure] = fake.failures
    assert failure.code == "platform_unavailable"
    assert failure.message == f"service unavailable ({fake.attempts['t-x']})"
    assert fake.attempts["t-x"] > 20  # waits of 2, 4, ... 120 s fill the hour
    # Temporal gives up as soon as the next wait (at most 120 s here) would cross the deadline.
    assert await env.get_current_time() - began >= timedelta(hours=1) - timedelta(seconds=120)


async def test_changes_are_refused_once_publishing_has_begun(
    env: WorkflowEnvironment, local_steps: bool
) -> None:
    # Due at once: time only skips while the test awaits a result, and it awaits updates here.
    at = await env.get_current_time()
    fake = FakeActivities(env, at, hold=asyncio.Event())
    refused: list[str] = []

    async def steer(handle: WorkflowHandle[PostWorkflow, object]) -> None:
        await fake.publishing.wait()
        for update in (PostWorkflow.cancel, PostWorkflow.publish_now):
            try:
                await handle.execute_update(update)
            except WorkflowUpdateFailedError as err:
                refused.append(str(err.cause))
        assert fake.hold is not None
        fake.hold.set()

    status, _ = await _run(env, fake, steer, local_steps=local_steps)
    assert status == PostStatus.PUBLISHED
    assert len(refused) == 2 and all("publishing" in reason for reason in refused)
    assert fake.changes == []


async def test_an_unanswered_approval_expires(env: WorkflowEnvironment, local_steps: bool) -> None:
    at = await env.get_current_time() + timedelta(hours=3)
    fake = FakeActivities(env, at, needs_approval=True, approval_timeout_s=3600)
    status, _ = await _run(env, fake, local_steps=local_steps)
    assert status == PostStatus.REJECTED
    assert fake.decisions == ["expired"] and fake.published_at == {}


async def test_a_late_approval_publishes_at_once(
    env: WorkflowEnvironment, local_steps: bool
) -> None:
    start = await env.get_current_time()
    fake = FakeActivities(env, start + timedelta(hours=1), needs_approval=True)
    approved_at: list[datetime] = []

    async def steer(handle: WorkflowHandle[PostWorkflow, object]) -> None:
        await env.sleep(timedelta(hours=2))
        approved_at.append(await env.get_current_time())
        await handle.execute_update(PostWorkflow.approve, ApprovalDecision(actor_id="reviewer"))

    status, _ = await _run(env, fake, steer, local_steps=local_steps)
    assert status == PostStatus.PUBLISHED
    assert fake.decisions == ["approved"]
    for moment in fake.published_at.values():
        assert approved_at[0] <= moment < approved_at[0] + timedelta(seconds=5)


async def test_the_author_cannot_approve_and_a_rejection_is_final(
    env: WorkflowEnvironment, local_steps: bool
) -> None:
    at = await env.get_current_time() + timedelta(hours=1)
    fake = FakeActivities(env, at, needs_approval=True)
    refused: list[str] = []

    async def steer(handle: WorkflowHandle[PostWorkflow, object]) -> None:
        try:
            await handle.execute_update(PostWorkflow.approve, ApprovalDecision(actor_id="author"))
        except WorkflowUpdateFailedError as err:
            refused.append(str(err.cause))
        await handle.execute_update(
            PostWorkflow.reject, ApprovalDecision(actor_id="reviewer", reason="off-brand")
        )

    status, _ = await _run(env, fake, steer, local_steps=local_steps)
    assert status == PostStatus.REJECTED
    assert refused and "author" in refused[0]
    assert fake.decisions == ["rejected"] and fake.published_at == {}


async def test_a_run_the_api_starts_takes_the_new_paths_without_patch_markers(
    env: WorkflowEnvironment,
) -> None:
    """The marker of `workflow.patched` costs every post a history event and an upsert of
    TemporalChangeVersion; runs started with `lean_publish` and `batch_publish` skip both,
    others still record them, and both kinds replay."""
    at = await env.get_current_time() + timedelta(minutes=1)
    histories: list[WorkflowHistory] = []
    for flags in (True, False):
        status, fake = await _run(
            env,
            FakeActivities(env, at),
            lean_publish=flags,
            batch_publish=flags,
            histories=histories,
        )
        assert status == PostStatus.PUBLISHED
        assert set(fake.published_at) == {"t-mastodon", "t-x"}
        # The lean path asks the plan to start a post that is already due.
        assert [r.start_if_due for r in fake.plan_requests] == [True]
    flagged, unflagged = histories

    def markers(history: WorkflowHistory) -> int:
        return sum(1 for e in history.events if e.HasField("marker_recorded_event_attributes"))

    assert markers(flagged) == 0 and markers(unflagged) == 2
    assert _activities(flagged) == _activities(unflagged)
    # One publish activity per platform of the batch (mastodon, x), not one per target.
    publishing = [name for name in _activities(flagged) if name.startswith("publish")]
    assert publishing == ["publish_targets", "publish_targets"]


RECORDED = {path.stem: path.read_text() for path in sorted(HISTORIES.glob("*.json"))}


@pytest.mark.parametrize("name", list(RECORDED))
async def test_recorded_histories_still_replay(name: str) -> None:
    """A workflow change that breaks determinism for runs already in flight fails here."""
    assert RECORDED, "no recorded histories"
    await Replayer(
        workflows=[PostWorkflow], data_converter=pydantic_data_converter
    ).replay_workflow(WorkflowHistory.from_json(name, RECORDED[name]))
