"""Sleeping scale: N posts (20,000; quick 2,000) with one target each, scheduled 1-2 hours
ahead, created through the API of Herald's own processes (bench/processes.py): the creation
rate, the resident memory of the worker and of the Temporal server while they all sleep, the
history one sleeping post keeps on the server, and the lateness of probe posts (20, one a
second) that fall due meanwhile (the emulator's `created_at` minus `scheduled_at`).

Goals (the issue): the worker ≤ 300 MB resident, probe lateness p99 ≤ 1 s. What bounds the
worker is its sticky workflow cache (Temporal evicts the least recently used run beyond
`max_cached_workflows`; a run that wakes later is rebuilt from its history), not the number
of sleeping posts.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psutil

from bench.harness import BenchStack, open_stack
from bench.processes import herald_processes
from bench.report import at_most, row
from bench.stamps import iso, parse
from bench.stats import summary_ms
from herald import temporal as names

NAME = "sleeping_scale"
DEFAULT_POSTS = 20_000
QUICK_POSTS = 2_000
PROBES = 20
QUICK_PROBES = 5
PROBE_LEAD_S = 5.0
SUBMIT_CONCURRENCY = 20
PROGRESS_EVERY = 1000
SLEEP_AHEAD = (timedelta(hours=1), timedelta(hours=2))
HISTORY_SAMPLE = 5
SETTLE_TIMEOUT_S = 120.0
# The worker has taken in every new post (its first workflow task: load the plan, start the
# timer) once its CPU stays under QUIET_PERCENT for QUIET_SAMPLES seconds in a row.
QUIET_PERCENT = 10.0
QUIET_SAMPLES = 3
QUIET_TIMEOUT_S = 900.0
GOAL_WORKER_MB = 300.0
GOAL_P99_MS = 1000.0


class MemoryWatch:
    """The largest resident set seen of the worker and of the Temporal server, sampled every
    half second while it runs."""

    def __init__(self, worker_pid: int) -> None:
        self._worker = psutil.Process(worker_pid)
        me = psutil.Process()
        self._servers = [p for p in me.children(recursive=True) if "temporal" in p.name()]
        self.peak = {"worker_mb": 0.0, "temporal_server_mb": 0.0}
        self._task: asyncio.Task[None] | None = None

    def sample(self) -> dict[str, float]:
        now = {"worker_mb": _rss_mb([self._worker]), "temporal_server_mb": _rss_mb(self._servers)}
        for key, value in now.items():
            self.peak[key] = max(self.peak[key], value)
        return now

    async def _run(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(0.5)

    def __enter__(self) -> MemoryWatch:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *_: object) -> None:
        if self._task is not None:
            self._task.cancel()


def _rss_mb(processes: list[psutil.Process]) -> float:
    total = 0
    for process in processes:
        with contextlib.suppress(psutil.Error):
            total += process.memory_info().rss
    return round(total / 2**20, 1)


async def _create(
    api: httpx.AsyncClient, headers: dict[str, str], account: str, count: int
) -> tuple[float, list[str]]:
    """Creates `count` posts due 1-2 hours ahead; (seconds, their ids). Prints progress."""
    gate = asyncio.Semaphore(SUBMIT_CONCURRENCY)
    rng = random.Random(7)
    now = datetime.now(UTC)
    span = (SLEEP_AHEAD[1] - SLEEP_AHEAD[0]).total_seconds()
    due = [now + SLEEP_AHEAD[0] + timedelta(seconds=rng.uniform(0, span)) for _ in range(count)]
    ids: list[str] = []
    started = time.perf_counter()

    async def one(index: int) -> None:
        async with gate:
            response = await api.post(
                "/v1/posts",
                json={
                    "content": f"bench sleeping #{index}",
                    "targets": [{"account_id": account}],
                    "scheduled_at": iso(due[index]),
                },
                headers=headers,
            )
        if response.status_code != 201:
            raise RuntimeError(f"POST /v1/posts answered {response.status_code}: {response.text}")
        ids.append(str(response.json()["id"]))
        if len(ids) % PROGRESS_EVERY == 0:
            elapsed = time.perf_counter() - started
            print(
                f"[{NAME}] {len(ids)}/{count} created ({len(ids) / elapsed:.0f} posts/s)",
                flush=True,
            )

    await asyncio.gather(*(one(i) for i in range(count)))
    return time.perf_counter() - started, ids


async def _settled(worker: psutil.Process) -> float:
    """Waits until the worker is quiet (every post's first task done); the seconds it took."""
    started = time.perf_counter()
    quiet = 0
    worker.cpu_percent()
    while quiet < QUIET_SAMPLES:
        await asyncio.sleep(1.0)
        quiet = quiet + 1 if worker.cpu_percent() < QUIET_PERCENT else 0
        if time.perf_counter() - started > QUIET_TIMEOUT_S:
            raise RuntimeError(f"the worker was still busy {QUIET_TIMEOUT_S:.0f} s after creating")
    return time.perf_counter() - started - QUIET_SAMPLES


async def _probes(
    stack: BenchStack,
    api: httpx.AsyncClient,
    headers: dict[str, str],
    account: str,
    username: str,
    count: int,
) -> list[float]:
    """`count` posts due one a second from PROBE_LEAD_S ahead; their lateness in seconds."""
    start = (datetime.now(UTC) + timedelta(seconds=PROBE_LEAD_S)).replace(microsecond=0)
    run = uuid.uuid4().hex[:8]
    texts = {f"bench probe {run} #{i}": start + timedelta(seconds=i) for i in range(count)}
    for text, at in texts.items():
        response = await api.post(
            "/v1/posts",
            json={"content": text, "targets": [{"account_id": account}], "scheduled_at": iso(at)},
            headers=headers,
        )
        if response.status_code != 201:
            raise RuntimeError(f"POST /v1/posts answered {response.status_code}: {response.text}")
    last = max(texts.values())
    await asyncio.sleep(max(0.0, (last - datetime.now(UTC)).total_seconds()))
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while True:
        seen = {p["text"]: parse(p["created_at"]) for p in await stack.emulator_posts(username)}
        if all(text in seen for text in texts):
            return [(seen[text] - at).total_seconds() for text, at in texts.items()]
        if time.monotonic() > deadline:
            missing = len([t for t in texts if t not in seen])
            raise RuntimeError(f"{missing} of {count} probe posts never reached the platform")
        await asyncio.sleep(0.25)


async def _history_bytes(stack: BenchStack, post_ids: list[str]) -> dict[str, float]:
    """What one sleeping post keeps on the server: events and bytes of its history."""
    events = 0
    size = 0
    sample = post_ids[:: max(1, len(post_ids) // HISTORY_SAMPLE)][:HISTORY_SAMPLE]
    for post_id in sample:
        history = await stack.client.get_workflow_handle(
            names.post_workflow_id(post_id)
        ).fetch_history()
        events += len(history.events)
        size += sum(event.ByteSize() for event in history.events)
    count = max(1, len(sample))
    return {"events": round(events / count, 1), "bytes": round(size / count)}


async def run(args: argparse.Namespace) -> dict[str, Any]:
    count = getattr(args, "sleeping", None) or (QUICK_POSTS if args.quick else DEFAULT_POSTS)
    probes = QUICK_PROBES if args.quick else PROBES
    async with open_stack(args) as stack:
        print(
            f"[{NAME}] {count} posts due 1-2 h ahead on {stack.database}, then {probes} probe "
            "posts due meanwhile; Herald in processes of its own",
            flush=True,
        )
        tenant = await stack.tenant_with_accounts(2)
        sleeper, prober = (str(a) for a in tenant.account_ids)
        queue = f"{stack.settings.temporal_task_queue}-sleeping"
        async with herald_processes(stack.settings, queue) as (url, children):
            worker = next(c for c in children.children if c.name == "worker")
            assert worker.process is not None
            worker_process = psutil.Process(worker.process.pid)
            async with httpx.AsyncClient(base_url=url, timeout=60) as api:
                with MemoryWatch(worker.process.pid) as memory:
                    idle = memory.sample()
                    cpu_before = children.cpu_seconds()
                    creating_s, ids = await _create(api, tenant.headers, sleeper, count)
                    settle_s = await _settled(worker_process)
                    cpu = {
                        name: round((spent - cpu_before[name]) * 1000 / count, 2)
                        for name, spent in children.cpu_seconds().items()
                    }
                    sleeping = memory.sample()
                    lateness = await _probes(
                        stack, api, tenant.headers, prober, tenant.usernames[1], probes
                    )
                    history = await _history_bytes(stack, ids)
                    peak = dict(memory.peak)
    probe = summary_ms(lateness)
    rate = count / creating_s
    worker_met = at_most(GOAL_WORKER_MB)(peak["worker_mb"])
    probe_met = at_most(GOAL_P99_MS)(probe["p99_ms"])
    print(
        f"[{NAME}] created {count} in {creating_s:.1f} s ({rate:.0f} posts/s); the worker was "
        f"busy {settle_s:.1f} s more; CPU ms per created post: "
        f"{', '.join(f'{name} {ms}' for name, ms in cpu.items())}; resident MB idle "
        f"→ sleeping → peak: worker {idle['worker_mb']} → {sleeping['worker_mb']} → "
        f"{peak['worker_mb']} (goal ≤ {GOAL_WORKER_MB:.0f}: {'met' if worker_met else 'NOT met'}), "
        f"Temporal server {idle['temporal_server_mb']} → {sleeping['temporal_server_mb']} → "
        f"{peak['temporal_server_mb']}; one sleeping post's history: {history['events']} events, "
        f"{history['bytes']} bytes; probe lateness p50 {probe['p50_ms']} ms, p99 "
        f"{probe['p99_ms']} ms (goal ≤ {GOAL_P99_MS:.0f}: {'met' if probe_met else 'NOT met'})",
        flush=True,
    )
    return {
        "name": NAME,
        "database": stack.database,
        "params": {"posts": count, "probes": probes},
        "creating_s": round(creating_s, 1),
        "posts_per_s": round(rate, 1),
        "settle_s": round(settle_s, 1),
        "cpu_ms_per_post": cpu,
        "memory_mb": {"idle": idle, "sleeping": sleeping, "peak": peak},
        "history_per_post": history,
        "probe_lateness": probe,
        "met": worker_met and probe_met,
        "rows": [
            row(
                "worker resident MB, peak",
                peak["worker_mb"],
                idle["worker_mb"],
                None,
                f"≤ {GOAL_WORKER_MB:.0f} MB",
                worker_met,
                baseline_label="idle worker",
            ),
            row(
                "probe lateness p99 (ms)",
                probe["p99_ms"],
                None,
                None,
                f"≤ {GOAL_P99_MS:.0f} ms",
                probe_met,
                baseline_label="",
            ),
        ],
    }
