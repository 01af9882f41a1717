"""Runs the baselines' worker: workflows on one queue, activities on another with the same cap
Herald's platform queues have (settings.platform_concurrency).

In the benchmark's process (`running_baseline`), or in a process of its own, as Herald's worker
runs: `python -m bench.baseline_worker --queue <name>` with the HERALD_* settings in the
environment; it prints `ready` once it polls and stops on SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Worker

from bench.baseline_activities import BaselineActivities
from bench.baseline_workflows import FanOutWorkflow, TimerWorkflow
from herald.gc_tuning import freeze_startup_objects
from herald.settings import Settings
from herald.workflow_modules import compile_workflow_modules_once


@dataclass(frozen=True)
class BaselineQueues:
    workflows: str
    activities: str


def baseline_queues(main: str | None = None) -> BaselineQueues:
    main = main or f"bench-baseline-{uuid.uuid4().hex[:8]}"
    return BaselineQueues(workflows=main, activities=f"{main}-platform-mastodon")


@contextlib.asynccontextmanager
async def running_baseline(
    settings: Settings, client: Client, main: str | None = None
) -> AsyncIterator[BaselineQueues]:
    queues = baseline_queues(main)
    # The same HTTP client settings as Herald's worker (worker.running_workers).
    http = httpx.AsyncClient(timeout=settings.platform_timeout_s, follow_redirects=False)
    activities = BaselineActivities(http)
    # As Herald's worker does for its own (herald/workflow_modules.py).
    compile_workflow_modules_once((FanOutWorkflow, TimerWorkflow))
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


async def _serve(queue: str) -> None:
    settings = Settings()
    client = await Client.connect(settings.temporal_address, data_converter=pydantic_data_converter)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with running_baseline(settings, client, queue):
        freeze_startup_objects()  # as Herald's worker does
        print("ready", flush=True)
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.baseline_worker")
    parser.add_argument("--queue", required=True, help="the workflows' task queue")
    asyncio.run(_serve(parser.parse_args().queue))


if __name__ == "__main__":
    main()
