"""Instagram through the whole stack (API → workflow → InstagramAdapter → emulator over HTTP,
which downloads media from Herald's signed URLs), plus the adapter's reading and refusals."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from emulator.presets import emulated_app
from herald.db.models import SocialAccount
from platforms.base import AccountContext, Rejected, request_from
from platforms.instagram import InstagramAdapter
from tests.integration.test_media import MediaClient
from tests.support.media_files import jpeg, mp4, png
from tests.support.stack import Stack, Tenant

# The adapter against the emulator is the subject: the database does not change it.
pytestmark = pytest.mark.sqlite_only

PLATFORM = "instagram"


async def _publish(
    stack: Stack, tenant: Tenant, text: str, media: list[str], **options: Any
) -> dict[str, Any]:
    target: dict[str, Any] = {"account_id": str(tenant.accounts[PLATFORM])}
    if options:
        target["options"] = options
    body = {"content": text, "media_ids": media, "targets": [target], "publish_now": True}
    created = await stack.api.post("/v1/posts", json=body, headers=tenant.headers)
    assert created.status_code == 201, created.text
    return await stack.wait_for_post(tenant, created.json()["id"])


async def _fault(stack: Stack, **spec: Any) -> None:
    response = await stack.emulator.post("/_emulator/faults", json={"platform": PLATFORM, **spec})
    assert response.status_code == 200, response.text


async def _posts(stack: Stack, tenant: Tenant) -> list[dict[str, Any]]:
    return await stack.emulator_posts(PLATFORM, tenant.usernames[PLATFORM])


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def test_image_with_first_comment_is_fetched_and_published(stack: Stack) -> None:
    tenant = await stack.new_tenant((PLATFORM,))
    photo = jpeg(40, 40)
    uploaded = await MediaClient(stack.api, tenant, None).upload("p.jpg", "image/jpeg", photo)
    post = await _publish(stack, tenant, "a photo #herald", [uploaded["id"]], first_comment="hi")
    assert post["status"] == "published", post["targets"][0]["error"]
    posts = {p["text"]: p for p in await _posts(stack, tenant)}
    assert [m["sha256"] for m in posts["a photo #herald"]["media"]] == [_sha(photo)]
    assert posts["hi"]["in_reply_to_id"] == posts["a photo #herald"]["id"]
    assert post["targets"][0]["platform_post_url"].startswith("https://www.instagram.com/p/")


async def test_carousel_and_reel(stack: Stack) -> None:
    tenant = await stack.new_tenant((PLATFORM,))
    client = MediaClient(stack.api, tenant, None)
    photo, clip = jpeg(30, 30), mp4(seconds=3.5)  # Instagram takes videos of 3 s and more
    first = await client.upload("a.jpg", "image/jpeg", photo)
    video = await client.upload("c.mp4", "video/mp4", clip)
    album = await _publish(stack, tenant, "album", [first["id"], video["id"]])
    assert album["status"] == "published", album["targets"][0]["error"]
    reel = await _publish(stack, tenant, "reel", [video["id"]])
    assert reel["status"] == "published", reel["targets"][0]["error"]
    posts = {p["text"]: p for p in await _posts(stack, tenant)}
    assert [m["sha256"] for m in posts["album"]["media"]] == [_sha(photo), _sha(clip)]
    assert [m["sha256"] for m in posts["reel"]["media"]] == [_sha(clip)]


async def test_a_rate_limit_is_waited_out(stack: Stack) -> None:
    tenant = await stack.new_tenant((PLATFORM,))
    uploaded = await MediaClient(stack.api, tenant, None).upload("p.jpg", "image/jpeg", jpeg())
    await _fault(stack, status=429, retry_after=1, count=1, path="/media_publish")
    try:
        post = await _publish(stack, tenant, "patience", [uploaded["id"]])
    finally:
        await stack.emulator.delete("/_emulator/faults")
    assert post["status"] == "published", post["targets"][0]["error"]
    assert post["targets"][0]["attempts"] == 1  # a 429 is waited out, not an attempt
    assert len(await _posts(stack, tenant)) == 1


async def test_a_lost_publish_answer_does_not_post_twice(stack: Stack) -> None:
    tenant = await stack.new_tenant((PLATFORM,))
    uploaded = await MediaClient(stack.api, tenant, None).upload("p.jpg", "image/jpeg", jpeg())
    await _fault(stack, status=502, count=1, path="/media_publish", phase="after")
    try:
        post = await _publish(stack, tenant, "only once", [uploaded["id"]])
    finally:
        await stack.emulator.delete("/_emulator/faults")
    assert post["status"] == "published", post["targets"][0]["error"]
    assert [p["text"] for p in await _posts(stack, tenant)] == ["only once"]


async def test_an_invalid_token_is_refreshed_once_then_fails_the_target(stack: Stack) -> None:
    tenant = await stack.new_tenant((PLATFORM,))
    uploaded = await MediaClient(stack.api, tenant, None).upload("p.jpg", "image/jpeg", jpeg())
    await _fault(stack, status=401, count=1, path="/media", method="POST")
    try:
        recovered = await _publish(stack, tenant, "after a refresh", [uploaded["id"]])
    finally:
        await stack.emulator.delete("/_emulator/faults")
    assert recovered["status"] == "published", recovered["targets"][0]["error"]
    listed = await stack.emulator.get("/_emulator/accounts", params={"platform": PLATFORM})
    [emulated] = [a for a in listed.json()["data"] if a["username"] == tenant.usernames[PLATFORM]]
    async with stack.resources.sessions() as session:
        row = await session.get(SocialAccount, tenant.accounts[PLATFORM])
        assert row is not None
        assert stack.cipher.context_of(row).credentials["access_token"] != emulated["token"]
    await _fault(stack, status=401, path="/media", method="POST")
    try:
        refused = await _publish(stack, tenant, "never", [uploaded["id"]])
    finally:
        await stack.emulator.delete("/_emulator/faults")
    assert refused["status"] == "failed"
    assert refused["targets"][0]["error"]["code"] == "auth_expired"


async def test_rejected_content_fails_at_once_with_the_platform_message(stack: Stack) -> None:
    tenant = await stack.new_tenant((PLATFORM,))
    uploaded = await MediaClient(stack.api, tenant, None).upload("p.jpg", "image/jpeg", jpeg())
    await _fault(
        stack, status=400, count=1, path="/media", method="POST", message="(#100) Caption refused"
    )
    try:
        post = await _publish(stack, tenant, "refused", [uploaded["id"]])
    finally:
        await stack.emulator.delete("/_emulator/faults")
    assert post["status"] == "failed"
    [target] = post["targets"]
    assert target["attempts"] == 1
    assert target["error"]["code"] == "rejected"
    assert "Caption refused" in target["error"]["message"]


async def test_validate_reports_instagram_limits_with_paths(stack: Stack) -> None:
    tenant = await stack.new_tenant((PLATFORM,))
    image = await MediaClient(stack.api, tenant, None).upload("p.png", "image/png", png())
    text = " ".join(f"#t{i}" for i in range(31)) + " " + "x" * 2200
    body = {
        "content": text,
        "media_ids": [image["id"]],
        "draft": True,
        "targets": [{"account_id": str(tenant.accounts[PLATFORM])}],
    }
    response = await stack.api.post("/v1/posts/validate", json=body, headers=tenant.headers)
    assert response.status_code == 200, response.text
    problems = {(p["code"], p["path"]) for p in response.json()["targets"][0]["problems"]}
    assert {
        ("caption_too_long", "content"),
        ("too_many_hashtags", "content"),
        ("unsupported_media_type", "media_ids.0"),
    } <= problems
    text_only = {**body, "content": "words", "media_ids": []}
    answer = await stack.api.post("/v1/posts/validate", json=text_only, headers=tenant.headers)
    codes = {p["code"] for p in answer.json()["targets"][0]["problems"]}
    assert "media_required" in codes


# -- the adapter on its own ---------------------------------------------------------------------


@pytest.fixture
async def adapter(emulator_url: str) -> AsyncIterator[InstagramAdapter]:
    async with httpx.AsyncClient(timeout=10) as http:
        yield InstagramAdapter(http, emulated_app("instagram", emulator_url))


async def test_adapter_verify_lists_and_refuses_delete(
    adapter: InstagramAdapter, emulator_url: str
) -> None:
    async with httpx.AsyncClient(base_url=emulator_url) as emulator:
        created = (
            await emulator.post(
                "/_emulator/accounts",
                json={"platform": PLATFORM, "username": f"i{uuid.uuid4().hex[:10]}"},
            )
        ).json()
    account = AccountContext(
        str(uuid.uuid4()), created["username"], None, {"access_token": created["token"]}
    )
    identity = await adapter.verify(account)
    assert (identity.platform_account_id, identity.username) == (created["id"], created["username"])
    assert await adapter.list_recent(account, None, 5) == []
    assert (
        await adapter.find_existing(account, request_from("x", "k", [], {}), datetime.now(UTC))
        is None
    )
    with pytest.raises(Rejected, match="cannot delete"):
        await adapter.delete(account, "123")
