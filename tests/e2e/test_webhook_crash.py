"""A worker killed with SIGKILL while 200 webhook events are being delivered loses none:
after a new worker starts, every event has reached the receiver, and an event that arrived
twice arrived under one webhook-id."""

from __future__ import annotations

import asyncio
import signal
import time
from collections import defaultdict
from pathlib import Path

from tests.e2e.conftest import start_worker
from tests.support.receiver import running_receiver
from tests.support.stack import Stack

EVENTS = 200


async def test_sigkill_mid_delivery_loses_no_event(
    crash_stack: tuple[Stack, dict[str, str]], tmp_path: Path
) -> None:
    stack, env = crash_stack
    tenant = await stack.new_tenant()
    log = tmp_path / "worker.log"
    with running_receiver() as receiver:
        # Slow answers: deliveries are in flight when the worker dies.
        receiver.delay_s = 0.15
        subscribed = await stack.api.post(
            "/v1/webhooks",
            json={"url": receiver.url + "/crash", "events": ["post.created"]},
            headers=tenant.headers,
        )
        assert subscribed.status_code == 201, subscribed.text
        ids: list[str] = []
        for first in range(0, EVENTS, 100):
            items = [
                {
                    "content": f"event {i}",
                    "draft": True,
                    "targets": [{"account_id": str(tenant.accounts["mastodon"])}],
                }
                for i in range(first, first + 100)
            ]
            created = await stack.api.post(
                "/v1/posts/bulk", json={"posts": items}, headers=tenant.headers
            )
            assert created.status_code == 207, created.text
            ids += [r["post"]["id"] for r in created.json()["results"]]
        worker = start_worker(env, log)
        try:
            await receiver.wait_for("/crash", 20, timeout_s=60)
        finally:
            worker.send_signal(signal.SIGKILL)
            worker.wait(10)
        delivered_before = len(receiver.at("/crash"))
        assert delivered_before < EVENTS, "all delivered before the kill: slow the receiver"
        worker = start_worker(env, log)
        try:
            deadline = time.monotonic() + 120
            while {r.event["data"]["id"] for r in receiver.at("/crash")} != set(ids):
                assert time.monotonic() < deadline, log.read_text()[-2000:]
                await asyncio.sleep(0.2)
        finally:
            worker.terminate()
            worker.wait(30)
        ids_of_event: dict[str, set[str]] = defaultdict(set)
        for received in receiver.at("/crash"):
            ids_of_event[received.event["data"]["id"]].add(received.headers["webhook-id"])
    assert all(len(message_ids) == 1 for message_ids in ids_of_event.values())
    print(f"{delivered_before} delivered before the kill, {len(receiver.at('/crash'))} in all")
