"""POST /v1/posts/bulk-video (#19): one post per video, 207 with a result per item, on both
databases; the posts publish each video byte-identical."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from tests.integration.test_media import MediaClient
from tests.support.media_files import mp4, png
from tests.support.stack import Stack


async def test_bulk_video_makes_one_post_per_video(stack: Stack) -> None:
    tenant = await stack.new_tenant()
    client = MediaClient(stack.api, tenant, None)
    first_clip, second_clip = mp4(seconds=1.0), mp4(seconds=1.0, width=48, height=48)
    first = await client.upload("one.mp4", "video/mp4", first_clip)
    second = await client.upload("two.mp4", "video/mp4", second_clip)
    picture = await client.upload("pic.png", "image/png", png())
    later = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    body = {
        "content": "new clip",
        "targets": [{"account_id": str(tenant.accounts["mastodon"])}],
        "publish_now": True,
        "videos": [
            {"media_id": first["id"], "content": "the first clip"},
            {"media_id": second["id"], "external_id": "clip-2"},
            {"media_id": picture["id"]},
            {"media_id": "not-an-id"},
            {"media_id": first["id"], "scheduled_at": later},
        ],
    }
    response = await stack.api.post("/v1/posts/bulk-video", json=body, headers=tenant.headers)
    assert response.status_code == 207, response.text
    results = response.json()["results"]
    assert [r["status"] for r in results] == [201, 201, 400, 400, 201]
    assert results[2]["error"]["details"][0] == {
        "path": "media_id",
        "message": "the media is image/png, not a video",
    }
    assert results[3]["error"]["details"][0]["path"] == "media_id"
    posts = [r["post"] for r in results if r["status"] == 201]
    assert [p["media_ids"] for p in posts] == [[first["id"]], [second["id"]], [first["id"]]]
    assert [p["content"] for p in posts] == ["the first clip", "new clip", "new clip"]
    assert posts[1]["external_id"] == "clip-2" and posts[1]["origin"] == "bulk"
    assert posts[2]["status"] == "scheduled"

    for post in posts[:2]:
        published = await stack.wait_for_post(tenant, post["id"])
        assert published["status"] == "published", published["targets"][0]["error"]
    statuses = {
        s["text"]: s for s in await stack.emulator_posts("mastodon", tenant.usernames["mastodon"])
    }
    assert set(statuses) == {"the first clip", "new clip"}
    for text, clip in (("the first clip", first_clip), ("new clip", second_clip)):
        [attached] = statuses[text]["media"]
        assert attached["sha256"] == hashlib.sha256(clip).hexdigest()
    await stack.api.post(f"/v1/posts/{posts[2]['id']}/cancel", headers=tenant.headers)

    invalid = await stack.api.post(
        "/v1/posts/bulk-video", json={**body, "videos": []}, headers=tenant.headers
    )
    assert invalid.status_code == 400
    no_targets = await stack.api.post(
        "/v1/posts/bulk-video", json={**body, "targets": []}, headers=tenant.headers
    )
    assert no_targets.status_code == 400
