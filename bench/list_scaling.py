"""List scaling: p99 latency of `GET /v1/posts?limit=50` — the first page, a page deep in the
list (keyset cursor at the middle of the workspace), and the first page filtered by a common and
by a rare status — for a workspace of 100k posts against one of 1k (--quick: 10k vs 1k) in the
same database.

Rows are inserted directly with bulk SQL (SQLAlchemy Core), not through workflows: posts with
three targets each, published but for the oldest one in a hundred that failed, created_at spread over the past. Each measurement warms up,
then times 200 sequential requests, alternating small and large so drift hits both alike, with
the objects the harness holds frozen out of the garbage collector (gc.freeze).
Goal: p99(large) / p99(small) ≤ 1.5 for every kind of page.
"""

from __future__ import annotations

import argparse
import gc
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select

from bench.harness import BenchStack, BenchTenant, measuring_engine, open_stack
from bench.report import at_most, row
from bench.stats import ratio, summary_ms
from herald.db.models import Post, PostTarget
from herald.status import Origin, PostPhase, PostStatus, TargetStatus

NAME = "list_scaling"
DEFAULT_SMALL = 1_000
DEFAULT_LARGE = 100_000
QUICK_LARGE = 10_000
DEFAULT_REQUESTS = 200
WARMUP_REQUESTS = 20
PAGE = 50
ACCOUNTS = 3
CHUNK = 2_000
GOAL = 1.5
# The oldest 1 post in FAILED_EVERY failed (an outage long ago, none since): the rare status
# people filter for, whose matches sit behind every newer post.
FAILED_EVERY = 100
RARE = f"first page, status=failed (oldest {100 // FAILED_EVERY}%)"


def _post_rows(tenant: BenchTenant, count: int, newest: datetime) -> Iterator[list[dict[str, Any]]]:
    """Chunks of (posts, targets) rows: one post every 7 s going back from `newest`."""
    posts: list[dict[str, Any]] = []
    targets: list[dict[str, Any]] = []
    for index in range(count):
        created = newest - timedelta(seconds=7 * index, microseconds=index % 997)
        failed = index >= count - count // FAILED_EVERY
        published = None if failed else created + timedelta(seconds=1)
        post_id = uuid.uuid4()
        posts.append(
            {
                "id": post_id,
                "workspace_id": tenant.workspace_id,
                "brand_id": tenant.brand_id,
                "content": f"bench list post #{index}: " + "lorem ipsum " * 8,
                "media_ids": [],
                "phase": PostPhase.SCHEDULED,
                "status": PostStatus.FAILED if failed else PostStatus.PUBLISHED,
                "scheduled_at": created,
                "published_at": published,
                "origin": Origin.API,
                "version": 1,
                "created_by_type": "api_key",
                "created_by_id": "bench",
                "created_at": created,
                "updated_at": created + timedelta(seconds=1),
            }
        )
        for position, account_id in enumerate(tenant.account_ids):
            platform_id = f"{index}{position}"
            target: dict[str, Any] = {
                "id": uuid.uuid4(),
                "post_id": post_id,
                "account_id": account_id,
                "position": position,
                "platform": "mastodon",
                "status": TargetStatus.PUBLISHED,
                "options": {},
                "platform_post_id": platform_id,
                "platform_post_url": f"https://mastodon.example/@bench/{platform_id}",
                "attempts": 1,
                "first_attempt_at": created,
                "published_at": published,
                "updated_at": created + timedelta(seconds=1),
            }
            if failed:
                target.update(
                    status=TargetStatus.FAILED,
                    platform_post_id=None,
                    platform_post_url=None,
                    attempts=5,
                    error_code="platform_unavailable",
                    error_message="Service Unavailable",
                    error_retryable=True,
                )
            targets.append(target)
        if len(posts) >= CHUNK:
            yield [posts, targets]
            posts, targets = [], []
    if posts:
        yield [posts, targets]


async def _fill(stack: BenchStack, engine: Any, count: int) -> BenchTenant:
    tenant = await stack.tenant_with_accounts(ACCOUNTS)
    newest = datetime.now(UTC) - timedelta(minutes=1)
    for posts, targets in _post_rows(tenant, count, newest):
        async with engine.begin() as connection:
            await connection.execute(insert(Post.__table__), posts)
            await connection.execute(insert(PostTarget.__table__), targets)
    async with engine.begin() as connection:
        if engine.dialect.name == "sqlite":
            await connection.exec_driver_sql("ANALYZE")
        else:
            await connection.exec_driver_sql("ANALYZE posts")
            await connection.exec_driver_sql("ANALYZE post_targets")
    return tenant


async def _middle_cursor(
    stack: BenchStack, engine: Any, tenant: BenchTenant, count: int
) -> tuple[str, str]:
    """A cursor naming the row at the middle of the workspace, and the id that must follow it.
    Built from the repository's own encoder when it has one, else by walking the pages."""
    middle = count // 2
    async with engine.connect() as connection:
        ordered = (
            select(Post.created_at, Post.id)
            .where(Post.workspace_id == tenant.workspace_id)
            .order_by(Post.created_at.desc(), Post.id.desc())
        )
        created_at, post_id = (await connection.execute(ordered.offset(middle - 1).limit(1))).one()
        following = (await connection.execute(ordered.offset(middle).limit(1))).one()[1]
    try:
        from herald.repositories.posts import encode_keyset
    except ImportError:
        encode_keyset = None
    if encode_keyset is not None:
        return encode_keyset(created_at, post_id), str(following)
    cursor, seen = None, 0
    while seen < middle:
        params: dict[str, Any] = {"limit": min(100, middle - seen)}
        if cursor:
            params["cursor"] = cursor
        response = await stack.api.get("/v1/posts", params=params, headers=tenant.headers)
        response.raise_for_status()
        body = response.json()
        seen += len(body["data"])
        cursor = body["next_cursor"]
    assert cursor is not None
    return cursor, str(following)


