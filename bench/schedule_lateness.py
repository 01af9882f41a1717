"""Schedule lateness: M posts scheduled at times spread over the next minute; for each target,
the time the status appeared on the platform (the emulator's `created_at`) minus `scheduled_at`.

Baseline, on the same Temporal server and at the same time: M bare workflows that sleep on a
durable timer until the same kind of spread times (interleaved with Herald's, half a step
apart), then record time.time() in an activity (and workflow.now() on wake): the engine's own
lateness. Goal: Herald's p99 ≤ 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.baseline_worker import BaselineQueues, running_baseline
from bench.baseline_workflows import TimerInput, TimerWorkflow
from bench.harness import BenchStack, BenchTenant, open_stack
from bench.report import at_most, row
from bench.stamps import iso, parse
from bench.stats import ratio, summary_ms

NAME = "schedule_lateness"
DEFAULT_POSTS = 60
QUICK_POSTS = 15
DEFAULT_SPREAD_S = 60.0
QUICK_SPREAD_S = 15.0
# The first time is this far ahead (at least; more for more posts), so every post and timer
# is created before any is due: creating 60 posts and 60 workflows takes ~6 s on 2 cores.
LEAD_S = 5.0
LEAD_PER_POST_S = 0.15
SUBMIT_CONCURRENCY = 10
WARMUP_POSTS = 3
GOAL_P99_MS = 1000.0
SETTLE_TIMEOUT_S = 120.0


def _lead(count: int) -> float:
    return max(LEAD_S, LEAD_PER_POST_S * count)


def _times(
    count: int, spread_s: float, lead_s: float | None = None
) -> tuple[list[datetime], list[datetime]]:
    """Two interleaved sets of `count` times from now + the lead, evenly over `spread_s`
    (Herald's, and the baseline's half a step later), rounded to milliseconds (the precision
    the API answers with and the emulator stamps)."""
    lead = _lead(count) if lead_s is None else lead_s
    start = datetime.now(UTC) + timedelta(seconds=lead)
    step = spread_s / max(count, 1)

    def at(offset: float) -> datetime:
        moment = start + timedelta(seconds=offset)
        return moment.replace(microsecond=moment.microsecond // 1000 * 1000)

    return [at(step * i) for i in range(count)], [at(step * (i + 0.5)) for i in range(count)]


async def _herald(stack: BenchStack, tenant: BenchTenant, due: list[datetime]) -> dict[str, Any]:
    username = tenant.usernames[0]
    count = len(due)
    run = uuid.uuid4().hex[:8]
    texts = {f"bench lateness {run} #{i}": at for i, at in enumerate(due)}
    gate = asyncio.Semaphore(SUBMIT_CONCURRENCY)

    async def create(text: str, at: datetime) -> None:
        async with gate:
            response = await stack.api.post(
                "/v1/posts",
                json={
                    "content": text,
                    "targets": [{"account_id": str(tenant.account_ids[0])}],
                    "scheduled_at": iso(at),
                },
                headers=tenant.headers,
            )
        if response.status_code != 201:
            raise RuntimeError(f"POST /v1/posts answered {response.status_code}: {response.text}")

    created_at = time.perf_counter()
    await asyncio.gather(*(create(text, at) for text, at in texts.items()))
    creating_s = time.perf_counter() - created_at
    if datetime.now(UTC) > due[0]:
        print(f"[{NAME}] warning: creating took {creating_s:.1f} s, past the first time")
    # Wait for the last time, then until every status is on the platform.
    await asyncio.sleep(max(0.0, (due[-1] - datetime.now(UTC)).total_seconds()))
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while True:
        seen = {p["text"]: parse(p["created_at"]) for p in await stack.emulator_posts(username)}
        if all(text in seen for text in texts):
            break
        if time.monotonic() > deadline:
            missing = len([t for t in texts if t not in seen])
            raise RuntimeError(f"{missing} of {count} scheduled posts never reached the platform")
        await asyncio.sleep(0.25)
    lateness = [(seen[text] - at).total_seconds() for text, at in texts.items()]
    early = [x for x in lateness if x < -0.001]
    if early:
        raise RuntimeError(f"{len(early)} posts published before their time (min {min(early)} s)")
    return {"creating_s": round(creating_s, 2), "lateness": summary_ms(lateness)}


async def _baseline(
    stack: BenchStack, queues: BaselineQueues, due: list[datetime]
) -> dict[str, Any]:
    run = uuid.uuid4().hex[:8]
    gate = asyncio.Semaphore(SUBMIT_CONCURRENCY)

    async def start(index: int, at: datetime) -> Any:
        async with gate:
            return await stack.client.start_workflow(
                TimerWorkflow.run,
                TimerInput(due=at, activity_queue=queues.activities),
                id=f"bench-timer/{run}/{index}",
                task_queue=queues.workflows,
            )

    handles = await asyncio.gather(*(start(i, at) for i, at in enumerate(due)))
    results = await asyncio.gather(*(h.result() for h in handles))
    recorded = [r.recorded_at - at.timestamp() for r, at in zip(results, due, strict=True)]
    woke = [(r.woke_at - at).total_seconds() for r, at in zip(results, due, strict=True)]
    return {"lateness": summary_ms(recorded), "timer_fired": summary_ms(woke)}


async def run(args: argparse.Namespace) -> dict[str, Any]:
    count = getattr(args, "scheduled", None) or (QUICK_POSTS if args.quick else DEFAULT_POSTS)
    spread = getattr(args, "spread", None) or (QUICK_SPREAD_S if args.quick else DEFAULT_SPREAD_S)
    async with (
        open_stack(args) as stack,
        running_baseline(stack.settings, stack.client) as queues,
    ):
        print(
            f"[{NAME}] {count} times over {spread:.0f} s (first {_lead(count):.0f} s ahead) on "
            f"{stack.database}; Herald and the baseline interleaved "
            f"(≈ {spread + _lead(count):.0f} s)",
            flush=True,
        )
        tenant = await stack.tenant_with_accounts(1)
        # A short round first, so neither side's first workflows pay for cold workers.
        herald_due, baseline_due = _times(WARMUP_POSTS, 1.0, lead_s=2.0)
        await asyncio.gather(
            _herald(stack, tenant, herald_due), _baseline(stack, queues, baseline_due)
        )
        herald_due, baseline_due = _times(count, spread)
        # Side by side, half a step apart: both meet the same server, timer queue and load.
        herald, baseline = await asyncio.gather(
            _herald(stack, tenant, herald_due), _baseline(stack, queues, baseline_due)
        )
        b = baseline["lateness"]
        print(
            f"[{NAME}] baseline (timer → activity time.time()): p50 {b['p50_ms']} ms, "
            f"p99 {b['p99_ms']} ms; timer fired (workflow.now()): p50 "
            f"{baseline['timer_fired']['p50_ms']} ms, p99 {baseline['timer_fired']['p99_ms']} ms",
            flush=True,
        )
        h = herald["lateness"]
        print(
            f"[{NAME}] Herald (platform created_at - scheduled_at): p50 {h['p50_ms']} ms, "
            f"p99 {h['p99_ms']} ms, max {h['max_ms']} ms",
            flush=True,
        )
        p99_ratio = ratio(h["p99_ms"], b["p99_ms"])
        p50_ratio = ratio(h["p50_ms"], b["p50_ms"])
        met = at_most(GOAL_P99_MS)(h["p99_ms"])
        print(
            f"[{NAME}] ratio Herald/baseline: p50 {p50_ratio:.1f}, p99 {p99_ratio:.1f}; "
            f"goal p99 ≤ {GOAL_P99_MS:.0f} ms: {'met' if met else 'NOT met'}",
            flush=True,
        )
        return {
            "name": NAME,
            "database": stack.database,
            "params": {"posts": count, "spread_s": spread, "lead_s": _lead(count)},
            "herald": herald,
            "baseline": baseline,
            "ratio_p50": round(p50_ratio, 3),
            "ratio_p99": round(p99_ratio, 3),
            "goal": f"p99 <= {GOAL_P99_MS:.0f} ms",
            "met": met,
            "rows": [
                row(
                    "lateness p50 (ms)",
                    h["p50_ms"],
                    b["p50_ms"],
                    p50_ratio,
                    "—",
                    None,
                    baseline_label="bare timers",
                ),
                row(
                    "lateness p99 (ms)",
                    h["p99_ms"],
                    b["p99_ms"],
                    p99_ratio,
                    f"Herald ≤ {GOAL_P99_MS:.0f} ms",
                    met,
                    baseline_label="bare timers",
                ),
            ],
        }
