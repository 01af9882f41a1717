"""A worker SIGKILLed between the parts of a Mastodon thread: the second part is stored by the
platform, its answer never arrives. The next worker finishes the thread without a part twice:
three statuses, each replying to the one before."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

from tests.e2e.conftest import start_worker
from tests.integration.test_mastodon_threads import PARTS, _assert_chain, _statuses
from tests.support.stack import Stack


async def test_sigkill_between_thread_parts_makes_no_part_twice(
    crash_stack: tuple[Stack, dict[str, str]], tmp_path: Path
) -> None:
    stack, env = crash_stack
    tenant = await stack.new_tenant()
    log = tmp_path / "worker.log"
    # The head goes through; the second part is stored, then its answer is held back.
    held = {
        "platform": "mastodon",
        "delay_s": 30.0,
        "path": "/api/v1/statuses",
        "method": "POST",
        "phase": "after",
        "skip": 1,
        "count": 1,
    }
    await stack.emulator.post("/_emulator/faults", json=held)
    worker = start_worker(env, log)
    try:
        created = await stack.api.post(
            "/v1/posts",
            json={
                "content": PARTS[0],
                "publish_now": True,
                "targets": [
                    {
                        "account_id": str(tenant.accounts["mastodon"]),
                        "options": {"thread": PARTS[1:]},
                    }
                ],
            },
            headers=tenant.headers,
        )
        assert created.status_code == 201, created.text
        deadline = time.monotonic() + 30
        while len(await _statuses(stack, tenant)) < 2:
            assert time.monotonic() < deadline, log.read_text()[-2000:]
            await asyncio.sleep(0.1)
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
    finally:
        await stack.emulator.delete("/_emulator/faults")
    worker = start_worker(env, log)
    try:
        post = await stack.wait_for_post(tenant, created.json()["id"], timeout_s=60)
    finally:
        worker.terminate()
        worker.wait(30)
    [target] = post["targets"]
    assert target["status"] == "published", target["error"]
    statuses = await _statuses(stack, tenant)
    _assert_chain(statuses)
    assert target["platform_post_id"] == statuses[0]["id"]
