"""A worker killed with SIGKILL while 50 posts are publishing loses nothing and duplicates
nothing: after a new worker starts, every target is published exactly once."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from api.resources import Resources
from herald.db.models import PostTarget
from herald.dispatch import TemporalGateway
from herald.migrate import migrate
from herald.schedules import reconciler_schedule_id
from herald.status import TargetStatus
from tests.support.servers import throwaway_postgres_database
from tests.support.stack import Stack, make_settings

BIN = Path(sys.executable).parent
POSTS = 50


@pytest.fixture(params=["sqlite", "postgres"])
def crash_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'crash.db'}"
        migrate(url)
        yield url
    else:
        with throwaway_postgres_database() as url:
            migrate(url)
            yield url


@pytest.fixture
async def crash_stack(
    crash_db: str, temporal_env: WorkflowEnvironment, emulator_url: str, tmp_path: Path
) -> AsyncIterator[tuple[Stack, dict[str, str]]]:
    settings = make_settings(
        database_url=crash_db,
        data_dir=tmp_path / "data",
        temporal_address=temporal_env.client.service_client.config.target_host,
        temporal_task_queue=f"crash-{uuid.uuid4().hex[:8]}",
        emulator_port=int(emulator_url.rsplit(":", 1)[1]),
    )
    env = {
        **os.environ,
        "HERALD_DATABASE_URL": crash_db,
        "HERALD_TEMPORAL_ADDRESS": settings.temporal_address,
        "HERALD_TEMPORAL_TASK_QUEUE": settings.temporal_task_queue,
        "HERALD_SECRET_KEY": settings.secret_key.get_secret_value(),  # type: ignore[union-attr]
        "HERALD_DATA_DIR": str(settings.data_dir),
        "HERALD_LOG_LEVEL": "WARNING",
    }
    resources = Resources.build(settings)
    resources.temporal = TemporalGateway(settings, temporal_env.client)
    app = create_app(settings, resources)
    async with (
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://herald") as api,
        httpx.AsyncClient(base_url=emulator_url, timeout=10) as emulator,
    ):
        yield Stack("crash", settings, resources, api, emulator, resources.cipher), env
    await resources.close()
    # The worker created it; nothing polls this queue any more.
    with contextlib.suppress(RPCError):
        await temporal_env.client.get_schedule_handle(reconciler_schedule_id(settings)).delete()


def _start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [str(BIN / "herald"), "worker"], env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT
    )


async def _count(stack: Stack, status: TargetStatus) -> int:
    async with stack.resources.sessions() as session:
        return int(
            await session.scalar(
                select(func.count()).select_from(PostTarget).where(PostTarget.status == status)
            )
            or 0
        )


async def test_sigkill_mid_publish_publishes_everything_exactly_once(
    crash_stack: tuple[Stack, dict[str, str]], tmp_path: Path
) -> None:
    stack, env = crash_stack
    tenant = await stack.new_tenant()
    log = tmp_path / "worker.log"
    worker = _start_worker(env, log)
    # The platform stores each status, then answers slowly: the worst moment to die.
    fault = {
        "platform": "mastodon",
        "delay_s": 0.5,
        "path": "/api/v1/statuses",
        "method": "POST",
        "phase": "after",
    }
    await stack.emulator.post("/_emulator/faults", json=fault)
    try:
        ids = []
        for index in range(POSTS):
            created = await stack.api.post(
                "/v1/posts",
                json={
                    "content": f"crash test {index}",
                    "publish_now": True,
                    "targets": [{"account_id": str(tenant.accounts["mastodon"])}],
                },
                headers=tenant.headers,
            )
            assert created.status_code == 201, created.text
            ids.append(created.json()["id"])
        for _ in range(300):
            if await _count(stack, TargetStatus.PUBLISHED) >= 5 and await _count(
                stack, TargetStatus.PUBLISHING
            ):
                break
            await asyncio.sleep(0.1)
        assert await _count(stack, TargetStatus.PUBLISHING) > 0, log.read_text()[-2000:]
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
    finally:
        await stack.emulator.delete("/_emulator/faults")
    worker = _start_worker(env, log)
    try:
        for post_id in ids:
            post = await stack.wait_for_post(tenant, post_id, timeout_s=120)
            assert post["status"] == "published", post
    finally:
        worker.terminate()
        worker.wait(30)
    statuses = await stack.emulator_posts("mastodon", tenant.usernames["mastodon"])
    texts = [s["text"] for s in statuses]
    assert len(texts) == POSTS and len(set(texts)) == POSTS
    by_text = {s["text"]: s["id"] for s in statuses}
    for post_id in ids:
        post = (await stack.api.get(f"/v1/posts/{post_id}", headers=tenant.headers)).json()
        assert post["targets"][0]["platform_post_id"] == by_text[post["content"]]
