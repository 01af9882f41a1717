"""Webhook delivery: how fast Herald delivers events to subscribed endpoints, and what
subscribing endpoints costs publishing.

1. Deliveries per second: N endpoints (3) subscribed to every event (`["*"]`) on a local
   receiver (a real HTTP server in a thread of this process that answers 200 at once); K draft
   posts created through `POST /v1/posts/bulk`, 100 per call, each emitting one `post.created`;
   from the first create until the receiver has every one of the K x N deliveries (its own
   receipt time of the last one). Checked afterwards: each endpoint got one delivery (one
   `webhook-id`) per post, and the database says every delivery is delivered; a `webhook-id`
   received again is counted as a duplicate.
2. Publish throughput with endpoints against none: publish_throughput's Herald run (posts x 3
   Mastodon accounts, `publish_now`, targets published per second until the database says all
   are) for a tenant without endpoints and for one whose workspace has N endpoints subscribed to
   `["*"]`, in alternating order over rounds; the round with the median ratio is the figure.
   After each run with endpoints the bench waits, off the clock, until its deliveries are all
   in, so no backlog spills into the next run. Goal: with/without >= 0.9 (reported, not failed).

One dispatcher: the worker of the shared stack (bench/harness.py, in this process) runs a
dispatcher of its own on the same database as `herald worker`'s; two would race for the same
deliveries (a duplicate to the receiver, and the work split across processes). When Herald
runs in processes of its own, the in-process one is terminated for the benchmark (its activity
stops at its next heartbeat, within 0.8 x webhook_dispatch_heartbeat_s, which the bench waits
out before measuring) and started again at the end. The receiver still counts duplicates.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import threading
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import func, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from temporalio.service import RPCError

from bench import publish_throughput as throughput
from bench.harness import (
    BenchStack,
    BenchTenant,
    CpuMeter,
    cpu_ms_per,
    measuring_engine,
    open_stack,
)
from bench.processes import herald_processes
from bench.report import at_least, row
from bench.sides import HeraldSide
from bench.stats import ratio, summary_ms
from herald import temporal as names
from herald.db.models import Event, WebhookDelivery
from herald.schedules import ensure_webhook_dispatcher
from herald.status import DeliveryState
from tests.support.servers import free_port, serve_in_thread

NAME = "webhook_delivery"
DEFAULT_ENDPOINTS = 3
DEFAULT_WEBHOOK_POSTS = 1000
QUICK_WEBHOOK_POSTS = 100
WARMUP_WEBHOOK_POSTS = 20
BULK_MAX = 100  # POST /v1/posts/bulk takes up to 100 posts
DEFAULT_ROUNDS = 5
# Two, so the quick run has each order once.
QUICK_ROUNDS = 2
POLL_S = 0.05
DELIVERY_TIMEOUT_S = 300.0
GOAL = 0.9

log = logging.getLogger("bench")


@dataclass(frozen=True)
class Got:
    path: str
    at: float  # time.perf_counter() when the receiver had read the request
    body: bytes

    @property
    def event(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


@dataclass
class Receiver:
    """Keeps the first request of each `webhook-id` and counts the repeats; answers 200 at
    once. Runs in uvicorn's thread: everything it holds is read under its lock."""

    url: str = ""
    duplicates: int = 0
    _first: dict[str, Got] = field(default_factory=dict)
    _by_path: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle(self, request: Request) -> Response:
        body = await request.body()
        got = Got(request.url.path, time.perf_counter(), body)
        key = request.headers.get("webhook-id", "")
        with self._lock:
            if key in self._first:
                self.duplicates += 1
            else:
                self._first[key] = got
                self._by_path[got.path] += 1
        return Response(status_code=200)

    def count(self, paths: Iterable[str]) -> int:
        with self._lock:
            return sum(self._by_path[p] for p in paths)

    def at(self, paths: Iterable[str]) -> list[Got]:
        wanted = set(paths)
        with self._lock:
            return [g for g in self._first.values() if g.path in wanted]


@contextlib.contextmanager
def running_receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    app = Starlette(routes=[Route("/{path:path}", receiver.handle, methods=["POST"])])
    with serve_in_thread(app, free_port()) as url:
        receiver.url = url
        yield receiver


