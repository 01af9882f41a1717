"""Request overhead: what resolving the caller (the API key's lookup) and counting its rate
limits cost per request, against the same requests to the same database with neither (each
key looked up once and then remembered, bench/remembered_callers.py; no rate-limit
middleware), in the same run.

Each side is an app of its own on the benchmark's database and Temporal, called in process
(httpx's ASGITransport: no network in the figure). Two requests a publish client makes:
`POST /v1/posts` of a draft (the create of publish_throughput without its workflow start, so
the ratio is an upper bound for a publish) and `GET /v1/posts/{id}` (the cheapest read, the
worst case). Sides alternate request by request after a warm-up; the figure is the ratio of
medians. With `--redis URL` (or a Redis answering at 127.0.0.1:6379) a third side counts in
Redis. Reported, not graded (until 2026-12-03 evening the create's ratio had a goal of
≤ 1.05): a draft create is neither a publish nor all of #12; what #12 costs a publish, in the
publish benchmark's own terms, is bench/teams_cost.py's figure.
"""

from __future__ import annotations

import argparse
import gc
import socket
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import httpx

from api.app import create_app
from api.resources import Resources
from bench.harness import BenchStack, open_stack
from bench.remembered_callers import remember_callers
from bench.report import row
from bench.stats import ratio, summary_ms
from herald.settings import Settings

NAME = "request_overhead"
DEFAULT_REQUESTS = 400
QUICK_REQUESTS = 100
WARMUP_REQUESTS = 30
LOCAL_REDIS = ("127.0.0.1", 6379)


def _local_redis() -> str | None:
    with socket.socket() as probe:
        probe.settimeout(0.2)
        try:
            probe.connect(LOCAL_REDIS)
        except OSError:
            return None
    return f"redis://{LOCAL_REDIS[0]}:{LOCAL_REDIS[1]}/0"


@asynccontextmanager
async def _side(
    stack: BenchStack, settings: Settings, *, lookup: bool
) -> AsyncIterator[tuple[httpx.AsyncClient, Resources]]:
    """An app on the benchmark's database; without `lookup`, each credential is looked up
    once and remembered (bench/remembered_callers.py)."""
    resources = Resources.build(settings)
    resources.temporal = stack.stack.resources.temporal
    if not lookup:
        remember_callers(resources.auth)
    app = create_app(settings, resources)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://herald", timeout=30
        ) as client:
            yield client, resources
    finally:
        await resources.close()


async def _timed(client: httpx.AsyncClient, request: dict[str, Any]) -> float:
    started = time.perf_counter()
    answer = await client.request(**request)
    spent = time.perf_counter() - started
    if answer.status_code >= 300:
        raise RuntimeError(f"{request['method']} {request['url']}: {answer.text}")
    return spent


async def _work_alone(resources: Resources, headers: dict[str, str], calls: int) -> float:
    """Milliseconds per call of what a request's caller check does, on a session that is
    open already (as the route's is): the key's lookup and counting its three scopes."""
    authorization = headers["Authorization"]
    async with resources.read_sessions() as session:
        await session.connection()
        started = time.perf_counter()
        for _ in range(calls):
            caller = await resources.auth.identify(session, authorization)
            principal = await resources.auth.principal(session, caller, None)
            await resources.request_limits.admit(
                f"{principal.actor_type}:{principal.actor_id}", principal.workspace_id
            )
        return (time.perf_counter() - started) * 1000 / calls


async def _limits_alone(resources: Resources, workspace: uuid.UUID, calls: int) -> float:
    """Milliseconds per call of counting a request's three scopes alone (what rate limits
    add to the lookup API keys always had)."""
    started = time.perf_counter()
    for _ in range(calls):
        await resources.request_limits.admit("api_key:bench", workspace)
    return (time.perf_counter() - started) * 1000 / calls


