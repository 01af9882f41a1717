"""Rate limits per caller, per workspace and in all (API.md "Conventions"): a burst from one
key gets exactly its limit of answers per window and 429s with Retry-After after that, every
answer says where the caller stands; two `herald api` processes sharing Redis enforce one
limit together; and with Redis unreachable the API keeps answering (counting in memory).

Each test has its own Herald on the suite's database with its own limits, and its own key
prefix in the shared Redis (127.0.0.1:6379), so parallel runs never share counters."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as redis

from api.app import create_app
from api.counters import RETRY_S
from api.resources import Resources
from herald.settings import Settings
from tests.support.servers import free_port
from tests.support.stack import Stack, Tenant
from tests.support.tcp_proxy import TcpProxy

BIN = Path(sys.executable).parent
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
REDIS_URL = f"redis://{REDIS_HOST}:{REDIS_PORT}/0"
LIMIT_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")


def _prefix() -> str:
    return f"herald-test-{uuid.uuid4().hex[:12]}"


@asynccontextmanager
async def limited_api(stack: Stack, **limits: Any) -> AsyncIterator[httpx.AsyncClient]:
    """Herald on the suite's database, with these rate-limit settings."""
    settings = stack.settings.model_copy(update=limits)
    resources = Resources.build(settings)
    resources.temporal = stack.resources.temporal
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(settings, resources)),
            base_url="http://herald",
        ) as api:
            yield api
    finally:
        await resources.close()


# The burst tests' window: a burst must fit in one, and 30 requests through the in-process API
# can take over a second while the rest of the suite loads both cores.
BURST_WINDOW_S = 3


async def _burst(api: httpx.AsyncClient, tenant: Tenant, count: int) -> list[httpx.Response]:
    return list(
        await asyncio.gather(
            *(api.get("/v1/accounts", headers=tenant.headers) for _ in range(count))
        )
    )


def _has_limit_headers(response: httpx.Response) -> None:
    for header in LIMIT_HEADERS:
        assert response.headers.get(header, "").isdigit(), (header, response.headers)