class _DroppingCancelledDispatcher(logging.Filter):
    """The SDK logs the paused in-process dispatcher's cancellation as a failure: expected."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not ("Completing activity as failed" in message and "dispatch_webhooks" in message)


@contextlib.asynccontextmanager
async def _one_dispatcher(stack: BenchStack, in_process: bool) -> AsyncIterator[float]:
    """When Herald runs in processes of its own: the shared stack's dispatcher terminated
    until the end, then started again. Yields when it is known to have stopped (monotonic)."""
    if in_process:
        yield time.monotonic()
        return
    handle = stack.client.get_workflow_handle(
        names.webhook_dispatch_workflow_id(stack.settings.temporal_task_queue)
    )
    print(
        f"[{NAME}] terminating the shared stack's in-process dispatcher, so herald worker's is "
        "the only one (the SDK may warn that its task or activity was not found: expected)",
        flush=True,
    )
    with contextlib.suppress(RPCError):  # not running: nothing to pause
        await handle.terminate("webhook_delivery: herald worker's dispatcher alone")
    # Its activity learns at its next heartbeat; the SDK throttles them to 0.8 x the timeout.
    stopped_by = time.monotonic() + 0.8 * stack.settings.webhook_dispatch_heartbeat_s + 2.0
    quiet = _DroppingCancelledDispatcher()
    logging.getLogger("temporalio.activity").addFilter(quiet)
    try:
        yield stopped_by
    finally:
        logging.getLogger("temporalio.activity").removeFilter(quiet)
        await ensure_webhook_dispatcher(stack.client, stack.settings)


@contextlib.asynccontextmanager
async def _herald_side(stack: BenchStack, in_process: bool) -> AsyncIterator[HeraldSide]:
    """Herald alone (bench/sides.py without the baseline), on a task queue of its own: a
    fresh dispatcher workflow, not one left by an earlier benchmark's stopped worker (whose
    activity would hold it until its heartbeat timed out). Terminated at the end."""
    if in_process:
        yield HeraldSide(stack.api)
        return
    queue = f"{stack.settings.temporal_task_queue}-webhooks-{uuid.uuid4().hex[:6]}"
    try:
        async with (
            herald_processes(stack.settings, queue) as (url, children),
            httpx.AsyncClient(base_url=url, timeout=60) as api,
        ):
            yield HeraldSide(api, children)
    finally:
        handle = stack.client.get_workflow_handle(names.webhook_dispatch_workflow_id(queue))
        with contextlib.suppress(RPCError):
            await handle.terminate("webhook_delivery: its worker has stopped")


async def _subscribe(
    side: HeraldSide, tenant: BenchTenant, receiver: Receiver, endpoints: int
) -> tuple[list[uuid.UUID], list[str]]:
    """`endpoints` endpoints of the tenant's workspace on the receiver, each at a path of its
    own, subscribed to every event: (their ids, their paths)."""
    run = uuid.uuid4().hex[:8]
    ids: list[uuid.UUID] = []
    paths = [f"/{run}/{index}" for index in range(endpoints)]
    for path in paths:
        created = await side.api.post(
            "/v1/webhooks",
            json={"url": receiver.url + path, "events": ["*"]},
            headers=tenant.headers,
        )
        if created.status_code != 201:
            raise RuntimeError(
                f"POST /v1/webhooks answered {created.status_code}: {created.text} (is "
                "HERALD_WEBHOOK_ALLOW_LOOPBACK passed to Herald?)"
            )
        ids.append(uuid.UUID(created.json()["id"]))
    return ids, paths


async def _delivery_states(engine: Any, endpoint_ids: list[uuid.UUID]) -> Counter[str]:
    query = (
        select(WebhookDelivery.state, func.count())
        .where(WebhookDelivery.endpoint_id.in_(endpoint_ids))
        .group_by(WebhookDelivery.state)
    )
    async with engine.connect() as connection:
        rows = (await connection.execute(query)).all()
    return Counter({str(state): int(count) for state, count in rows})


async def _undispatched(engine: Any, workspace_id: uuid.UUID) -> int:
    query = select(func.count()).where(
        Event.workspace_id == workspace_id, Event.dispatched_at.is_(None)
    )
    async with engine.connect() as connection:
        return int((await connection.execute(query)).scalar_one())


async def _until_received(
    engine: Any,
    receiver: Receiver,
    paths: list[str],
    expected: int,
    endpoint_ids: list[uuid.UUID],
    started: float,
) -> None:
    """Until the receiver holds `expected` deliveries at `paths` (polled in this process; the
    figure is the receipt time of the last, not the poll's)."""
    while receiver.count(paths) < expected:
        if time.perf_counter() - started > DELIVERY_TIMEOUT_S:
            states = dict(await _delivery_states(engine, endpoint_ids))
            raise RuntimeError(
                f"{receiver.count(paths)} of {expected} deliveries received after "
                f"{DELIVERY_TIMEOUT_S:.0f} s; in the database: {states}"
            )
        await asyncio.sleep(POLL_S)


async def _until_settled(
    engine: Any,
    receiver: Receiver,
    workspace_id: uuid.UUID,
    endpoint_ids: list[uuid.UUID],
    paths: list[str],
) -> Counter[str]:
    """Until every event of the workspace is fanned out, none of its deliveries is pending and
    the receiver holds as many as the database says were delivered: the states by count."""
    deadline = time.monotonic() + DELIVERY_TIMEOUT_S
    while True:
        # Events first: the pass that marks an event dispatched writes its deliveries in the
        # same transaction, so once none is left undispatched the states read after it hold
        # every delivery (read the other way round, a pass committing in between is missed).
        undispatched = await _undispatched(engine, workspace_id)
        states = await _delivery_states(engine, endpoint_ids)
        if (
            not undispatched
            and not states[DeliveryState.PENDING]
            and receiver.count(paths) >= states[DeliveryState.DELIVERED]
        ):
            return states
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"deliveries not settled after {DELIVERY_TIMEOUT_S:.0f} s: {dict(states)}, "
                f"{receiver.count(paths)} received"
            )
        await asyncio.sleep(POLL_S)


