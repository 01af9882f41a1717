"""Postgres unreachable for 20 s while posts publish (a TCP proxy the test owns is cut; the
shared server is untouched): the API answers 503 UNAVAILABLE with Retry-After meanwhile, never a
500, and once the database is back every target is published exactly once."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from api.gateway import TemporalGateway
from api.resources import Resources
from herald.migrate import migrate
from tests.e2e.conftest import child_environment, start_worker
from tests.support.servers import free_port, throwaway_postgres_database
from tests.support.stack import Stack, make_settings
from tests.support.tcp_proxy import TcpProxy

POSTS = 10
OUTAGE_S = 20.0


@pytest.fixture
async def proxied_stack(
    temporal_env: WorkflowEnvironment, emulator_url: str, tmp_path: Path
) -> AsyncIterator[tuple[Stack, dict[str, str], TcpProxy]]:
    with throwaway_postgres_database() as direct_url:
        await asyncio.to_thread(migrate, direct_url)
        proxy = TcpProxy("127.0.0.1", 5432, free_port())
        await proxy.start()
        settings = make_settings(
            database_url=direct_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}"),
            data_dir=tmp_path / "data",
            temporal_address=temporal_env.client.service_client.config.target_host,
            temporal_task_queue=f"outage-{uuid.uuid4().hex[:8]}",
            emulator_port=int(emulator_url.rsplit(":", 1)[1]),
        )
        env = child_environment(settings)
        resources = Resources.build(settings)
        resources.temporal = TemporalGateway(settings, temporal_env.client)
        try:
            async with (
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=create_app(settings, resources)),
                    base_url="http://herald",
                    timeout=30,
                ) as api,
                httpx.AsyncClient(base_url=emulator_url, timeout=10) as emulator,
            ):
                yield (
                    Stack("outage", settings, resources, api, emulator, resources.cipher),
                    env,
                    proxy,
                )
        finally:
            await resources.close()
            await proxy.close()


async def test_a_database_outage_mid_publish_loses_nothing_and_posts_nothing_twice(
    proxied_stack: tuple[Stack, dict[str, str], TcpProxy], tmp_path: Path
) -> None:
    stack, env, proxy = proxied_stack
    tenant = await stack.new_tenant()
    account = str(tenant.accounts["mastodon"])
    log = tmp_path / "worker.log"
    worker = start_worker(env, log)
    slow = {"platform": "mastodon", "delay_s": 1.0, "path": "/api/v1/statuses", "phase": "after"}
    await stack.emulator.post("/_emulator/faults", json=slow)
    try:
        ids = []
        for index in range(POSTS):
            created = await stack.api.post(
                "/v1/posts",
                json={
                    "content": f"outage {index}",
                    "publish_now": True,
                    "targets": [{"account_id": account}],
                },
                headers=tenant.headers,
            )
            assert created.status_code == 201, created.text
            ids.append(created.json()["id"])
        deadline = time.monotonic() + 60
        while not (await stack.emulator_posts("mastodon", tenant.usernames["mastodon"])):
            assert time.monotonic() < deadline, log.read_text()[-2000:]
            await asyncio.sleep(0.2)
        await proxy.cut()
        cut_at = time.monotonic()
        answers = []
        while time.monotonic() - cut_at < OUTAGE_S:
            began = time.monotonic()
            read = await stack.api.get(f"/v1/posts/{ids[-1]}", headers=tenant.headers)
            assert time.monotonic() - began < 10, "a request hung on the missing database"
            answers.append(read.status_code)
            if read.status_code == 503:
                assert read.json()["error"]["code"] == "UNAVAILABLE"
                assert int(read.headers["Retry-After"]) > 0
            await asyncio.sleep(1.0)
        assert set(answers) == {503}, answers
        await stack.emulator.delete("/_emulator/faults")
        await proxy.restore()
        for post_id in ids:
            post = await stack.wait_for_post(tenant, post_id, timeout_s=120)
            assert post["status"] == "published", post
    finally:
        worker.terminate()
        worker.wait(30)
    statuses = await stack.emulator_posts("mastodon", tenant.usernames["mastodon"])
    assert sorted(s["text"] for s in statuses) == sorted(f"outage {i}" for i in range(POSTS))