def _refused(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    error = response.json()["error"]
    assert error["code"] == "RATE_LIMITED" and error["request_id"].startswith("req_")
    assert response.headers["X-RateLimit-Remaining"] == "0"
    assert 1 <= int(response.headers["Retry-After"]) <= BURST_WINDOW_S


@pytest.mark.parametrize("storage", ["memory", "redis"])
async def test_a_burst_from_one_key_gets_ten_answers_a_window(stack: Stack, storage: str) -> None:
    tenant = await stack.new_tenant()
    redis_url = REDIS_URL if storage == "redis" else None
    async with limited_api(
        stack,
        redis_url=redis_url,
        redis_key_prefix=_prefix(),
        rate_limit_per_caller=f"10/{BURST_WINDOW_S} seconds",
        rate_limit_per_workspace="100/second",
        rate_limit_global="1000/second",
    ) as api:
        # A burst within one window: a machine too busy to send 30 in one gets another try,
        # each in a fresh window.
        for _ in range(3):
            started = time.monotonic()
            answers = await _burst(api, tenant, 30)
            if time.monotonic() - started < BURST_WINDOW_S:
                break
            await asyncio.sleep(BURST_WINDOW_S + 0.1)
        else:
            raise AssertionError(f"could not send 30 requests within {BURST_WINDOW_S} s")
        served = [a for a in answers if a.status_code != 429]
        assert len(served) == 10, [a.status_code for a in answers]
        assert all(a.status_code == 200 for a in served)
        for answer in answers:
            _has_limit_headers(answer)
            assert answer.headers["X-RateLimit-Limit"] == "10"  # the key's scope, the tightest
        assert {int(a.headers["X-RateLimit-Remaining"]) for a in served} <= set(range(10))
        for answer in answers:
            if answer.status_code == 429:
                _refused(answer)

        # The next window serves the key again, ten times.
        await asyncio.sleep(BURST_WINDOW_S + 0.1)
        for _ in range(3):
            started = time.monotonic()
            again = await _burst(api, tenant, 12)
            if time.monotonic() - started < BURST_WINDOW_S:
                break
            await asyncio.sleep(BURST_WINDOW_S + 0.1)
        assert [a.status_code for a in again].count(200) == 10
        for answer in again:
            _has_limit_headers(answer)


async def test_the_workspace_and_global_scopes(stack: Stack) -> None:
    tenant = await stack.new_tenant()
    other_key = await stack.second_key(tenant)
    async with limited_api(
        stack,
        redis_url=REDIS_URL,
        redis_key_prefix=_prefix(),
        rate_limit_per_caller="10/minute",
        rate_limit_per_workspace="15/minute",
        rate_limit_global="1000/minute",
    ) as api:
        for _ in range(10):
            assert (await api.get("/v1/accounts", headers=tenant.headers)).status_code == 200
        refused = await api.get("/v1/accounts", headers=tenant.headers)
        _refused_for(refused, limit=10)
        served = [await api.get("/v1/accounts", headers=other_key) for _ in range(5)]
        assert [a.status_code for a in served] == [200] * 5
        # The second key has 5 of its own left, the workspace none: that one is shown.
        assert served[-1].headers["X-RateLimit-Limit"] == "15"
        assert served[-1].headers["X-RateLimit-Remaining"] == "0"
        _refused_for(await api.get("/v1/accounts", headers=other_key), limit=15)
        # Another workspace has its own allowance; the global scope counted everything served.
        elsewhere = await stack.new_tenant()
        answer = await api.get("/v1/accounts", headers=elsewhere.headers)
        assert answer.status_code == 200 and answer.headers["X-RateLimit-Remaining"] == "9"
        # Unauthenticated requests count in the global scope only, and say so.
        nobody = await api.get("/v1/accounts")
        assert nobody.status_code == 401
        assert nobody.headers["X-RateLimit-Limit"] == "1000"
        assert nobody.headers["X-RateLimit-Remaining"] == str(1000 - 17)
        # Probes are neither counted nor refused.
        assert "X-RateLimit-Limit" not in (await api.get("/healthz")).headers


def _refused_for(response: httpx.Response, limit: int) -> None:
    assert response.status_code == 429, response.text
    assert response.json()["error"]["code"] == "RATE_LIMITED"
    assert response.headers["X-RateLimit-Limit"] == str(limit)
    assert response.headers["X-RateLimit-Remaining"] == "0"
    assert 1 <= int(response.headers["Retry-After"]) <= 60


async def _storage_errors(api: httpx.AsyncClient) -> float:
    for line in (await api.get("/metrics")).text.splitlines():
        if line.startswith("herald_rate_limit_storage_errors_total "):
            return float(line.split()[1])
    raise AssertionError("herald_rate_limit_storage_errors_total is not served")


async def test_with_redis_unreachable_the_api_still_answers(stack: Stack) -> None:
    tenant = await stack.new_tenant()
    closed = free_port()  # nothing listens there
    async with limited_api(
        stack,
        redis_url=f"redis://127.0.0.1:{closed}/0",
        redis_key_prefix=_prefix(),
        rate_limit_per_caller="10/minute",
    ) as api:
        answers = [await api.get("/v1/accounts", headers=tenant.headers) for _ in range(10)]
        assert [a.status_code for a in answers] == [200] * 10
        for answer in answers:
            _has_limit_headers(answer)
        assert await _storage_errors(api) >= 1
        # Meanwhile this process counts alone: the limit still holds here.
        _refused_for(await api.get("/v1/accounts", headers=tenant.headers), limit=10)


async def test_redis_cut_off_and_back(stack: Stack) -> None:
    """Redis behind a proxy the test owns (the shared Redis is never stopped): cut off, the
    API answers from memory; back, it counts in Redis again."""
    tenant = await stack.new_tenant()
    proxy = TcpProxy(REDIS_HOST, REDIS_PORT, free_port())
    await proxy.start()
    prefix = _prefix()
    direct = redis.Redis(host=REDIS_HOST, port=REDIS_PORT)
    try:
        async with limited_api(
            stack,
            redis_url=f"redis://127.0.0.1:{proxy.port}/0",
            redis_key_prefix=prefix,
            # Through the test's own proxy, on a machine the suite loads, Redis can take over
            # the default quarter second to answer; only the cut may count as a failure.
            redis_timeout_s=2.0,
            rate_limit_per_caller="100/minute",
        ) as api:
            assert (await api.get("/v1/accounts", headers=tenant.headers)).status_code == 200
            assert await direct.keys(f"{prefix}*")  # counted in Redis
            assert await _storage_errors(api) == 0
            await proxy.cut()
            started = time.monotonic()
            cut_off = [await api.get("/v1/accounts", headers=tenant.headers) for _ in range(5)]
            assert [a.status_code for a in cut_off] == [200] * 5
            assert time.monotonic() - started < 5  # a failed count costs little, once
            assert await _storage_errors(api) >= 1
            await direct.delete(*await direct.keys(f"{prefix}*"))
            await proxy.restore()
            await asyncio.sleep(RETRY_S + 0.2)
            assert (await api.get("/v1/accounts", headers=tenant.headers)).status_code == 200
            assert await direct.keys(f"{prefix}*")  # counted in Redis again
    finally:
        await proxy.close()
        keys = await direct.keys(f"{prefix}*")
        if keys:
            await direct.delete(*keys)
        await direct.aclose()


@contextmanager
def _herald_apis(settings: Settings, count: int, log: Path) -> Iterator[list[str]]:
    env = {
        **os.environ,
        **settings.as_environment(
            "database_url",
            "secret_key",
            "data_dir",
            "temporal_address",
            "redis_url",
            "redis_key_prefix",
            "rate_limit_per_caller",
            "rate_limit_per_workspace",
            "rate_limit_global",
        ),
        "HERALD_LOG_LEVEL": "WARNING",
    }
    ports = [free_port() for _ in range(count)]
    processes = [
        subprocess.Popen(
            [str(BIN / "herald"), "api"],
            env={**env, "HERALD_API_PORT": str(port)},
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
        )
        for port in ports
    ]
    try:
        yield [f"http://127.0.0.1:{port}" for port in ports]
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


async def _up(url: str, log: Path) -> None:
    deadline = time.monotonic() + 60
    async with httpx.AsyncClient(timeout=2) as client:
        while True:
            try:
                if (await client.get(f"{url}/healthz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"the API did not come up; see {log}"
            await asyncio.sleep(0.2)


async def test_two_api_processes_sharing_redis_enforce_one_limit(
    stack: Stack, tmp_path: Path
) -> None:
    tenant = await stack.new_tenant()
    prefix = _prefix()
    # A minute's window: the test's pace on a busy machine cannot spill into a second one.
    settings = stack.settings.model_copy(
        update={
            "redis_url": REDIS_URL,
            "redis_key_prefix": prefix,
            "rate_limit_per_caller": "20/minute",
            "rate_limit_per_workspace": "1000/minute",
            "rate_limit_global": "1000/minute",
        }
    )
    log = tmp_path / "apis.log"
    with _herald_apis(settings, 2, log) as urls:
        for url in urls:
            await _up(url, log)
        async with httpx.AsyncClient(timeout=30, headers=tenant.headers) as client:
            answers = [await client.get(f"{urls[i % 2]}/v1/accounts") for i in range(30)]
    statuses = [a.status_code for a in answers]
    assert statuses.count(200) == 20 and statuses.count(429) == 10, statuses
    # Both processes served and refused: the count is theirs together.
    assert {a.status_code for a in answers[0::2]} == {200, 429}
    assert {a.status_code for a in answers[1::2]} == {200, 429}
    remaining = [int(a.headers["X-RateLimit-Remaining"]) for a in answers if a.status_code == 200]
    assert remaining == list(range(19, -1, -1))
    direct = redis.Redis(host=REDIS_HOST, port=REDIS_PORT)
    try:
        keys = await direct.keys(f"{prefix}*")
        if keys:
            await direct.delete(*keys)
    finally:
        await direct.aclose()


async def test_a_refused_write_is_not_kept_for_its_idempotency_key(stack: Stack) -> None:
    tenant = await stack.new_tenant()
    draft = {
        "content": "once the window allows",
        "draft": True,
        "targets": [{"account_id": str(tenant.accounts["mastodon"])}],
    }
    headers = {**tenant.headers, "Idempotency-Key": f"k-{uuid.uuid4().hex}"}
    async with limited_api(stack, rate_limit_per_caller="2/second") as api:
        for _ in range(3):  # a busy machine gets another window to spend at once
            spent = [await api.get("/v1/accounts", headers=tenant.headers) for _ in range(2)]
            refused = await api.post("/v1/posts", json=draft, headers=headers)
            if refused.status_code == 429:
                break
            assert refused.status_code == 201, refused.text
            headers["Idempotency-Key"] = f"k-{uuid.uuid4().hex}"
            await asyncio.sleep(1.1)
        assert [a.status_code for a in spent] == [200, 200]
        _refused(refused)
        await asyncio.sleep(1.1)
        made = await api.post("/v1/posts", json=draft, headers=headers)
        assert made.status_code == 201, made.text
        assert "Idempotent-Replayed" not in made.headers
        replayed = await api.post("/v1/posts", json=draft, headers=headers)
        assert replayed.status_code == 201 and replayed.headers["Idempotent-Replayed"] == "true"
        assert replayed.json()["id"] == made.json()["id"]
