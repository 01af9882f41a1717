"""Notifications: what needs a person's attention, made from the workspace's events."""

from __future__ import annotations

import asyncio
import time
from typing import Any, cast

from tests.support.people import as_user, log_in, new_person
from tests.support.stack import Stack, Tenant


async def _notifications(stack: Stack, tenant: Tenant, **params: Any) -> list[dict[str, Any]]:
    listed = await stack.api.get("/v1/notifications", params=params, headers=tenant.headers)
    assert listed.status_code == 200, listed.text
    return cast(list[dict[str, Any]], listed.json()["data"])


async def _until(stack: Stack, tenant: Tenant, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 20
    while len(found := await _notifications(stack, tenant)) < count:
        assert time.monotonic() < deadline, found
        await asyncio.sleep(0.1)
    return found


async def test_a_failed_post_and_an_approval_waiting_are_notified_until_read(
    stack: Stack,
) -> None:
    tenant, other = await stack.new_tenant(), await stack.new_tenant(())
    account = str(tenant.accounts["mastodon"])
    refused = {"platform": "mastodon", "status": 422, "path": "/api/v1/statuses"}
    assert (await stack.emulator.post("/_emulator/faults", json=refused)).status_code == 200
    try:
        failed = await stack.api.post(
            "/v1/posts",
            json={
                "content": "Doomed  launch\nnote",
                "publish_now": True,
                "targets": [{"account_id": account}],
            },
            headers=tenant.headers,
        )
        await stack.wait_for_post(tenant, failed.json()["id"])
    finally:
        await stack.emulator.delete("/_emulator/faults")
    await stack.set_workspace(tenant, approval_required=True)
    waiting = await stack.api.post(
        "/v1/posts",
        json={"content": "Please look", "publish_now": True, "targets": [{"account_id": account}]},
        headers=tenant.headers,
    )
    newest, oldest = await _until(stack, tenant, 2)
    assert (oldest["type"], oldest["resource_type"], oldest["resource_id"]) == (
        "post.failed",
        "post",
        failed.json()["id"],
    )
    assert oldest["title"].startswith("A post failed on mastodon: Doomed launch")
    assert newest["type"] == "post.approval_requested"
    assert newest["resource_id"] == waiting.json()["id"] and newest["read_at"] is None
    assert await _notifications(stack, other) == []

    # A viewer reads the inbox but cannot change it for everyone.
    owner = await log_in(stack, await new_person(stack, tenant.workspace_id))
    made = await stack.api.post(
        f"/v1/workspaces/{tenant.workspace_id}/api-keys",
        json={"name": "wallboard", "permissions": ["analytics.view"]},
        headers=as_user(owner),
    )
    assert made.status_code == 201, made.text
    viewer = {"Authorization": f"Bearer {made.json()['key']}"}
    listed = await stack.api.get("/v1/notifications", headers=viewer)
    assert listed.status_code == 200 and len(listed.json()["data"]) == 2
    refused = await stack.api.post("/v1/notifications/read", json={"all": True}, headers=viewer)
    assert refused.status_code == 403, refused.text
    assert len(await _notifications(stack, tenant, unread="true")) == 2

    # Another workspace cannot mark them read.
    foreign = await stack.api.post(
        "/v1/notifications/read", json={"ids": [oldest["id"]]}, headers=other.headers
    )
    assert foreign.json() == {"marked": 0}
    marked = await stack.api.post(
        "/v1/notifications/read", json={"ids": [oldest["id"]]}, headers=tenant.headers
    )
    assert marked.json() == {"marked": 1}
    assert [n["id"] for n in await _notifications(stack, tenant, unread="true")] == [newest["id"]]
    assert [n["id"] for n in await _notifications(stack, tenant, unread="false")] == [oldest["id"]]
    everything = await stack.api.post(
        "/v1/notifications/read", json={"all": True}, headers=tenant.headers
    )
    assert everything.json() == {"marked": 1}
    assert await _notifications(stack, tenant, unread="true") == []
    both = await stack.api.post(
        "/v1/notifications/read", json={"all": True, "ids": []}, headers=tenant.headers
    )
    assert both.status_code == 400
