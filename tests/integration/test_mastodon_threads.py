"""Mastodon threads (`options.thread`): each part a reply to the one before, never a part twice
after a lost answer, all of them deleted on unpublish."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.support.stack import Stack, Tenant

PARTS = ["first, then", "second, then", "third."]


async def _publish(stack: Stack, tenant: Tenant, parts: list[str]) -> dict[str, Any]:
    created = await stack.api.post(
        "/v1/posts",
        json={
            "content": parts[0],
            "targets": [
                {"account_id": str(tenant.accounts["mastodon"]), "options": {"thread": parts[1:]}}
            ],
            "publish_now": True,
        },
        headers=tenant.headers,
    )
    assert created.status_code == 201, created.text
    return await stack.wait_for_post(tenant, created.json()["id"])


async def _statuses(stack: Stack, tenant: Tenant) -> list[dict[str, Any]]:
    statuses = await stack.emulator_posts("mastodon", tenant.usernames["mastodon"])
    return sorted(statuses, key=lambda s: PARTS.index(s["text"]))


def _assert_chain(statuses: list[dict[str, Any]]) -> None:
    assert [s["text"] for s in statuses] == PARTS
    assert statuses[0]["in_reply_to_id"] is None
    assert [s["in_reply_to_id"] for s in statuses[1:]] == [s["id"] for s in statuses[:-1]]


async def test_a_thread_publishes_as_replies_and_unpublishes_whole(stack: Stack) -> None:
    tenant = await stack.new_tenant()
    post = await _publish(stack, tenant, PARTS)
    [target] = post["targets"]
    assert target["status"] == "published", target["error"]
    statuses = await _statuses(stack, tenant)
    _assert_chain(statuses)
    assert target["platform_post_id"] == statuses[0]["id"]

    gone = await stack.api.post(f"/v1/posts/{post['id']}/unpublish", headers=tenant.headers)
    assert gone.status_code == 202, gone.text
    for _ in range(100):
        if await stack.emulator_posts("mastodon", tenant.usernames["mastodon"]) == []:
            break
        await asyncio.sleep(0.1)
    assert await stack.emulator_posts("mastodon", tenant.usernames["mastodon"]) == []


async def test_a_lost_answer_mid_thread_makes_no_part_twice(stack: Stack) -> None:
    """The second part is made but its answer is lost: the retry finds the head, gets the
    second part back by its own Idempotency-Key, and adds the third."""
    tenant = await stack.new_tenant()
    fault = {
        "platform": "mastodon",
        "status": 502,
        "phase": "after",
        "method": "POST",
        "path": "/api/v1/statuses",
        "skip": 1,
        "count": 1,
    }
    assert (await stack.emulator.post("/_emulator/faults", json=fault)).status_code == 200
    try:
        post = await _publish(stack, tenant, PARTS)
    finally:
        await stack.emulator.delete("/_emulator/faults")
    [target] = post["targets"]
    assert target["status"] == "published", target["error"]
    assert target["attempts"] == 2
    _assert_chain(await _statuses(stack, tenant))


async def test_a_part_over_the_limit_is_named_by_validation(stack: Stack) -> None:
    tenant = await stack.new_tenant()
    checked = await stack.api.post(
        "/v1/posts/validate",
        json={
            "content": "fine",
            "targets": [
                {
                    "account_id": str(tenant.accounts["mastodon"]),
                    "options": {"thread": ["fine too", "z" * 501]},
                }
            ],
            "publish_now": True,
        },
        headers=tenant.headers,
    )
    assert checked.status_code == 200, checked.text
    [result] = checked.json()["targets"]
    assert [(p["code"], p["path"]) for p in result["problems"]] == [
        ("text_too_long", "targets.0.options.thread.1")
    ]
