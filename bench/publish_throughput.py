"""Publish throughput: N posts x 3 Mastodon accounts created through the API with
`publish_now: true`; targets published per second until every post is `published`.

Baseline, on the same Temporal server and emulator: N bare workflows started concurrently, each
running 3 activities that make one POST /api/v1/statuses with httpx — the same platform work
without Herald's API and database. Both sides use fresh emulator accounts and the same worker
limits (settings.platform_concurrency concurrent platform activities) and submit with the same
client concurrency. The goal (the issue): Herald ≥ 0.8 x baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from collections import Counter
from typing import Any

from sqlalchemy import func, select
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from bench.baseline_workflows import FanOutInput, FanOutWorkflow
from bench.harness import (
    BenchStack,
    BenchTenant,
    CpuMeter,
    cpu_ms_per,
    measuring_engine,
    open_stack,
)
from bench.report import at_least, row
from bench.sides import BaselineSide, HeraldSide, sides_for
from bench.stats import ratio, summary_ms
from herald import temporal as names
from herald.db.models import Post, PostTarget
from herald.status import TargetStatus

NAME = "publish_throughput"
ACCOUNTS = 3
DEFAULT_POSTS = 200
QUICK_POSTS = 30
DEFAULT_ROUNDS = 5
QUICK_ROUNDS = 1
# Enough for every connection, worker slot and cache the measured runs use to exist already:
# with 5, the first round (Herald's first run at full concurrency) was the lowest of nearly
# every run.
WARMUP_POSTS = 60
# Requests (or workflow starts) in flight at once from the benchmark's client, for both sides.
DEFAULT_SUBMIT_CONCURRENCY = 20
POLL_S = 0.05
# Workflows of each run whose histories are read (after the clock stops) and counted.
HISTORY_SAMPLE = 10
TIMEOUT_S = 600.0
GOAL = 0.8


async def run_herald(
    stack: BenchStack,
    side: HeraldSide,
    posts: int,
    concurrency: int,
    tenant: BenchTenant | None = None,
) -> dict[str, Any]:
    """One Herald run: `posts` x the tenant's accounts (default: a fresh tenant with ACCOUNTS
    accounts; webhook_delivery passes one whose workspace has endpoints)."""
    tenant = tenant or await stack.tenant_with_accounts(ACCOUNTS)
    run = uuid.uuid4().hex[:8]
    targets = [{"account_id": str(a)} for a in tenant.account_ids]
    expected = posts * len(tenant.account_ids)
    gate = asyncio.Semaphore(concurrency)
    submitted_at: list[float] = []
    create_latency: list[float] = []

    async def create(index: int) -> str:
        async with gate:
            sent = time.perf_counter()
            response = await side.api.post(
                "/v1/posts",
                json={
                    "content": f"bench throughput {run} #{index}",
                    "targets": targets,
                    "publish_now": True,
                },
                headers=tenant.headers,
            )
            submitted_at.append(time.perf_counter())
            create_latency.append(submitted_at[-1] - sent)
        if response.status_code != 201:
            raise RuntimeError(f"POST /v1/posts answered {response.status_code}: {response.text}")
        return str(response.json()["id"])

    async with measuring_engine(stack, read_only=True) as engine:
        counts_query = (
            select(PostTarget.status, func.count())
            .join(Post, Post.id == PostTarget.post_id)
            .where(Post.workspace_id == tenant.workspace_id)
            .group_by(PostTarget.status)
        )
        cpu = CpuMeter(side.children)
        cpu.start()
        started = time.perf_counter()
        creating = asyncio.gather(*(create(i) for i in range(posts)))
        try:
            elapsed, spent, polls = await _until_published(
                engine, counts_query, expected, creating, started, cpu
            )
        except BaseException:
            creating.cancel()
            raise
        post_ids = await creating
        # Per target: from the post's creation to the platform's created_at.
        latency_rows = await _rows(
            engine,
            select(Post.created_at, PostTarget.published_at)
            .join(Post, Post.id == PostTarget.post_id)
            .where(Post.workspace_id == tenant.workspace_id),
        )
    latencies = [
        max(0.0, (published - created).total_seconds()) for created, published in latency_rows
    ]
    # At most once per target: every emulator account holds exactly one status per post.
    for username in tenant.usernames:
        texts = [p["text"] for p in await stack.emulator_posts(username)]
        if len(texts) != posts or len(set(texts)) != posts:
            raise RuntimeError(f"@{username} got {len(texts)} statuses for {posts} posts")
    return {
        "targets": expected,
        "seconds": round(elapsed, 3),
        "targets_per_s": round(expected / elapsed, 2),
        "submit_seconds": round(max(submitted_at) - started, 3),
        "create_request": summary_ms(create_latency),
        "db_polls": polls,
        "create_to_published": summary_ms(latencies),
        "cpu_ms_per_target": _per_target(spent, expected),
        "history_events": await _history_events(
            stack.client, [names.post_workflow_id(p) for p in _sample(post_ids)]
        ),
    }


def _sample(items: list[str]) -> list[str]:
    step = max(1, len(items) // HISTORY_SAMPLE)
    return items[::step][:HISTORY_SAMPLE]


async def _history_events(client: Client, workflow_ids: list[str]) -> dict[str, Any]:
    """Events per workflow (the mean over the sample) and how many of each type: what the
    Temporal server persisted and dispatched for one post."""
    by_type: Counter[str] = Counter()
    total = 0
    for workflow_id in workflow_ids:
        handle = client.get_workflow_handle(workflow_id)
        await handle.result()
        history = await handle.fetch_history()
        total += len(history.events)
        by_type.update(
            EventType.Name(e.event_type).removeprefix("EVENT_TYPE_") for e in history.events
        )
    count = max(1, len(workflow_ids))
    return {
        "per_workflow": round(total / count, 1),
        "by_type": {name: round(n / count, 1) for name, n in by_type.most_common()},
    }


async def _until_published(
    engine: Any,
    counts_query: Any,
    expected: int,
    creating: asyncio.Future[Any],
    started: float,
    cpu: CpuMeter,
) -> tuple[float, dict[str, float], int]:
    """Polls the targets' states in bulk until `expected` are published: (seconds, CPU, polls)."""
    polls = 0
    while True:
        async with engine.connect() as connection:
            rows = (await connection.execute(counts_query)).all()
        counts = Counter({str(state): int(count) for state, count in rows})
        polls += 1
        now = time.perf_counter()
        if counts[TargetStatus.FAILED] or counts[TargetStatus.CANCELLED]:
            raise RuntimeError(f"targets did not publish: {dict(counts)}")
        if counts[TargetStatus.PUBLISHED] >= expected:
            return now - started, cpu.stop(), polls
        if creating.done() and creating.exception() is not None:
            raise RuntimeError("creating posts failed") from creating.exception()
        if now - started > TIMEOUT_S:
            raise RuntimeError(f"not all published after {TIMEOUT_S:.0f} s: {dict(counts)}")
        await asyncio.sleep(POLL_S)


