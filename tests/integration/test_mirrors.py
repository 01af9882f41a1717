"""Mirrors against the emulator: new source posts that pass the filters are republished to
every target once; backfill; pause and resume; no item twice even when polls overlap."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from sqlalchemy import select, update

from herald.db.models import Event, Mirror
from tests.support.stack import Stack


async def _post_on_source(stack: Stack, token: str, text: str) -> str:
    response = await stack.emulator.post(
        "/mastodon/api/v1/statuses",
        json={"status": text},
        headers={"Authorization": f"Bearer {token}"},
    )
    response.raise_for_status()
    return str(response.json()["id"])


async def _texts(stack: Stack, username: str) -> list[str]:
    return sorted(p["text"] for p in await stack.emulator_posts("mastodon", username))


async def _eventually(check: Any, timeout_s: float = 15.0) -> None:
    for _ in range(int(timeout_s / 0.2)):
        if await check():
            return
        await asyncio.sleep(0.2)
    assert await check()


async def test_a_mirror_republishes_filters_backfills_and_never_twice(stack: Stack) -> None:
    tenant = await stack.new_tenant(platforms=())
    source, _, source_token = await stack.add_account(tenant)
    targets = [await stack.add_account(tenant) for _ in range(2)]
    await _post_on_source(stack, source_token, "old news #news")

    body = {
        "name": "news",
        "source_account_id": str(source),
        "target_account_ids": [str(t[0]) for t in targets],
        "existing_content_enabled": True,
        "existing_content_config": {"limit": 5},
        "settings": {"content_filters": {"hashtags": {"exclude": ["skip"]}}},
    }
    created = await stack.api.post("/v1/mirrors", json=body, headers=tenant.headers)
    assert created.status_code == 201, created.text
    mirror_id = created.json()["id"]

    async def backfilled() -> bool:
        return [await _texts(stack, t[1]) for t in targets] == [["old news #news"]] * 2

    await _eventually(backfilled)
    await _post_on_source(stack, source_token, "fresh #news")
    await _post_on_source(stack, source_token, "ignore me #skip")

    async def mirrored() -> bool:
        wanted = ["fresh #news", "old news #news"]
        return [await _texts(stack, t[1]) for t in targets] == [wanted] * 2

    await _eventually(mirrored)

    # An overlapping or restarted poll that reads the same items again mirrors nothing new.
    async with stack.resources.sessions() as session, session.begin():
        await session.execute(
            update(Mirror).where(Mirror.id == uuid.UUID(mirror_id)).values(cursor="")
        )
    await stack.resources.temporal.poll_mirror_now(uuid.UUID(mirror_id))
    await asyncio.sleep(1.5)
    assert await mirrored()

    seen = await stack.api.get(f"/v1/mirrors/{mirror_id}/posts", headers=tenant.headers)
    statuses = {p["platform_metadata"]["hashtags"][0]: p for p in seen.json()["data"]}
    assert statuses["skip"]["derived_status"] == "filtered_out"
    assert "skip" in statuses["skip"]["reason"]
    assert len(seen.json()["data"]) == 3
    # Each source post was announced once (mirror.post_detected), with what became of it.
    async with stack.resources.sessions() as session:
        detected = (
            await session.scalars(
                select(Event.data).where(
                    Event.type == "mirror.post_detected", Event.resource_id == uuid.UUID(mirror_id)
                )
            )
        ).all()
    assert sorted((d["source_post_id"], d["derived_status"]) for d in detected) == sorted(
        (p["source_post_id"], "filtered_out" if p["reason"] else "auto_scheduled")
        for p in seen.json()["data"]
    )
    assert {d["mirror_id"] for d in detected} == {mirror_id}


async def test_pause_and_resume(stack: Stack) -> None:
    tenant = await stack.new_tenant(platforms=())
    source, _, source_token = await stack.add_account(tenant)
    target = await stack.add_account(tenant)
    created = await stack.api.post(
        "/v1/mirrors",
        json={
            "name": "m",
            "source_account_id": str(source),
            "target_account_ids": [str(target[0])],
        },
        headers=tenant.headers,
    )
    mirror_id = created.json()["id"]
    await asyncio.sleep(1.0)  # the first poll records the cursor; nothing existing is copied
    paused = await stack.api.patch(
        f"/v1/mirrors/{mirror_id}", json={"is_active": False}, headers=tenant.headers
    )
    assert paused.status_code == 200 and paused.json()["is_active"] is False
    await _post_on_source(stack, source_token, "while paused")
    await asyncio.sleep(1.5)
    assert await _texts(stack, target[1]) == []
    await stack.api.patch(
        f"/v1/mirrors/{mirror_id}", json={"is_active": True}, headers=tenant.headers
    )

    async def caught_up() -> bool:
        return await _texts(stack, target[1]) == ["while paused"]

    await _eventually(caught_up)
    client = await stack.resources.temporal.client()
    description = await client.get_workflow_handle(f"mirror/{mirror_id}").describe()
    assert description.workflow_type == "MirrorWorkflow"
    assert (
        await stack.api.delete(f"/v1/mirrors/{mirror_id}", headers=tenant.headers)
    ).status_code == 204
    assert (
        await stack.api.get(f"/v1/mirrors/{mirror_id}", headers=tenant.headers)
    ).status_code == 404


async def test_mirror_refusals(stack: Stack) -> None:
    tenant = await stack.new_tenant(platforms=())
    source, _, _ = await stack.add_account(tenant)
    other = await stack.new_tenant()
    for body in (
        {"name": "x", "source_account_id": str(source), "target_account_ids": [str(source)]},
        {
            "name": "x",
            "source_account_id": str(source),
            "target_account_ids": [str(other.accounts["mastodon"])],
        },
        {"name": "x", "source_account_id": str(uuid.uuid4()), "target_account_ids": [str(source)]},
        {"name": "x", "source_account_id": str(source), "target_account_ids": []},
    ):
        response = await stack.api.post("/v1/mirrors", json=body, headers=tenant.headers)
        assert response.status_code == 400, body
