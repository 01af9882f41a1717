"""Bare workflows the benchmarks compare Herald against (deterministic: no I/O, no clock but
workflow.now()). They run on a task queue of their own, with the same worker limits as Herald's."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from bench.baseline_activities import BaselineActivities, Destination, PostStatusInput

# The same limits as Herald's publish activity (workflows/post.py).
ACTIVITY_TIMEOUT = timedelta(minutes=2)
RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2), backoff_coefficient=2.0, maximum_attempts=4
)


@dataclass
class FanOutInput:
    key: str
    text: str
    destinations: list[Destination]
    activity_queue: str
    # Sleep on a durable timer until then after the batch step, as Herald's scheduled posts
    # load their plan and then wait (the burst benchmark).
    due: datetime | None = None


@workflow.defn(name="BenchFanOutWorkflow")
class FanOutWorkflow:
    """One post to several accounts with the activities Herald's post workflow runs: one that
    prepares the batch (Herald: load_post_plan, which also marks the targets publishing), then
    one per destination, concurrently. The first does no I/O here."""

    @workflow.run
    async def run(self, input: FanOutInput) -> list[str]:
        destinations = await workflow.execute_activity_method(
            BaselineActivities.prepare,
            input.destinations,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=RETRY,
        )
        if input.due is not None:
            remaining = input.due - workflow.now()
            if remaining > timedelta(0):
                await asyncio.sleep(remaining.total_seconds())
        calls = [
            workflow.execute_activity_method(
                BaselineActivities.post_status,
                PostStatusInput(
                    instance_url=d.instance_url,
                    token=d.token,
                    text=input.text,
                    idempotency_key=f"{input.key}/{index}",
                ),
                task_queue=input.activity_queue,
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=RETRY,
            )
            for index, d in enumerate(destinations)
        ]
        return list(await asyncio.gather(*calls))


@dataclass
class TimerInput:
    due: datetime
    activity_queue: str


@dataclass
class TimerResult:
    woke_at: datetime  # workflow.now() when the timer fired
    recorded_at: float  # time.time() in the activity that ran right after


@workflow.defn(name="BenchTimerWorkflow")
class TimerWorkflow:
    """Sleeps on a durable timer until `due`, then records the time in an activity.

    A first activity runs before the timer, as Herald's post workflow loads its plan first: the
    timer's length is computed from workflow.now() (when the workflow task started) but starts
    when the task completes, so computing it in the first task — which also builds the sandboxed
    instance, ~100 ms under load — would add that task's duration to the lateness."""

    @workflow.run
    async def run(self, input: TimerInput) -> TimerResult:
        await workflow.execute_activity_method(
            BaselineActivities.record_time,
            task_queue=input.activity_queue,
            start_to_close_timeout=timedelta(seconds=30),
        )
        remaining = input.due - workflow.now()
        if remaining > timedelta(0):
            await asyncio.sleep(remaining.total_seconds())
        woke_at = workflow.now()
        recorded_at = await workflow.execute_activity_method(
            BaselineActivities.record_time,
            task_queue=input.activity_queue,
            start_to_close_timeout=timedelta(seconds=30),
        )
        return TimerResult(woke_at=woke_at, recorded_at=recorded_at)