def _per_target(spent: dict[str, float], targets: int) -> dict[str, float]:
    """Milliseconds per target: `process` (the benchmark's), `own_processes` (the side's,
    also by name: `api`, `worker`, `baseline`) and `temporal_server`."""
    per_target = cpu_ms_per(spent, targets)
    per_target["own_processes"] = per_target.pop("children")
    return per_target


async def _rows(engine: Any, query: Any) -> list[Any]:
    async with engine.connect() as connection:
        return list((await connection.execute(query)).all())


async def _baseline(
    stack: BenchStack, side: BaselineSide, posts: int, concurrency: int
) -> dict[str, Any]:
    usernames, destinations = await stack.emulator_destinations(ACCOUNTS)
    run = uuid.uuid4().hex[:8]
    gate = asyncio.Semaphore(concurrency)
    workflow_ids = [f"bench-fanout/{run}/{index}" for index in range(posts)]

    async def one(index: int) -> list[str]:
        async with gate:
            handle = await stack.client.start_workflow(
                FanOutWorkflow.run,
                FanOutInput(
                    key=f"bench/{run}/{index}",
                    text=f"bench baseline {run} #{index}",
                    destinations=destinations,
                    activity_queue=side.queues.activities,
                ),
                id=workflow_ids[index],
                task_queue=side.queues.workflows,
            )
        return await handle.result()

    cpu = CpuMeter(side.children)
    cpu.start()
    started = time.perf_counter()
    results = await asyncio.gather(*(one(i) for i in range(posts)))
    elapsed = time.perf_counter() - started
    spent = cpu.stop()
    made = sum(len(r) for r in results)
    for username in usernames:
        if len(await stack.emulator_posts(username)) != posts:
            raise RuntimeError(f"baseline: @{username} did not get {posts} statuses")
    return {
        "targets": made,
        "seconds": round(elapsed, 3),
        "targets_per_s": round(made / elapsed, 2),
        "cpu_ms_per_target": _per_target(spent, made),
        "history_events": await _history_events(stack.client, _sample(workflow_ids)),
    }


def _cpu(result: dict[str, Any]) -> str:
    cpu = result["cpu_ms_per_target"]
    named = ", ".join(
        f"{name} {ms}" for name, ms in cpu.items() if name in ("api", "worker", "baseline")
    )
    own = (
        f"{cpu['own_processes']} ms in its own processes ({named}), "
        if cpu["own_processes"]
        else ""
    )
    return f"{own}{cpu['process']} ms in this process, {cpu['temporal_server']} ms in Temporal"


def _events(result: dict[str, Any]) -> str:
    events = result["history_events"]
    kinds = ", ".join(f"{name.lower()} {n:g}" for name, n in events["by_type"].items())
    return f"{events['per_workflow']:g} history events per workflow ({kinds})"


