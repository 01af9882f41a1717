"""Herald and the baseline side by side, as the throughput and burst benchmarks drive them:
either as the test suite builds them (the API through ASGI and every worker in the benchmark's
process) or as they are deployed (bench/processes.py: each in processes of its own)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx

from bench.baseline_worker import BaselineQueues, running_baseline
from bench.harness import BenchStack
from bench.processes import Children, baseline_process, herald_processes


@dataclass
class HeraldSide:
    """Where Herald's API answers, and its processes when it runs in its own."""

    api: httpx.AsyncClient
    children: Children | None = None


@dataclass
class BaselineSide:
    queues: BaselineQueues
    children: Children | None = None


@contextlib.asynccontextmanager
async def sides_for(
    stack: BenchStack, *, in_process: bool = False
) -> AsyncIterator[tuple[HeraldSide, BaselineSide]]:
    """Both sides, either as the test suite builds them (API through ASGI and every worker in
    this process) or as they are deployed (bench/processes.py)."""
    if in_process:
        async with running_baseline(stack.settings, stack.client) as queues:
            yield HeraldSide(stack.api), BaselineSide(queues)
        return
    queue = f"{stack.settings.temporal_task_queue}-processes"
    async with (
        herald_processes(stack.settings, queue) as (url, herald_children),
        httpx.AsyncClient(base_url=url, timeout=60) as api,
        baseline_process(stack.settings) as (queues, baseline_children),
    ):
        yield HeraldSide(api, herald_children), BaselineSide(queues, baseline_children)