async def _deliveries(
    stack: BenchStack, side: HeraldSide, receiver: Receiver, posts: int, endpoints: int
) -> dict[str, Any]:
    """Figure 1: `posts` drafts in bulk, each one `post.created` to each of `endpoints`."""
    tenant = await stack.tenant_with_accounts(1)
    endpoint_ids, paths = await _subscribe(side, tenant, receiver, endpoints)
    run = uuid.uuid4().hex[:8]
    targets = [{"account_id": str(tenant.account_ids[0])}]
    expected = posts * endpoints
    answered: dict[str, float] = {}  # post id: when its bulk call was answered
    duplicates_before = receiver.duplicates
    async with measuring_engine(stack, read_only=True) as engine:
        cpu = CpuMeter(side.children)
        cpu.start()
        started = time.perf_counter()
        for first in range(0, posts, BULK_MAX):
            items = [
                {"content": f"bench webhook {run} #{i}", "draft": True, "targets": targets}
                for i in range(first, min(posts, first + BULK_MAX))
            ]
            response = await side.api.post(
                "/v1/posts/bulk", json={"posts": items}, headers=tenant.headers
            )
            at = time.perf_counter()
            if response.status_code != 207:
                raise RuntimeError(
                    f"POST /v1/posts/bulk answered {response.status_code}: {response.text}"
                )
            for item in response.json()["results"]:
                if item["status"] != 201:
                    raise RuntimeError(f"bulk item {item['index']}: {item['error']}")
                answered[str(item["post"]["id"])] = at
        created_s = time.perf_counter() - started
        await _until_received(engine, receiver, paths, expected, endpoint_ids, started)
        spent = cpu.stop()
        states = await _until_settled(engine, receiver, tenant.workspace_id, endpoint_ids, paths)
    got = receiver.at(paths)
    elapsed = max(g.at for g in got) - started
    # Exactly once per endpoint and post, and nothing else (a draft emits only post.created).
    for path in paths:
        events = [g.event for g in got if g.path == path]
        kinds = Counter(e["type"] for e in events)
        ids = Counter(str(e["data"]["id"]) for e in events)
        if kinds != Counter({"post.created": posts}) or set(ids) != set(answered):
            raise RuntimeError(f"{path} got {dict(kinds)} for {len(set(ids))} of {posts} posts")
    if states[DeliveryState.DELIVERED] != expected:
        raise RuntimeError(f"the database says {dict(states)}, not {expected} delivered")
    latencies = [max(0.0, g.at - answered[str(g.event["data"]["id"])]) for g in got]
    return {
        "posts": posts,
        "endpoints": endpoints,
        "deliveries": expected,
        "seconds": round(elapsed, 3),
        "deliveries_per_s": round(expected / elapsed, 2),
        "create_seconds": round(created_s, 3),
        "created_to_received": summary_ms(latencies),
        "duplicates": receiver.duplicates - duplicates_before,
        "cpu_ms_per_delivery": cpu_ms_per(spent, expected),
    }