def _parameters(args: argparse.Namespace) -> tuple[int, int, int]:
    posts = getattr(args, "posts", None) or (QUICK_POSTS if args.quick else DEFAULT_POSTS)
    concurrency = getattr(args, "concurrency", None) or DEFAULT_SUBMIT_CONCURRENCY
    rounds = getattr(args, "rounds", None) or (QUICK_ROUNDS if args.quick else DEFAULT_ROUNDS)
    return posts, concurrency, rounds


def _report_baseline(result: dict[str, Any]) -> None:
    print(
        f"[{NAME}] baseline: {result['targets']} targets in {result['seconds']} s "
        f"= {result['targets_per_s']} targets/s; CPU per target: {_cpu(result)}; "
        f"{_events(result)}",
        flush=True,
    )


def _report_herald(result: dict[str, Any], posts: int) -> None:
    print(
        f"[{NAME}] Herald: {result['targets']} targets in {result['seconds']} s "
        f"= {result['targets_per_s']} targets/s (all {posts} creates answered after "
        f"{result['submit_seconds']} s, POST /v1/posts p50 "
        f"{result['create_request']['p50_ms']} ms, p99 {result['create_request']['p99_ms']} ms; "
        f"create→published p50 "
        f"{result['create_to_published']['p50_ms']} ms, "
        f"p99 {result['create_to_published']['p99_ms']} ms); CPU per target: "
        f"{_cpu(result)}; {_events(result)}",
        flush=True,
    )


async def _round(
    stack: BenchStack,
    sides: tuple[HeraldSide, BaselineSide],
    index: int,
    posts: int,
    concurrency: int,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """One baseline run and one Herald run, back to back. The order alternates between
    rounds, so a machine that speeds up or slows down during the run favours neither side."""
    baseline_first = index % 2 == 0
    if baseline_first:
        print(f"[{NAME}] round {index + 1}: baseline, then Herald …", flush=True)
        baseline = await _baseline(stack, sides[1], posts, concurrency)
        _report_baseline(baseline)
    else:
        print(f"[{NAME}] round {index + 1}: Herald, then baseline …", flush=True)
    herald = await run_herald(stack, sides[0], posts, concurrency)
    _report_herald(herald, posts)
    if not baseline_first:
        baseline = await _baseline(stack, sides[1], posts, concurrency)
        _report_baseline(baseline)
    return herald, baseline


async def run(args: argparse.Namespace) -> dict[str, Any]:
    posts, concurrency, rounds = _parameters(args)
    in_process = bool(getattr(args, "in_process", False))
    layout = "in this process" if in_process else "in processes of their own"
    async with open_stack(args) as stack:
        print(
            f"[{NAME}] {posts} posts x {ACCOUNTS} accounts on {stack.database}, {rounds} "
            f"round(s); workers {layout}; {stack.settings.platform_concurrency} concurrent "
            f"platform activities, {concurrency} submissions in flight",
            flush=True,
        )
        async with sides_for(stack, in_process=in_process) as sides:
            warmup = min(WARMUP_POSTS, posts)
            print(f"[{NAME}] warming up both paths ({warmup} posts each)", flush=True)
            await _baseline(stack, sides[1], warmup, concurrency)
            await run_herald(stack, sides[0], warmup, concurrency)
            results = [await _round(stack, sides, i, posts, concurrency) for i in range(rounds)]
    ratios = [ratio(h["targets_per_s"], b["targets_per_s"]) for h, b in results]
    # Each round's two runs saw the same machine; the median round is the figure.
    middle = sorted(range(rounds), key=lambda i: ratios[i])[(rounds - 1) // 2]
    herald, baseline = results[middle]
    value = ratios[middle]
    met = at_least(GOAL)(value)
    print(
        f"[{NAME}] ratio Herald/baseline per round: "
        f"{', '.join(f'{r:.2f}' for r in ratios)}; median {value:.2f} (goal ≥ {GOAL}: "
        f"{'met' if met else 'NOT met'})",
        flush=True,
    )
    return {
        "name": NAME,
        "database": stack.database,
        "params": {
            "layout": "in_process" if in_process else "processes",
            "posts": posts,
            "rounds": rounds,
            "accounts": ACCOUNTS,
            "submit_concurrency": concurrency,
            "platform_concurrency": stack.settings.platform_concurrency,
        },
        "herald": herald,
        "baseline": baseline,
        "round_ratios": [round(r, 3) for r in ratios],
        "ratio": round(value, 3),
        "goal": f">= {GOAL}",
        "met": met,
        "rows": [
            row(
                "targets published / s",
                herald["targets_per_s"],
                baseline["targets_per_s"],
                value,
                f"≥ {GOAL}",
                met,
                baseline_label="bare workflows",
            )
        ],
    }
