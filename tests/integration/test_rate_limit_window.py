"""150 posts to one X account due at the same second, where X allows 100 per window: 100
publish at once, the rest meet 429s that name the window's reset, wait exactly that long and
then publish. None fails: a rate limit is waited out, and it is not an attempt.

Runs on its own Herald and its own emulator, whose X window is 15 seconds instead of 15
minutes (a window begins with its first request, as X's do), on Herald's default retry budget
(publish_deadline_s, no attempt cap)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from api.gateway import TemporalGateway
from api.resources import Resources
from emulator.app import create_app as create_emulator
from herald.migrate import migrate
from tests.support.servers import free_port, serve_in_thread
from tests.support.stack import Stack, make_settings
from worker import running_workers

POSTS = 150
# Long enough for the worker to bring a burst of 150 to X inside one window on a small
# machine (about 10 s), short enough not to wait minutes.
WINDOW_S = 15
# Time to create the posts before they are due: 150 took 16 s on a machine the rest of the
# suite kept busy (the wait is idle time, not CPU).
CREATE_S = 30


@pytest.fixture
async def windowed_stack(temporal_env: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[Stack]:
    emulator_port = free_port()
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'herald.db'}"
    await asyncio.to_thread(migrate, database_url)
    settings = make_settings(
        database_url=database_url,
        data_dir=tmp_path / "data",
        temporal_address=temporal_env.client.service_client.config.target_host,
        temporal_task_queue=f"window-{uuid.uuid4().hex[:8]}",
        emulator_port=emulator_port,
        api_port=free_port(),
        publish_attempts=0,  # Herald's default: retried until the deadline, not counted
    )
    with serve_in_thread(create_emulator(x_rate_period_s=WINDOW_S), emulator_port) as url:
        resources = Resources.build(settings)
        resources.temporal = TemporalGateway(settings, temporal_env.client)
        async with (
            running_workers(settings, temporal_env.client),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=create_app(settings, resources)),
                base_url="http://herald",
                timeout=60,
            ) as api,
            httpx.AsyncClient(base_url=url, timeout=30) as emulator,
        ):
            yield Stack("window", settings, resources, api, emulator, resources.cipher)
        await resources.close()


async def test_posts_over_the_x_window_publish_after_it_resets(windowed_stack: Stack) -> None:
    stack = windowed_stack
    tenant = await stack.new_tenant(("x",))
    account = str(tenant.accounts["x"])
    # All due at once, after they are all created: a burst the window cannot take whole.
    due = datetime.fromtimestamp(int(time.time()) + CREATE_S, UTC)
    began = time.monotonic()
    ids = []
    for first in range(0, POSTS, 100):  # bulk creates: the burst is the test, not the API
        items = [
            {
                "content": f"window post {index}",
                "scheduled_at": due.isoformat(),
                "targets": [{"account_id": account}],
            }
            for index in range(first, min(first + 100, POSTS))
        ]
        created = await stack.api.post(
            "/v1/posts/bulk", json={"posts": items}, headers=tenant.headers
        )
        assert created.status_code == 207, created.text
        results = created.json()["results"]
        assert {r["status"] for r in results} == {201}, results[:2]
        ids += [r["post"]["id"] for r in results]
    created_s = time.monotonic() - began
    assert datetime.now(UTC) < due, f"creating took {created_s:.0f} s: raise CREATE_S"
    posts = [
        await stack.wait_for_post(tenant, post_id, timeout_s=4 * WINDOW_S + 60) for post_id in ids
    ]
    statuses = [p["status"] for p in posts]
    assert statuses == ["published"] * POSTS, [
        p["targets"][0]["error"] for p in posts if p["status"] != "published"
    ][:3]
    tweets = await stack.emulator_posts("x", tenant.usernames["x"])
    assert sorted(t["text"] for t in tweets) == sorted(f"window post {i}" for i in range(POSTS))
    # Waiting out a 429 is not an attempt, whoever met it (the target or its account).
    assert {p["targets"][0]["attempts"] for p in posts} == {1}
    times = sorted(datetime.fromisoformat(p["published_at"]) for p in posts)
    # The window began with the first tweet (published_at is the platform's, whole seconds).
    reset = times[0] + timedelta(seconds=WINDOW_S - 1)
    after_reset = [t for t in times if t >= reset]
    print(f"created in {created_s:.1f} s; {len(after_reset)} after the reset")
    assert len(after_reset) >= POSTS - 100  # the last ones only once the window reset