async def _publish(
    stack: BenchStack,
    side: HeraldSide,
    receiver: Receiver,
    posts: int,
    concurrency: int,
    endpoints: int,
) -> dict[str, Any]:
    """Figure 2's run, for a fresh tenant with `endpoints` endpoints (0: none)."""
    tenant = await stack.tenant_with_accounts(throughput.ACCOUNTS)
    if not endpoints:
        return await throughput.run_herald(stack, side, posts, concurrency, tenant=tenant)
    endpoint_ids, paths = await _subscribe(side, tenant, receiver, endpoints)
    duplicates_before = receiver.duplicates
    started = time.perf_counter()
    result = await throughput.run_herald(stack, side, posts, concurrency, tenant=tenant)
    published_by = started + result["seconds"]
    async with measuring_engine(stack, read_only=True) as engine:
        states = await _until_settled(engine, receiver, tenant.workspace_id, endpoint_ids, paths)
    got = receiver.at(paths)
    kinds = Counter(g.event["type"] for g in got)
    result["webhooks"] = {
        "endpoints": endpoints,
        "deliveries": len(got),
        "by_type": dict(kinds.most_common()),
        "states": dict(states),
        "received_while_publishing": sum(1 for g in got if g.at <= published_by),
        "last_received_s": round(max(g.at for g in got) - started, 3) if got else None,
        "duplicates": receiver.duplicates - duplicates_before,
    }
    if states[DeliveryState.DELIVERED] != len(got) or len(states) != 1:
        raise RuntimeError(f"deliveries of the publish run: {dict(states)}, {len(got)} received")
    return result


def _report_publish(result: dict[str, Any], label: str) -> None:
    cpu = result["cpu_ms_per_target"]
    hooks = result.get("webhooks")
    extra = ""
    if hooks:
        extra = (
            f"; {hooks['deliveries']} deliveries "
            f"({', '.join(f'{k} {n}' for k, n in hooks['by_type'].items())}), "
            f"{hooks['received_while_publishing']} in by the last publish, all in "
            f"{hooks['last_received_s']} s after the first create"
        )
    print(
        f"[{NAME}] {label}: {result['targets']} targets in {result['seconds']} s "
        f"= {result['targets_per_s']} targets/s (create→published p50 "
        f"{result['create_to_published']['p50_ms']} ms, p99 "
        f"{result['create_to_published']['p99_ms']} ms; CPU per target: worker "
        f"{cpu.get('worker', '—')} ms, api {cpu.get('api', '—')} ms, Temporal "
        f"{cpu['temporal_server']} ms){extra}",
        flush=True,
    )


