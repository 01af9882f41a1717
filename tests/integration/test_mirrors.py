"""Mirrors against the emulator: new source posts that pass the filters are republished to
every target once; backfill; pause and resume; no item twice even when polls overlap; media
carried byte for byte with their alt text, and a post whose media cannot be imported failed
visibly, never posted without them."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from sqlalchemy import select, update

from herald.db.models import Event, Mirror
from tests.support.bluesky_author import BlueskyAuthor
from tests.support.media_files import jpeg, png
from tests.support.people import audit_events
from tests.support.stack import Stack, Tenant


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
    # The copies are Herald's doing, and the audit log says which mirror made them.
    made = await audit_events(stack, tenant.headers, action="post.created")
    assert [e["actor"] for e in made] == [{"type": "system", "id": f"mirror:{mirror_id}"}] * 2
    assert {e["metadata"]["origin"] for e in made} == {"mirror"}


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


async def _bluesky_to_mastodon(stack: Stack) -> tuple[Tenant, BlueskyAuthor, str, str]:
    """A mirror from a new Bluesky account to a new Mastodon one, past its first poll (which
    only records the cursor): (tenant, author, mirror id, Mastodon username)."""
    tenant = await stack.new_tenant(platforms=())
    source, username, password = await stack.add_account(tenant, "bluesky")
    target, target_username, _ = await stack.add_account(tenant, "mastodon")
    created = await stack.api.post(
        "/v1/mirrors",
        json={
            "name": "pictures",
            "source_account_id": str(source),
            "target_account_ids": [str(target)],
        },
        headers=tenant.headers,
    )
    assert created.status_code == 201, created.text
    mirror_id = str(created.json()["id"])

    async def polled() -> bool:
        found = await stack.api.get(f"/v1/mirrors/{mirror_id}", headers=tenant.headers)
        return found.json()["last_checked"] is not None

    await _eventually(polled)
    return tenant, BlueskyAuthor(stack.emulator, username, password), mirror_id, target_username


async def _mirrored(stack: Stack, tenant: Tenant, mirror_id: str) -> list[dict[str, Any]]:
    seen = await stack.api.get(f"/v1/mirrors/{mirror_id}/posts", headers=tenant.headers)
    assert seen.status_code == 200, seen.text
    found: list[dict[str, Any]] = seen.json()["data"]
    return found


async def test_a_mirror_carries_images_byte_identical_with_their_alt_text(stack: Stack) -> None:
    tenant, author, mirror_id, target = await _bluesky_to_mastodon(stack)
    images = [
        (png(40, 30, (250, 200, 0)), "image/png", "a yellow field"),
        (jpeg(32, 32), "image/jpeg", "a blue square"),
    ]
    await author.post("two pictures", images)

    async def copied() -> bool:
        return bool(await stack.emulator_posts("mastodon", target))

    await _eventually(copied)
    [status] = await stack.emulator_posts("mastodon", target)
    assert status["text"] == "two pictures"
    received = []
    for attachment in status["media"]:
        served = await stack.emulator.get(attachment["url"])
        assert served.status_code == 200
        received.append((served.content, attachment["mime_type"], attachment["description"]))
    assert received == images  # the bytes Bluesky holds, in order, described as there
    [record] = await _mirrored(stack, tenant, mirror_id)

    async def posted() -> bool:
        [record] = await _mirrored(stack, tenant, mirror_id)
        return bool(record["derived_status"] == "posted")

    await _eventually(posted)
    # The imported media are the copy's, in the workspace's library.
    post = await stack.api.get(f"/v1/posts/{record['post_id']}", headers=tenant.headers)
    assert post.json()["origin"] == "mirror" and len(post.json()["media_ids"]) == 2
    for media_id, (data, mime_type, _) in zip(post.json()["media_ids"], images, strict=True):
        media = await stack.api.get(f"/v1/media/{media_id}", headers=tenant.headers)
        assert (media.json()["mime_type"], media.json()["size"]) == (mime_type, len(data))


async def test_a_post_whose_media_cannot_be_imported_fails_and_is_not_posted(
    stack: Stack,
) -> None:
    tenant, author, mirror_id, target = await _bluesky_to_mastodon(stack)
    # The PDS no longer serves the first blob it is asked for (deleted meanwhile).
    armed = await stack.emulator.post(
        "/_emulator/faults",
        json={"platform": "bluesky", "path": "com.atproto.sync.getBlob", "status": 404, "count": 1},
    )
    assert armed.status_code == 200, armed.text
    try:
        await author.post("a picture that will not come", [(png(), "image/png", "")])

        async def decided() -> bool:
            found = await _mirrored(stack, tenant, mirror_id)
            return bool(found) and found[0]["derived_status"] != "detected"

        await _eventually(decided)
    finally:
        await stack.emulator.delete("/_emulator/faults")
    [record] = await _mirrored(stack, tenant, mirror_id)
    assert (record["derived_status"], record["post_id"]) == ("failed", None)
    assert "could not be imported" in record["reason"] and "HTTP 404" in record["reason"]
    assert await stack.emulator_posts("mastodon", target) == []
    # Announced once, with what became of it.
    async with stack.resources.sessions() as session:
        detected = (
            await session.scalars(
                select(Event.data).where(
                    Event.type == "mirror.post_detected", Event.resource_id == uuid.UUID(mirror_id)
                )
            )
        ).all()
    assert [(d["derived_status"], d["reason"]) for d in detected] == [("failed", record["reason"])]
