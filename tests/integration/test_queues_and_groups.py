"""Posting queues (next-slot, queue: true, no slot given twice) and account groups."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.support.stack import Stack, Tenant

EVERY_HOUR = [{"weekday": d, "time": f"{h:02d}:00"} for d in range(7) for h in range(24)]


async def _set_queue(
    stack: Stack, tenant: Tenant, slots: list[dict[str, Any]], zone: str = "UTC"
) -> None:
    response = await stack.api.put(
        f"/v1/accounts/{tenant.accounts['mastodon']}/queue",
        json={"timezone": zone, "slots": slots},
        headers=tenant.headers,
    )
    assert response.status_code == 200, response.text


async def test_next_slot_and_queued_posts_take_distinct_slots(stack: Stack) -> None:
    tenant = await stack.new_tenant()
    account = str(tenant.accounts["mastodon"])
    empty = await stack.api.get(f"/v1/accounts/{account}/next-slot", headers=tenant.headers)
    assert empty.status_code == 200 and empty.json() == {"slot_at": None}
    await _set_queue(stack, tenant, EVERY_HOUR, "Asia/Kolkata")  # a half-hour offset zone
    first = (
        await stack.api.get(f"/v1/accounts/{account}/next-slot", headers=tenant.headers)
    ).json()
    slot = datetime.fromisoformat(first["slot_at"].replace("Z", "+00:00"))
    assert slot.minute == 30 and slot > datetime.now(UTC)

    body = {"content": "queued", "queue": True, "targets": [{"account_id": account}]}
    answers = await asyncio.gather(
        *(stack.api.post("/v1/posts", json=body, headers=tenant.headers) for _ in range(8))
    )
    assert [a.status_code for a in answers] == [201] * 8, [a.text for a in answers]
    times = [a.json()["targets"][0]["scheduled_time"] for a in answers]
    assert len(set(times)) == 8
    assert first["slot_at"] in times
    after = (
        await stack.api.get(f"/v1/accounts/{account}/next-slot", headers=tenant.headers)
    ).json()
    assert after["slot_at"] not in times and after["slot_at"] > max(times)
    for answer in answers:
        await stack.api.post(f"/v1/posts/{answer.json()['id']}/cancel", headers=tenant.headers)
    freed = (
        await stack.api.get(f"/v1/accounts/{account}/next-slot", headers=tenant.headers)
    ).json()
    assert freed == first


async def test_queue_refusals(stack: Stack) -> None:
    tenant = await stack.new_tenant()
    account = str(tenant.accounts["mastodon"])
    body = {"content": "queued", "queue": True, "targets": [{"account_id": account}]}
    no_slots = await stack.api.post("/v1/posts", json=body, headers=tenant.headers)
    assert no_slots.status_code == 400
    assert no_slots.json()["error"]["details"][0]["path"] == "targets.0.account_id"
    bad_zone = await stack.api.put(
        f"/v1/accounts/{account}/queue",
        json={"timezone": "Mars/Olympus", "slots": []},
        headers=tenant.headers,
    )
    assert bad_zone.status_code == 400
    bad_time = await stack.api.put(
        f"/v1/accounts/{account}/queue",
        json={"timezone": "UTC", "slots": [{"weekday": 7, "time": "25:00"}]},
        headers=tenant.headers,
    )
    assert bad_time.status_code == 400
    other = await stack.new_tenant()
    hidden = await stack.api.get(f"/v1/accounts/{account}/next-slot", headers=other.headers)
    assert hidden.status_code == 404


async def test_a_queued_post_publishes_at_its_slot(stack: Stack) -> None:
    tenant = await stack.new_tenant()
    # Two minutes on: the slot (its minute's start) is at least a minute away, so the post is
    # still waiting when it is moved, however busy the machine.
    soon = datetime.now(UTC) + timedelta(minutes=2)
    await _set_queue(stack, tenant, [{"weekday": soon.weekday(), "time": soon.strftime("%H:%M")}])
    body = {
        "content": "on the slot",
        "queue": True,
        "targets": [{"account_id": str(tenant.accounts["mastodon"])}],
    }
    created = await stack.api.post("/v1/posts", json=body, headers=tenant.headers)
    assert created.status_code == 201, created.text
    slot = created.json()["targets"][0]["scheduled_time"]
    assert slot == created.json()["scheduled_at"]
    assert slot.startswith(soon.strftime("%Y-%m-%dT%H:%M"))
    # Move it to now rather than wait a minute: the slot is freed, the post publishes.
    moved = await stack.api.post(
        f"/v1/posts/{created.json()['id']}/publish", headers=tenant.headers
    )
    assert moved.status_code == 202
    done = await stack.wait_for_post(tenant, created.json()["id"])
    assert done["status"] == "published"


async def test_groups_expand_into_targets(stack: Stack) -> None:
    tenant = await stack.new_tenant()
    second = await stack.new_tenant()
    from herald.db.models import SocialAccount

    async with stack.resources.sessions() as session, session.begin():
        account = await session.get(SocialAccount, second.accounts["mastodon"])
        assert account is not None
        account.workspace_id, account.brand_id = tenant.workspace_id, tenant.brand_id
    ids = [str(tenant.accounts["mastodon"]), str(second.accounts["mastodon"])]
    group = await stack.api.post(
        "/v1/account-groups", json={"name": "all", "account_ids": ids}, headers=tenant.headers
    )
    assert group.status_code == 201, group.text
    group_id = group.json()["id"]
    listed = await stack.api.get("/v1/account-groups", headers=tenant.headers)
    assert [g["id"] for g in listed.json()["data"]] == [group_id]

    created = await stack.api.post(
        "/v1/posts",
        json={"content": "to the group", "publish_now": True, "targets": [{"group_id": group_id}]},
        headers=tenant.headers,
    )
    assert created.status_code == 201, created.text
    assert sorted(t["account_id"] for t in created.json()["targets"]) == sorted(ids)
    done = await stack.wait_for_post(tenant, created.json()["id"])
    assert done["status"] == "published"
    for t in (tenant, second):
        assert len(await stack.emulator_posts("mastodon", t.usernames["mastodon"])) == 1

    renamed = await stack.api.patch(
        f"/v1/account-groups/{group_id}",
        json={"name": "one", "account_ids": ids[:1]},
        headers=tenant.headers,
    )
    assert renamed.json()["name"] == "one" and renamed.json()["account_ids"] == ids[:1]
    other = await stack.new_tenant()
    assert (
        await stack.api.delete(f"/v1/account-groups/{group_id}", headers=other.headers)
    ).status_code == 404
    unknown = await stack.api.post(
        "/v1/account-groups",
        json={"name": "x", "account_ids": [str(other.accounts["mastodon"])]},
        headers=tenant.headers,
    )
    assert unknown.status_code == 400
    assert (
        await stack.api.delete(f"/v1/account-groups/{group_id}", headers=tenant.headers)
    ).status_code == 204
    gone = await stack.api.post(
        "/v1/posts",
        json={"content": "x", "publish_now": True, "targets": [{"group_id": group_id}]},
        headers=tenant.headers,
    )
    assert gone.status_code == 400
    assert gone.json()["error"]["details"][0]["path"] == "targets.0.group_id"
