"""A worker killed with SIGKILL while 50 posts are publishing loses nothing and duplicates
nothing: after a new worker starts, every target is published exactly once."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

from sqlalchemy import func, select

from herald.db.models import PostTarget
from herald.status import TargetStatus
from tests.e2e.conftest import start_worker
from tests.support.stack import Stack

POSTS = 50


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
    worker = start_worker(env, log)
    # The platform stores each status, then answers slowly: the worst moment to die. Slow
    # enough that creating the posts one by one ends while most are still in flight (at 0.5 s
    # a worker that takes posts in fast had published all 50 before the check).
    fault = {
        "platform": "mastodon",
        "delay_s": 2.0,
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
    worker = start_worker(env, log)
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
