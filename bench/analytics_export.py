"""Analytics export memory: peak Python memory (tracemalloc) of this process while a CSV
export of 100k rows runs through the API and its workflow, against one of 10k rows (--quick:
10k vs 1k), both in the same database. The export streams the samples from the database in
batches and writes the file in batches, so its peak should not grow with the rows.

Each brand's posts are sampled once a day for 100 days (one CSV row per post and day). The
100k-row file is downloaded and parsed with Python's csv module; a few rows are compared with
what `GET /v1/analytics/posts/{id}` answers for that day.
Goal: peak(large) / peak(small) ≤ 1.5.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from bench.analytics_data import Posts, analyze, fill
from bench.harness import BenchStack, BenchTenant, measuring_engine, open_stack
from bench.report import at_most, row
from bench.stats import ratio
from herald.analytics.rules import POST_COUNTERS

NAME = "analytics_export"
DAYS = 100
SMALL_POSTS, LARGE_POSTS = 100, 1_000
QUICK_SMALL_POSTS, QUICK_LARGE_POSTS = 10, 100
GOAL = 1.5
CHECKED_POSTS = 3


def _z(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


async def _export(
    stack: BenchStack, tenant: BenchTenant, now: datetime
) -> tuple[dict[str, Any], float, int]:
    """Runs one export; answers its status, seconds and the peak traced bytes meanwhile."""
    body = {
        "brand_id": str(tenant.brand_id),
        "from": _z(now - timedelta(days=DAYS + 10)),
        "to": _z(now),
        "format": "csv",
    }
    tracemalloc.start()
    tracemalloc.reset_peak()
    started = time.perf_counter()
    try:
        answer = await stack.api.post("/v1/analytics/export", json=body, headers=tenant.headers)
        if answer.status_code != 202:
            raise RuntimeError(f"export answered {answer.status_code}: {answer.text}")
        export_id = answer.json()["export_id"]
        while True:
            status = await stack.api.get(
                f"/v1/analytics/exports/{export_id}", headers=tenant.headers
            )
            done: dict[str, Any] = status.json()
            if done["status"] in ("done", "failed"):
                break
            if time.perf_counter() - started > 600:
                raise RuntimeError("the export took more than 10 minutes")
            await asyncio.sleep(0.2)
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    if done["status"] != "done":
        raise RuntimeError(f"export failed: {done}")
    return done, elapsed, peak


async def _check_file(
    stack: BenchStack, tenant: BenchTenant, done: dict[str, Any], rows: int
) -> None:
    parts = urlsplit(done["download_url"])
    answer = await stack.api.get(f"{parts.path}?{parts.query}")
    parsed = list(csv.DictReader(io.StringIO(answer.content.decode("utf-8"), newline="")))
    if len(parsed) != rows or done["rows"] != rows:
        raise RuntimeError(f"{len(parsed)} rows parsed, {done['rows']} reported, {rows} expected")
    seen: set[str] = set()
    for line in parsed:
        if line["post_id"] in seen or len(seen) >= CHECKED_POSTS:
            continue
        seen.add(line["post_id"])
        api = (
            await stack.api.get(f"/v1/analytics/posts/{line['post_id']}", headers=tenant.headers)
        ).json()
        series = [s for s in api["targets"][0]["series"] if s["sampled_at"][:10] == line["date"]]
        for name in POST_COUNTERS:
            cell = int(line[name]) if line[name] else None
            if cell != series[-1][name]:
                raise RuntimeError(
                    f"{name} of {line['post_id']} on {line['date']}: {cell} vs {series[-1][name]}"
                )


async def run(args: argparse.Namespace) -> dict[str, Any]:
    small_posts = QUICK_SMALL_POSTS if args.quick else SMALL_POSTS
    large_posts = QUICK_LARGE_POSTS if args.quick else LARGE_POSTS
    async with open_stack(args) as stack, measuring_engine(stack) as engine:
        now = datetime.now(UTC).replace(microsecond=0)
        tenants = {}
        for size, count in (("small", small_posts), ("large", large_posts)):
            tenant = await stack.tenant_with_accounts(1)
            plan = Posts(
                count, timedelta(days=DAYS, hours=1), timedelta(minutes=1), DAYS, timedelta(days=1)
            )
            await fill(stack, engine, tenant, [plan], now, 0, timedelta(days=1))
            tenants[size] = tenant
        await analyze(engine)
        expected = {"small": small_posts * DAYS, "large": large_posts * DAYS}
        figures: dict[str, Any] = {}
        for size in ("small", "large"):
            done, seconds, peak = await _export(stack, tenants[size], now)
            await _check_file(stack, tenants[size], done, expected[size])
            figures[size] = {
                "rows": done["rows"],
                "seconds": round(seconds, 2),
                "peak_mb": round(peak / 2**20, 2),
            }
            print(
                f"[{NAME}] {done['rows']:,} rows in {seconds:.1f} s, peak traced memory "
                f"{peak / 2**20:.1f} MB",
                flush=True,
            )
        value = ratio(figures["large"]["peak_mb"], figures["small"]["peak_mb"])
        met = at_most(GOAL)(value)
        print(
            f"[{NAME}] peak ratio {value:.2f} (goal ≤ {GOAL}: {'met' if met else 'NOT met'})",
            flush=True,
        )
        rows = [
            row(
                "peak traced MB during export",
                figures["large"]["peak_mb"],
                figures["small"]["peak_mb"],
                value,
                f"≤ {GOAL}",
                met,
                measured_label=f"{expected['large']:,} rows",
                baseline_label=f"{expected['small']:,} rows",
            )
        ]
        return {
            "name": NAME,
            "database": stack.database,
            "params": {"rows": expected, "days": DAYS},
            "measurements": {**figures, "ratio_peak": round(value, 3)},
            "goal": f"peak large/small <= {GOAL}",
            "met": met,
            "rows": rows,
        }
