"""Runs the baselines' worker: workflows on one queue, activities on another with the same cap
Herald's platform queues have (settings.platform_concurrency)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
from temporalio.client import Client
from temporalio.worker import Worker

from bench.baseline_activities import BaselineActivities
from bench.baseline_workflows import FanOutWorkflow, TimerWorkflow
from herald.settings import Settings
from herald.workflow_bytecode import compile_workflow_modules


@dataclass(frozen=True)
class BaselineQueues:
    workflows: str
    activities: str


@contextlib.asynccontextmanager
async def running_baseline(settings: Settings, client: Client) -> AsyncIterator[BaselineQueues]:
    main = f"bench-baseline-{uuid.uuid4().hex[:8]}"
    queues = BaselineQueues(workflows=main, activities=f"{main}-platform-mastodon")
    # The same HTTP client settings as Herald's worker (worker.running_workers).
    http = httpx.AsyncClient(timeout=settings.platform_timeout_s, follow_redirects=False)
    activities = BaselineActivities(http)
    # As Herald's worker does for its own (herald/workflow_bytecode.py).
    compile_workflow_modules((FanOutWorkflow, TimerWorkflow))
    workers = [
        # As Herald's main queue: workflows, and the activities that prepare a batch.
        Worker(
            client,
            task_queue=queues.workflows,
            workflows=[FanOutWorkflow, TimerWorkflow],
            activities=[activities.prepare],
        ),
        Worker(
            client,
            task_queue=queues.activities,
            activities=[activities.post_status, activities.record_time],
            max_concurrent_activities=settings.platform_concurrency,
        ),
    ]
    tasks = [asyncio.create_task(worker.run()) for worker in workers]
    try:
        yield queues
    finally:
        await asyncio.gather(*(worker.shutdown() for worker in workers), return_exceptions=True)
        await asyncio.gather(*tasks, return_exceptions=True)
        await http.aclose()
