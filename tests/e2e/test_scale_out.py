"""Two API processes and two workers on one Postgres, as a scaled-out deployment runs; one API
and one worker SIGKILLed mid-run. A client that retries on the other API with the same
Idempotency-Key loses no post and makes none twice, and every target is published once."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
from temporalio.testing import WorkflowEnvironment

from api.resources import Resources
from herald.migrate import migrate
from tests.e2e.conftest import child_environment, start_worker
from tests.support.servers import free_port, throwaway_postgres_database
from tests.support.stack import Stack, Tenant, make_settings

BIN = Path(sys.executable).parent
POSTS = 40


def _start_api(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [str(BIN / "herald"), "api"],
        env={**env, "HERALD_API_PORT": str(port)},
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


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


async def test_one_api_and_one_worker_killed_lose_nothing(
    temporal_env: WorkflowEnvironment, emulator_url: str, tmp_path: Path
) -> None:
    with throwaway_postgres_database() as database_url:
        await asyncio.to_thread(migrate, database_url)
        settings = make_settings(
            database_url=database_url,
            data_dir=tmp_path / "data",
            temporal_address=temporal_env.client.service_client.config.target_host,
            temporal_task_queue=f"scale-{uuid.uuid4().hex[:8]}",
            emulator_port=int(emulator_url.rsplit(":", 1)[1]),
        )
        env = child_environment(settings)
        log = tmp_path / "processes.log"
        ports = [free_port(), free_port()]
        apis = [_start_api(env, port, log) for port in ports]
        workers = [start_worker(env, log) for _ in range(2)]
        urls = [f"http://127.0.0.1:{port}" for port in ports]
        resources = Resources.build(settings)
        try:
            for url in urls:
                await _up(url, log)
            async with (
                httpx.AsyncClient(base_url=urls[1], timeout=30) as survivor,
                httpx.AsyncClient(base_url=emulator_url, timeout=10) as emulator,
            ):
                stack = Stack("scale", settings, resources, survivor, emulator, resources.cipher)
                tenant = await stack.new_tenant()
                slow = {
                    "platform": "mastodon",
                    "delay_s": 0.5,
                    "path": "/api/v1/statuses",
                    "phase": "after",
                }
                await emulator.post("/_emulator/faults", json=slow)
                try:
                    ids = await _create_through_both(tenant, urls, apis[0], workers[0])
                finally:
                    await emulator.delete("/_emulator/faults")
                for post_id in ids:
                    post = await stack.wait_for_post(tenant, post_id, timeout_s=120)
                    assert post["status"] == "published", post
                statuses = await stack.emulator_posts("mastodon", tenant.usernames["mastodon"])
        finally:
            await resources.close()
            for process in [*apis, *workers]:
                if process.poll() is None:
                    process.terminate()
                    process.wait(30)
    assert len(ids) == POSTS
    texts = sorted(s["text"] for s in statuses)
    assert texts == sorted(f"scaled {i}" for i in range(POSTS)), log.read_text()[-2000:]


async def _create_through_both(
    tenant: Tenant,
    urls: list[str],
    doomed_api: subprocess.Popen[bytes],
    doomed_worker: subprocess.Popen[bytes],
) -> list[str]:
    """Posts sent to each API in turn, with an Idempotency-Key; a third of the way in, one API
    and one worker die, and a request that fails on the dead API is sent to the other."""
    ids: list[str] = []
    async with httpx.AsyncClient(timeout=30) as client:
        for index in range(POSTS):
            if index == POSTS // 3:
                doomed_api.send_signal(signal.SIGKILL)
                doomed_worker.send_signal(signal.SIGKILL)
            headers = {**tenant.headers, "Idempotency-Key": f"scaled-{index}"}
            body = {
                "content": f"scaled {index}",
                "publish_now": True,
                "targets": [{"account_id": str(tenant.accounts["mastodon"])}],
            }
            for url in (urls[index % 2], urls[(index + 1) % 2]):
                try:
                    created = await client.post(f"{url}/v1/posts", json=body, headers=headers)
                except httpx.TransportError:
                    continue  # the dead API: the same request, the same key, to the other
                assert created.status_code == 201, created.text
                ids.append(created.json()["id"])
                break
    return ids
