"""Burst: N posts x 3 Mastodon accounts, all scheduled for the same second and created
beforehand; the time from that second until the last target is on the platform (the emulator's
`created_at`), and the lateness of the first and the last 10% of targets.

Baseline, on the same Temporal server and emulator: N bare workflows started beforehand that
run their batch step, sleep on a durable timer to the same kind of second, then make the same
3 platform calls (bench/baseline_workflows.FanOutWorkflow with `due`). The sides run one after
the other, each in processes of its own (bench/sides.py), so each meets the engine alone.
Goal (the issue): Herald/baseline ≤ 1.3.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.baseline_workflows import FanOutInput, FanOutWorkflow
from bench.harness import BenchStack, CpuMeter, cpu_ms_per, open_stack
from bench.report import at_most, row
from bench.sides import BaselineSide, HeraldSide, sides_for
from bench.stamps import iso, parse
from bench.stats import ratio, summary_ms

NAME = "burst"
ACCOUNTS = 3
DEFAULT_POSTS = 1000
QUICK_POSTS = 60
WARMUP_POSTS = 20
SUBMIT_CONCURRENCY = 20
# Everything is created before the second comes: the lead is the time creating N took in the
# warm-up's pace, with this margin, and never less than LEAD_MIN_S. Creating slows as the
# sleeping runs pile up (1,000 bare starts took 7.1 s where 20 promised 3.4): hence 3.
LEAD_MARGIN = 3.0
LEAD_MIN_S = 5.0
POLL_S = 0.25
SETTLE_TIMEOUT_S = 900.0
GOAL = 1.3

# Creates one post (Herald) or starts one workflow (baseline) due at the given second.
Submit = Callable[[int, datetime], Awaitable[None]]


def _second(lead_s: float) -> datetime:
    """A whole second at least `lead_s` from now."""
    moment = datetime.now(UTC) + timedelta(seconds=lead_s + 1)
    return moment.replace(microsecond=0)


async def _submit_all(submit: Submit, count: int, due: datetime) -> float:
    """Submits `count` with at most SUBMIT_CONCURRENCY in flight; the seconds it took."""
    gate = asyncio.Semaphore(SUBMIT_CONCURRENCY)

    async def one(index: int) -> None:
        async with gate:
            await submit(index, due)

    started = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(count)))
    return time.perf_counter() - started


async def _landed(
    stack: BenchStack, usernames: list[str], prefix: str, count: int, due: datetime
) -> list[float]:
    """Seconds after `due` at which each of the run's statuses reached the platform, once all
    `count` x accounts are there (bounded by SETTLE_TIMEOUT_S)."""
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while True:
        stamps: list[datetime] = []
        for username in usernames:
            posts = await stack.emulator_posts(username)
            stamps += [parse(p["created_at"]) for p in posts if p["text"].startswith(prefix)]
        if len(stamps) >= count * len(usernames):
            break
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"only {len(stamps)} of {count * len(usernames)} statuses reached the platform "
                f"after {SETTLE_TIMEOUT_S:.0f} s"
            )
        await asyncio.sleep(POLL_S)
    if len(stamps) != count * len(usernames):
        raise RuntimeError(f"{len(stamps)} statuses for {count * len(usernames)} targets")
    return sorted((stamp - due).total_seconds() for stamp in stamps)


async def _burst(
    stack: BenchStack,
    submit: Submit,
    usernames: list[str],
    prefix: str,
    count: int,
    lead_s: float,
    cpu: CpuMeter,
) -> dict[str, Any]:
    due = _second(lead_s)
    creating_s = await _submit_all(submit, count, due)
    if datetime.now(UTC) >= due:
        raise RuntimeError(
            f"creating {count} took {creating_s:.1f} s, past the burst second ({lead_s:.0f} s "
            "lead): the machine is slower than the warm-up said"
        )
    await asyncio.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()))
    cpu.start()
    landed = await _landed(stack, usernames, prefix, count, due)
    spent = cpu.stop()
    early = [x for x in landed if x < -0.001]
    if early:
        raise RuntimeError(f"{len(early)} statuses published before their second")
    tenth = max(1, len(landed) // 10)
    targets = len(landed)
    return {
        "targets": targets,
        "creating_s": round(creating_s, 2),
        "lead_s": round(lead_s, 1),
        "last_s": round(landed[-1], 3),
        "first_10pct": summary_ms(landed[:tenth]),
        "last_10pct": summary_ms(landed[-tenth:]),
        "cpu_ms_per_target": cpu_ms_per(spent, targets),
    }


async def _herald(stack: BenchStack, side: HeraldSide, count: int, lead_s: float) -> dict[str, Any]:
    tenant = await stack.tenant_with_accounts(ACCOUNTS)
    targets = [{"account_id": str(a)} for a in tenant.account_ids]
    prefix = f"bench burst {uuid.uuid4().hex[:8]} "

    async def create(index: int, due: datetime) -> None:
        response = await side.api.post(
            "/v1/posts",
            json={"content": f"{prefix}#{index}", "targets": targets, "scheduled_at": iso(due)},
            headers=tenant.headers,
        )
        if response.status_code != 201:
            raise RuntimeError(f"POST /v1/posts answered {response.status_code}: {response.text}")

    cpu = CpuMeter(side.children)
    return await _burst(stack, create, tenant.usernames, prefix, count, lead_s, cpu)


async def _baseline(
    stack: BenchStack, side: BaselineSide, count: int, lead_s: float
) -> dict[str, Any]:
    usernames, destinations = await stack.emulator_destinations(ACCOUNTS)
    run = uuid.uuid4().hex[:8]
    prefix = f"bench burst baseline {run} "

    async def start(index: int, due: datetime) -> None:
        await stack.client.start_workflow(
            FanOutWorkflow.run,
            FanOutInput(
                key=f"bench-burst/{run}/{index}",
                text=f"{prefix}#{index}",
                destinations=destinations,
                activity_queue=side.queues.activities,
                due=due,
            ),
            id=f"bench-burst/{run}/{index}",
            task_queue=side.queues.workflows,
        )

    cpu = CpuMeter(side.children)
    return await _burst(stack, start, usernames, prefix, count, lead_s, cpu)


def _lead(warmup: dict[str, Any], count: int) -> float:
    per_post = float(warmup["creating_s"]) / WARMUP_POSTS
    return max(LEAD_MIN_S, LEAD_MARGIN * per_post * count)


def _report(side: str, result: dict[str, Any]) -> None:
    first, last = result["first_10pct"], result["last_10pct"]
    cpu = ", ".join(f"{name} {ms}" for name, ms in result["cpu_ms_per_target"].items())
    print(
        f"[{NAME}] {side}: {result['targets']} targets created in {result['creating_s']} s "
        f"({result['lead_s']} s ahead); last on the platform {result['last_s']} s after the "
        f"second; lateness first 10% p50 {first['p50_ms']} ms, p99 {first['p99_ms']} ms; last "
        f"10% p50 {last['p50_ms']} ms, p99 {last['p99_ms']} ms; CPU ms per target: {cpu}",
        flush=True,
    )


async def run(args: argparse.Namespace) -> dict[str, Any]:
    count = getattr(args, "burst", None) or (QUICK_POSTS if args.quick else DEFAULT_POSTS)
    async with open_stack(args) as stack:
        print(
            f"[{NAME}] {count} posts x {ACCOUNTS} accounts due at one second on "
            f"{stack.database}, then {count} bare workflows; each in processes of its own",
            flush=True,
        )
        async with sides_for(stack) as (herald_side, baseline_side):
            print(f"[{NAME}] warming up both sides ({WARMUP_POSTS} posts each)", flush=True)
            baseline_warmup = await _baseline(stack, baseline_side, WARMUP_POSTS, LEAD_MIN_S)
            herald_warmup = await _herald(stack, herald_side, WARMUP_POSTS, LEAD_MIN_S)
            baseline = await _baseline(stack, baseline_side, count, _lead(baseline_warmup, count))
            _report("baseline", baseline)
            herald = await _herald(stack, herald_side, count, _lead(herald_warmup, count))
            _report("Herald", herald)
    value = ratio(herald["last_s"], baseline["last_s"])
    met = at_most(GOAL)(value)
    print(
        f"[{NAME}] ratio Herald/baseline (second → last target): {value:.2f} "
        f"(goal ≤ {GOAL}: {'met' if met else 'NOT met'})",
        flush=True,
    )
    return {
        "name": NAME,
        "database": stack.database,
        "params": {"posts": count, "accounts": ACCOUNTS, "submit_concurrency": SUBMIT_CONCURRENCY},
        "herald": herald,
        "baseline": baseline,
        "ratio": round(value, 3),
        "goal": f"<= {GOAL}",
        "met": met,
        "rows": [
            row(
                "seconds from the due second to the last target",
                herald["last_s"],
                baseline["last_s"],
                value,
                f"≤ {GOAL}",
                met,
                baseline_label="bare timers",
            ),
            row(
                "lateness p99 (ms), last 10% of targets",
                herald["last_10pct"]["p99_ms"],
                baseline["last_10pct"]["p99_ms"],
                ratio(herald["last_10pct"]["p99_ms"], baseline["last_10pct"]["p99_ms"]),
                "—",
                None,
                baseline_label="bare timers",
            ),
        ],
    }
