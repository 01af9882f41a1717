"""Analytics overview scaling: p99 of `GET /v1/analytics/brands/{id}/overview` over the last
7 days for a brand with 1M metric samples against one with 10k (--quick: 100k vs 10k), in the
same database.

Both brands have the same recent posts (50 in the range, sampled hourly since published) on
3 accounts; the large one also has 1,000 older posts with 1,000 hourly samples each and
accounts sampled hourly for 5,000 hours. The overview reads each recent target's last sample
before `to` and each account's edges, each one probe of the (subject, set, time) index, so its
cost follows the posts in the range, not the history kept. Rows go in with bulk SQL; each
measurement warms up, then times 200 requests alternating small and large, with the harness's
objects frozen out of the garbage collector.
Goal: p99(large) / p99(small) ≤ 1.5.
"""

from __future__ import annotations

import argparse
import gc
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from bench.analytics_data import Posts, analyze, fill
from bench.harness import BenchStack, BenchTenant, measuring_engine, open_stack
from bench.report import at_most, row
from bench.stats import ratio, summary_ms
from herald.db.models import MetricSample

NAME = "analytics_overview"
ACCOUNTS = 3
RECENT = Posts(50, timedelta(hours=1), timedelta(hours=3), 200, timedelta(hours=1))
SMALL_OLD = Posts(30, timedelta(days=60), timedelta(days=1), 190, timedelta(hours=1))
LARGE_OLD_POSTS = 1_000
QUICK_OLD_POSTS = 100
OLD_SAMPLES = 1_000
REQUESTS = 200
WARMUP = 20
RANGE = timedelta(days=7)
GOAL = 1.5


def _z(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


async def _timed(stack: BenchStack, tenant: BenchTenant, params: dict[str, str]) -> float:
    started = time.perf_counter()
    answer = await stack.api.get(
        f"/v1/analytics/brands/{tenant.brand_id}/overview", params=params, headers=tenant.headers
    )
    elapsed = time.perf_counter() - started
    if answer.status_code != 200:
        raise RuntimeError(f"overview answered {answer.status_code}: {answer.text}")
    return elapsed


async def run(args: argparse.Namespace) -> dict[str, Any]:
    old_posts = QUICK_OLD_POSTS if args.quick else LARGE_OLD_POSTS
    requests = getattr(args, "requests", None) or REQUESTS
    async with open_stack(args) as stack, measuring_engine(stack) as engine:
        now = datetime.now(UTC).replace(microsecond=0)
        started = time.perf_counter()
        small = await stack.tenant_with_accounts(ACCOUNTS)
        large = await stack.tenant_with_accounts(ACCOUNTS)
        counts = {
            "small": await fill(
                stack, engine, small, [RECENT, SMALL_OLD], now, 168, timedelta(hours=1)
            ),
            "large": await fill(
                stack,
                engine,
                large,
                [
                    RECENT,
                    Posts(
                        old_posts,
                        timedelta(days=60),
                        timedelta(hours=1),
                        OLD_SAMPLES,
                        timedelta(hours=1),
                    ),
                ],
                now,
                5_000,
                timedelta(hours=1),
            ),
        }
        await analyze(engine)
        async with engine.connect() as connection:
            total = await connection.scalar(select(func.count()).select_from(MetricSample))
        print(
            f"[{NAME}] brands of {counts['small']:,} and {counts['large']:,} samples "
            f"({total:,} in the table) in {time.perf_counter() - started:.1f} s on {stack.database}",
            flush=True,
        )
        params = {"from": _z(now - RANGE), "to": _z(now)}
        answers = {}
        for size, tenant in (("small", small), ("large", large)):
            answer = await stack.api.get(
                f"/v1/analytics/brands/{tenant.brand_id}/overview",
                params=params,
                headers=tenant.headers,
            )
            answers[size] = answer.json()
        if answers["small"]["posts"] != RECENT.count or answers["large"]["posts"] != RECENT.count:
            raise RuntimeError(f"unexpected overviews: {answers}")
        if {
            k: v
            for k, v in answers["small"].items()
            if k not in ("brand_id", "follower_growth", "followers")
        } != {
            k: v
            for k, v in answers["large"].items()
            if k not in ("brand_id", "follower_growth", "followers")
        }:
            raise RuntimeError(f"the two brands' recent posts should read alike: {answers}")
        for _ in range(WARMUP):
            await _timed(stack, small, params)
            await _timed(stack, large, params)
        timings: dict[str, list[float]] = {"small": [], "large": []}
        gc.collect()
        gc.freeze()
        try:
            for _ in range(requests):
                timings["small"].append(await _timed(stack, small, params))
                timings["large"].append(await _timed(stack, large, params))
        finally:
            gc.unfreeze()
        s, lg = summary_ms(timings["small"]), summary_ms(timings["large"])
        value = ratio(lg["p99_ms"], s["p99_ms"])
        met = at_most(GOAL)(value)
        print(
            f"[{NAME}] overview p99 {s['p99_ms']} ms at {counts['small']:,} samples vs "
            f"{lg['p99_ms']} ms at {counts['large']:,} (p50 {s['p50_ms']} vs {lg['p50_ms']}); "
            f"ratio {value:.2f} (goal ≤ {GOAL}: {'met' if met else 'NOT met'})",
            flush=True,
        )
        rows = [
            row(
                "p99 ms, brand overview (7 days)",
                lg["p99_ms"],
                s["p99_ms"],
                value,
                f"≤ {GOAL}",
                met,
                measured_label=f"{counts['large']:,} samples",
                baseline_label=f"{counts['small']:,} samples",
            )
        ]
        return {
            "name": NAME,
            "database": stack.database,
            "params": {"samples": counts, "requests": requests, "range_days": RANGE.days},
            "measurements": {"small": s, "large": lg, "ratio_p99": round(value, 3)},
            "goal": f"p99 large/small <= {GOAL}",
            "met": met,
            "rows": rows,
        }
