"""Analytics test helpers: one published post per platform, the emulator clock moved on, and
what the emulator's audience (emulator/engagement.py) makes of it after that many hours."""

from __future__ import annotations

from typing import Any

from tests.integration.test_media import MediaClient
from tests.support.media_files import jpeg, mp4
from tests.support.stack import Stack, Tenant

PLATFORMS = ("mastodon", "bluesky", "x", "linkedin", "facebook", "instagram", "threads", "tiktok")

# Per whole hour of a post's age, each normalised counter the platform reports (the rest are
# None): the emulator's documented rates as each platform's fields carry them.
PER_HOUR: dict[str, dict[str, int]] = {
    "mastodon": {"likes": 3, "comments": 1, "shares": 2},
    "bluesky": {"likes": 3, "comments": 1, "shares": 2, "saves": 1},
    "x": {"impressions": 40, "likes": 3, "comments": 1, "shares": 2, "saves": 1},
    "linkedin": {
        "impressions": 40,
        "reach": 30,
        "likes": 3,
        "comments": 1,
        "shares": 2,
        "saves": 1,
    },
    "facebook": {
        "impressions": 40,
        "reach": 30,
        "likes": 3,
        "comments": 1,
        "shares": 2,
        "clicks": 4,
        "video_views": 20,
    },
    "instagram": {
        "impressions": 40,
        "reach": 30,
        "likes": 3,
        "comments": 1,
        "shares": 2,
        "saves": 1,
    },
    "threads": {"impressions": 40, "likes": 3, "comments": 1, "shares": 2},
    "tiktok": {"video_views": 20, "likes": 3, "comments": 1, "shares": 2},
}
COUNTERS = (
    "impressions",
    "reach",
    "likes",
    "comments",
    "shares",
    "saves",
    "clicks",
    "video_views",
)


def expected_post(platform: str, hours: int) -> dict[str, int | None]:
    rates = PER_HOUR[platform]
    return {name: rates[name] * hours if name in rates else None for name in COUNTERS}


def expected_followers(hours: int) -> int:
    return 100 + 5 * hours


async def publish_one(stack: Stack, tenant: Tenant, platform: str, text: str) -> dict[str, Any]:
    """Publishes one post to the tenant's account on `platform` (with the media it needs)
    and answers the published post."""
    target: dict[str, Any] = {"account_id": str(tenant.accounts[platform])}
    body: dict[str, Any] = {"content": text, "targets": [target], "publish_now": True}
    media = MediaClient(stack.api, tenant, None)
    if platform == "instagram":
        body["media_ids"] = [(await media.upload("p.jpg", "image/jpeg", jpeg()))["id"]]
    if platform == "tiktok":
        body["media_ids"] = [(await media.upload("c.mp4", "video/mp4", mp4(seconds=3.5)))["id"]]
        target["options"] = {"privacy_level": "PUBLIC_TO_EVERYONE"}
    created = await stack.api.post("/v1/posts", json=body, headers=tenant.headers)
    assert created.status_code == 201, created.text
    post = await stack.wait_for_post(tenant, created.json()["id"], timeout_s=60)
    assert post["status"] == "published", post["targets"][0]["error"]
    return post


async def advance_emulator(stack: Stack, hours: int) -> None:
    moved = await stack.emulator.post("/_emulator/clock", json={"seconds": hours * 3600})
    moved.raise_for_status()