async def _check(stack: BenchStack, tenant: BenchTenant, params: dict[str, Any]) -> dict[str, Any]:
    response = await stack.api.get("/v1/posts", params=params, headers=tenant.headers)
    if response.status_code != 200:
        raise RuntimeError(f"GET /v1/posts {params} answered {response.status_code}")
    body: dict[str, Any] = response.json()
    if "status" in params and any(p["status"] != params["status"] for p in body["data"]):
        raise RuntimeError(f"GET /v1/posts {params} answered posts of another status")
    if not body["data"]:
        raise RuntimeError(f"GET /v1/posts {params} answered no posts")
    if len(body["data"]) != params["limit"]:
        raise RuntimeError(f"GET /v1/posts {params}: {len(body['data'])} rows")
    if "status" not in params and not body.get("next_cursor"):
        raise RuntimeError(f"GET /v1/posts {params}: no next cursor")
    return body


async def _timed(stack: BenchStack, tenant: BenchTenant, params: dict[str, Any]) -> float:
    started = time.perf_counter()
    response = await stack.api.get("/v1/posts", params=params, headers=tenant.headers)
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise RuntimeError(f"GET /v1/posts {params} answered {response.status_code}")
    return elapsed


async def run(args: argparse.Namespace) -> dict[str, Any]:
    small = getattr(args, "small", None) or DEFAULT_SMALL
    large = getattr(args, "large", None) or (QUICK_LARGE if args.quick else DEFAULT_LARGE)
    requests = getattr(args, "requests", None) or DEFAULT_REQUESTS
    async with open_stack(args) as stack, measuring_engine(stack) as engine:
        print(
            f"[{NAME}] workspaces of {small:,} and {large:,} posts ({ACCOUNTS} targets each) "
            f"on {stack.database}; {requests} requests per measurement",
            flush=True,
        )
        started = time.perf_counter()
        tenants = {"small": await _fill(stack, engine, small)}
        tenants["large"] = await _fill(stack, engine, large)
        async with engine.connect() as connection:
            total = await connection.scalar(select(func.count()).select_from(Post))
        print(
            f"[{NAME}] inserted {small + large:,} posts in {time.perf_counter() - started:.1f} s "
            f"({total:,} posts in the table)",
            flush=True,
        )
        # Kind of page → (small params, large params).
        pages: dict[str, dict[str, dict[str, Any]]] = {
            "first page": {},
            "middle page (cursor)": {},
            "first page, status=published": {},
            RARE: {},
        }
        # As many rows as the small workspace has failed posts, so both answer the same count.
        rare_limit = max(1, min(PAGE, small // FAILED_EVERY))
        for size, count in (("small", small), ("large", large)):
            cursor, following = await _middle_cursor(stack, engine, tenants[size], count)
            deep = await _check(stack, tenants[size], {"limit": PAGE, "cursor": cursor})
            if deep["data"][0]["id"] != following:
                raise RuntimeError(f"{size}: the middle page does not start after its cursor")
            pages["first page"][size] = {"limit": PAGE}
            pages["middle page (cursor)"][size] = {"limit": PAGE, "cursor": cursor}
            pages["first page, status=published"][size] = {"limit": PAGE, "status": "published"}
            pages[RARE][size] = {"limit": rare_limit, "status": "failed"}
            for kind in pages.values():
                await _check(stack, tenants[size], kind[size])

        rows: list[dict[str, Any]] = []
        figures: dict[str, Any] = {}
        for label, by_size in pages.items():
            for _ in range(WARMUP_REQUESTS):
                await _timed(stack, tenants["small"], by_size["small"])
                await _timed(stack, tenants["large"], by_size["large"])
            samples: dict[str, list[float]] = {"small": [], "large": []}
            # This process also holds Temporal's workers and the emulator: a full collection of
            # its ~200k objects takes 100+ ms and would land on whichever request triggers it.
            # Frozen, the collector only looks at what the requests allocate.
            gc.collect()
            gc.freeze()
            try:
                for _ in range(requests):
                    for size in ("small", "large"):
                        samples[size].append(await _timed(stack, tenants[size], by_size[size]))
            finally:
                gc.unfreeze()
            s, lg = summary_ms(samples["small"]), summary_ms(samples["large"])
            value = ratio(lg["p99_ms"], s["p99_ms"])
            met = at_most(GOAL)(value)
            figures[label] = {"small": s, "large": lg, "ratio_p99": round(value, 3)}
            print(
                f"[{NAME}] {label}: p99 {s['p99_ms']} ms at {small:,} vs {lg['p99_ms']} ms at "
                f"{large:,} (p50 {s['p50_ms']} vs {lg['p50_ms']}); ratio {value:.2f} "
                f"(goal ≤ {GOAL}: {'met' if met else 'NOT met'})",
                flush=True,
            )
            rows.append(
                row(
                    f"p99 ms, {label}",
                    lg["p99_ms"],
                    s["p99_ms"],
                    value,
                    f"≤ {GOAL}",
                    met,
                    measured_label=f"{large:,} posts",
                    baseline_label=f"{small:,} posts",
                )
            )
        return {
            "name": NAME,
            "database": stack.database,
            "params": {"small": small, "large": large, "requests": requests, "limit": PAGE},
            "measurements": figures,
            "goal": f"p99 large/small <= {GOAL}",
            "met": all(r["met"] for r in rows),
            "rows": rows,
        }