async def run(args: argparse.Namespace) -> dict[str, Any]:
    requests = args.overhead_requests or (QUICK_REQUESTS if args.quick else DEFAULT_REQUESTS)
    async with open_stack(args) as stack:
        tenant = await stack.tenant_with_accounts(1)
        base: Settings = stack.settings
        sides: dict[str, tuple[Settings, bool]] = {
            "without auth and limits": (
                base.model_copy(update={"rate_limits_enabled": False}),
                False,
            ),
            "auth + limits (memory)": (base, True),
        }
        redis_url = getattr(args, "redis", None) or _local_redis()
        if redis_url:
            prefix = f"herald-bench-{uuid.uuid4().hex[:8]}"
            sides["auth + limits (Redis)"] = (
                base.model_copy(update={"redis_url": redis_url, "redis_key_prefix": prefix}),
                True,
            )
        draft = {
            "content": "overhead",
            "draft": True,
            "targets": [{"account_id": str(tenant.account_ids[0])}],
        }
        async with AsyncExitStack() as opened:
            built = {
                name: await opened.enter_async_context(_side(stack, settings, lookup=lookup))
                for name, (settings, lookup) in sides.items()
            }
            clients = {name: client for name, (client, _) in built.items()}
            made = await clients["auth + limits (memory)"].post(
                "/v1/posts", json=draft, headers=tenant.headers
            )
            post_id = made.json()["id"]
            kinds = {
                "POST /v1/posts (draft)": {
                    "method": "POST",
                    "url": "/v1/posts",
                    "json": draft,
                    "headers": tenant.headers,
                },
                "GET /v1/posts/{id}": {
                    "method": "GET",
                    "url": f"/v1/posts/{post_id}",
                    "headers": tenant.headers,
                },
            }
            rows: list[dict[str, Any]] = []
            figures: dict[str, Any] = {}
            baseline_name = "without auth and limits"
            for label, request in kinds.items():
                for _ in range(WARMUP_REQUESTS):
                    for client in clients.values():
                        await _timed(client, request)
                samples: dict[str, list[float]] = {name: [] for name in clients}
                gc.collect()
                gc.freeze()
                try:
                    for index in range(requests):
                        names = list(clients)
                        order = names if index % 2 == 0 else names[::-1]
                        for name in order:
                            samples[name].append(await _timed(clients[name], request))
                finally:
                    gc.unfreeze()
                summaries = {name: summary_ms(s) for name, s in samples.items()}
                medians = {name: sorted(s)[len(s) // 2] * 1000 for name, s in samples.items()}
                figures[label] = {"summaries": summaries, "median_ms": medians}
                for name in clients:
                    if name == baseline_name:
                        continue
                    value = ratio(medians[name], medians[baseline_name])
                    # Reported, not graded: a draft create is not a publish (teams_cost).
                    met = None
                    extra = medians[name] - medians[baseline_name]
                    print(
                        f"[{NAME}] {label}, {name}: median {medians[name]:.2f} ms vs "
                        f"{medians[baseline_name]:.2f} ms without ({extra:+.2f} ms); ratio "
                        f"{value:.3f}",
                        flush=True,
                    )
                    rows.append(
                        row(
                            f"median ms, {label}",
                            round(medians[name], 2),
                            round(medians[baseline_name], 2),
                            value,
                            "—",
                            met,
                            measured_label=name,
                            baseline_label=baseline_name,
                        )
                    )
            # The same work alone, many times: steadier than a difference of two requests.
            post_ms = figures["POST /v1/posts (draft)"]["median_ms"][baseline_name]
            for name, (_, resources) in built.items():
                if name == baseline_name:
                    continue
                alone = await _work_alone(resources, tenant.headers, requests * 5)
                counting = await _limits_alone(resources, tenant.workspace_id, requests * 5)
                share = (post_ms + alone) / post_ms
                figures[f"alone, {name}"] = {
                    "ms_per_request": round(alone, 3),
                    "limits_only_ms": round(counting, 3),
                }
                print(
                    f"[{NAME}] the caller's lookup and its limits alone, {name}: "
                    f"{alone:.3f} ms a request (the limits {counting:.3f} ms of it); a draft "
                    f"create of {post_ms:.2f} ms with it = {share:.3f} of one without",
                    flush=True,
                )
                rows.append(
                    row(
                        f"ms a request, limits alone ({name})",
                        round(counting, 3),
                        round(post_ms, 2),
                        (post_ms + counting) / post_ms,
                        "—",
                        None,
                        measured_label="added",
                        baseline_label="draft create without",
                    )
                )
                rows.append(
                    row(
                        f"ms a request, lookup + limits alone ({name})",
                        round(alone, 3),
                        round(post_ms, 2),
                        share,
                        "—",
                        None,
                        measured_label="added",
                        baseline_label="draft create without",
                    )
                )
    return {
        "name": NAME,
        "database": stack.database,
        "params": {"requests": requests, "redis": bool(redis_url)},
        "measurements": figures,
        "goal": "none: what the check costs a request (#12's goal is teams_cost's)",
        "met": None,
        "rows": rows,
    }