async def _round(
    stack: BenchStack,
    side: HeraldSide,
    receiver: Receiver,
    index: int,
    posts: int,
    concurrency: int,
    endpoints: int,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(with endpoints, without), in alternating order between rounds."""
    order = (0, endpoints) if index % 2 == 0 else (endpoints, 0)
    print(
        f"[{NAME}] round {index + 1}: "
        f"{' then '.join('with endpoints' if n else 'without' for n in order)} …",
        flush=True,
    )
    results: dict[int, dict[str, Any]] = {}
    for n in order:
        results[n] = await _publish(stack, side, receiver, posts, concurrency, n)
        _report_publish(results[n], f"{n} endpoints" if n else "no endpoints")
    return results[endpoints], results[0]


def _parameters(args: argparse.Namespace) -> dict[str, int]:
    quick = bool(args.quick)
    return {
        "webhook_posts": getattr(args, "webhook_posts", None)
        or (QUICK_WEBHOOK_POSTS if quick else DEFAULT_WEBHOOK_POSTS),
        "endpoints": getattr(args, "endpoints", None) or DEFAULT_ENDPOINTS,
        "posts": getattr(args, "posts", None)
        or (throughput.QUICK_POSTS if quick else throughput.DEFAULT_POSTS),
        "concurrency": getattr(args, "concurrency", None) or throughput.DEFAULT_SUBMIT_CONCURRENCY,
        "rounds": getattr(args, "rounds", None) or (QUICK_ROUNDS if quick else DEFAULT_ROUNDS),
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    p = _parameters(args)
    endpoints, posts, rounds = p["endpoints"], p["posts"], p["rounds"]
    in_process = bool(getattr(args, "in_process", False))
    layout = "in this process" if in_process else "in processes of their own"
    async with open_stack(args) as stack:
        print(
            f"[{NAME}] {p['webhook_posts']} drafts x {endpoints} endpoints, then {posts} posts x "
            f"{throughput.ACCOUNTS} accounts with {endpoints} endpoints against none, {rounds} round(s), "
            f"on {stack.database}; Herald {layout}; dispatcher polls every "
            f"{stack.settings.webhook_poll_s} s",
            flush=True,
        )
        async with (
            _one_dispatcher(stack, in_process) as stopped_by,
            _herald_side(stack, in_process) as side,
        ):
            with running_receiver() as receiver:
                warmup = min(throughput.WARMUP_POSTS, posts)
                print(
                    f"[{NAME}] warming up: {WARMUP_WEBHOOK_POSTS} drafts, then {warmup} posts "
                    "without and with endpoints",
                    flush=True,
                )
                await _deliveries(stack, side, receiver, WARMUP_WEBHOOK_POSTS, endpoints)
                await _publish(stack, side, receiver, warmup, p["concurrency"], 0)
                await _publish(stack, side, receiver, warmup, p["concurrency"], endpoints)
                if (wait := stopped_by - time.monotonic()) > 0:
                    print(
                        f"[{NAME}] waiting {wait:.1f} s more for the in-process dispatcher to "
                        "stop at its next heartbeat",
                        flush=True,
                    )
                    await asyncio.sleep(wait)
                # Until here the in-process dispatcher may still have been sending beside
                # herald worker's: the warm-up's duplicates are its.
                warmup_duplicates = receiver.duplicates
                delivery = await _deliveries(stack, side, receiver, p["webhook_posts"], endpoints)
                print(
                    f"[{NAME}] deliveries: {delivery['deliveries']} ({delivery['posts']} "
                    f"post.created x {endpoints}) in {delivery['seconds']} s = "
                    f"{delivery['deliveries_per_s']} deliveries/s (creates done after "
                    f"{delivery['create_seconds']} s; bulk answer → received p50 "
                    f"{delivery['created_to_received']['p50_ms']} ms, p99 "
                    f"{delivery['created_to_received']['p99_ms']} ms; CPU per delivery: "
                    f"worker {delivery['cpu_ms_per_delivery'].get('worker', '—')} ms, "
                    f"api {delivery['cpu_ms_per_delivery'].get('api', '—')} ms, "
                    f"this process {delivery['cpu_ms_per_delivery']['process']} ms, Temporal "
                    f"{delivery['cpu_ms_per_delivery']['temporal_server']} ms; "
                    f"{delivery['duplicates']} duplicates)",
                    flush=True,
                )
                results = [
                    await _round(stack, side, receiver, i, posts, p["concurrency"], endpoints)
                    for i in range(rounds)
                ]
                duplicates = receiver.duplicates - warmup_duplicates
    ratios = [ratio(w["targets_per_s"], wo["targets_per_s"]) for w, wo in results]
    middle = sorted(range(rounds), key=lambda i: ratios[i])[(rounds - 1) // 2]
    with_endpoints, without = results[middle]
    value = ratios[middle]
    met = at_least(GOAL)(value)
    print(
        f"[{NAME}] ratio with/without endpoints per round: "
        f"{', '.join(f'{r:.2f}' for r in ratios)}; median {value:.2f} (goal ≥ {GOAL}: "
        f"{'met' if met else 'NOT met'}); duplicate deliveries: {duplicates} while measuring, "
        f"{warmup_duplicates} in the warm-up (the in-process dispatcher stopping)",
        flush=True,
    )
    if duplicates:
        log.warning("%s: %d deliveries arrived twice while measuring", NAME, duplicates)
    return {
        "name": NAME,
        "database": stack.database,
        "params": {
            "layout": "in_process" if in_process else "processes",
            **p,
            "accounts": throughput.ACCOUNTS,
            "webhook_poll_s": stack.settings.webhook_poll_s,
        },
        "deliveries": delivery,
        "with_endpoints": with_endpoints,
        "without_endpoints": without,
        "round_ratios": [round(r, 3) for r in ratios],
        "ratio": round(value, 3),
        "duplicates": {"measured": duplicates, "warmup": warmup_duplicates},
        "goal": f">= {GOAL}",
        "met": met,
        "rows": [
            row(
                f"webhook deliveries / s (post.created x {endpoints} endpoints)",
                delivery["deliveries_per_s"],
                None,
                None,
                "—",
                None,
                baseline_label="",
            ),
            row(
                f"targets published / s, {endpoints} endpoints vs none",
                with_endpoints["targets_per_s"],
                without["targets_per_s"],
                value,
                f"≥ {GOAL}",
                met,
                measured_label=f"{endpoints} endpoints",
                baseline_label="no endpoints",
            ),
        ],
    }
