"""The Temporal server SIGKILLed mid-publish and started again on its database file: while it
is down the API answers at once (a create is stored and answered 201, and the reconciler
starts its workflow once the engine is back; an operation that needs the engine now is a 503
with Retry-After), never a 500 or a long hang; a create retried with its Idempotency-Key is
one post; afterwards every target is published exactly once."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from api.app import create_app
from api.resources import Resources
from herald import temporal as names
from herald.migrate import migrate
from herald.processes import temporal_dev_server_command
from herald.settings import Settings
from tests.e2e.conftest import child_environment, start_worker
from tests.support.servers import free_port
from tests.support.stack import Stack, make_settings

POSTS = 8
# An answer while the engine is down: quick, not after the client's whole retry budget.
QUICK_S = 12.0


async def _engine_up(settings: Settings, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            client = await asyncio.wait_for(names.connect(settings), 5)
            await client.service_client.check_health()
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.3)


def _start_temporal(settings: Settings, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        temporal_dev_server_command(settings), stdout=log.open("ab"), stderr=subprocess.STDOUT
    )


@pytest.fixture
async def own_engine(
    emulator_url: str, tmp_path: Path
) -> AsyncIterator[tuple[Stack, dict[str, str], Path]]:
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'herald.db'}"
    await asyncio.to_thread(migrate, database_url)
    settings = make_settings(
        database_url=database_url,
        data_dir=tmp_path / "data",
        temporal_address=f"127.0.0.1:{free_port()}",
        temporal_ui_port=free_port(),
        temporal_task_queue=f"survive-{uuid.uuid4().hex[:8]}",
        emulator_port=int(emulator_url.rsplit(":", 1)[1]),
        reconcile_interval_s=2,
    )
    settings.data_dir.mkdir(parents=True)
    env = child_environment(settings)
    resources = Resources.build(settings)
    async with (
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(settings, resources)),
            base_url="http://herald",
            timeout=60,
        ) as api,
        httpx.AsyncClient(base_url=emulator_url, timeout=10) as emulator,
    ):
        yield Stack("survive", settings, resources, api, emulator, resources.cipher), env, tmp_path
    await resources.close()


async def test_the_engine_killed_mid_publish_loses_nothing_and_posts_nothing_twice(
    own_engine: tuple[Stack, dict[str, str], Path],
) -> None:
    stack, env, folder = own_engine
    log = folder / "temporal.log"
    temporal = _start_temporal(stack.settings, log)
    worker: subprocess.Popen[bytes] | None = None
    try:
        await _engine_up(stack.settings)
        tenant = await stack.new_tenant()
        account = str(tenant.accounts["mastodon"])
        worker = start_worker(env, folder / "worker.log")
        slow = {
            "platform": "mastodon",
            "delay_s": 1.0,
            "path": "/api/v1/statuses",
            "phase": "after",
        }
        await stack.emulator.post("/_emulator/faults", json=slow)
        ids = []
        for index in range(POSTS):
            created = await stack.api.post(
                "/v1/posts",
                json={
                    "content": f"before {index}",
                    "publish_now": True,
                    "targets": [{"account_id": account}],
                },
                headers=tenant.headers,
            )
            assert created.status_code == 201, created.text
            ids.append(created.json()["id"])
        # Publishing under way (the worker is polling, the platform answers slowly).
        deadline = time.monotonic() + 60
        while not any(
            p["targets"][0]["attempts"]
            for p in [
                (await stack.api.get(f"/v1/posts/{i}", headers=tenant.headers)).json() for i in ids
            ]
        ):
            assert time.monotonic() < deadline, (folder / "worker.log").read_text()[-2000:]
            await asyncio.sleep(0.2)
        await asyncio.sleep(0.5)
        temporal.send_signal(signal.SIGKILL)
        temporal.wait(10)
        await stack.emulator.delete("/_emulator/faults")

        # Down: a create is stored and answered at once; its retry is the same post.
        key = {"Idempotency-Key": f"outage-{uuid.uuid4().hex[:8]}"}
        began = time.monotonic()
        during = await stack.api.post(
            "/v1/posts",
            json={"content": "during", "publish_now": True, "targets": [{"account_id": account}]},
            headers={**tenant.headers, **key},
        )
        assert time.monotonic() - began < QUICK_S
        assert during.status_code == 201, during.text
        again = await stack.api.post(
            "/v1/posts",
            json={"content": "during", "publish_now": True, "targets": [{"account_id": account}]},
            headers={**tenant.headers, **key},
        )
        assert again.status_code == 201 and again.json()["id"] == during.json()["id"]
        ids.append(during.json()["id"])
        # An operation that needs the engine now: 503 with Retry-After, quickly.
        draft = await stack.api.post(
            "/v1/posts",
            json={
                "content": "later",
                "scheduled_at": "2099-01-01T00:00:00Z",
                "targets": [{"account_id": account}],
            },
            headers=tenant.headers,
        )
        began = time.monotonic()
        cancel = await stack.api.post(
            f"/v1/posts/{draft.json()['id']}/cancel", headers=tenant.headers
        )
        assert time.monotonic() - began < QUICK_S
        assert cancel.status_code == 503, cancel.text
        assert cancel.json()["error"]["code"] == "UNAVAILABLE"
        assert int(cancel.headers["Retry-After"]) > 0

        temporal = _start_temporal(stack.settings, log)
        await _engine_up(stack.settings)
        for post_id in ids:
            post = await stack.wait_for_post(tenant, post_id, timeout_s=90)
            assert post["status"] == "published", post
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(30)
        temporal.terminate()
        temporal.wait(30)
    statuses = await stack.emulator_posts("mastodon", tenant.usernames["mastodon"])
    texts = sorted(s["text"] for s in statuses)
    assert texts == sorted([f"before {i}" for i in range(POSTS)] + ["during"])
