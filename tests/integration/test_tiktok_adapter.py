"""TikTok through the whole stack (API → workflow → TikTokAdapter → emulator over HTTP: chunked
video upload, photos pulled from Herald's signed URLs, status polling), plus the adapter's
reading, OAuth and refusals against the emulator directly."""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import select

from emulator.presets import emulated_app
from herald.db.models import PostTarget
from platforms.base import (
    AccountContext,
    AuthExpired,
    MediaItem,
    OAuthStart,
    PublishProgress,
    PublishRequest,
    RateLimited,
    Rejected,
    Transient,
    request_from,
)
from platforms.content import BytesContent
from platforms.tiktok import TikTokAdapter, chunk_plan
from platforms.tiktok_mp4 import mp4_duration_s
from platforms.tiktok_rules import validate
from tests.integration.test_media import MediaClient
from tests.support.media_files import jpeg, mp4
from tests.support.stack import Stack, Tenant

# The adapter against the emulator is the subject: the database does not change it.
pytestmark = pytest.mark.sqlite_only

MB = 1024 * 1024
PUBLIC = {"privacy_level": "PUBLIC_TO_EVERYONE"}


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _body(tenant: Tenant, text: str, options: dict[str, Any], **extra: Any) -> dict[str, Any]:
    target = {"account_id": str(tenant.accounts["tiktok"]), "options": options}
    return {"content": text, "targets": [target], "publish_now": True, **extra}


async def _publish(
    stack: Stack, tenant: Tenant, text: str, options: dict[str, Any], **extra: Any
) -> dict[str, Any]:
    created = await stack.api.post(
        "/v1/posts", json=_body(tenant, text, options, **extra), headers=tenant.headers
    )
    assert created.status_code == 201, created.text
    return await stack.wait_for_post(tenant, created.json()["id"])


async def _fault(stack: Stack, **spec: Any) -> None:
    response = await stack.emulator.post("/_emulator/faults", json={"platform": "tiktok", **spec})
    assert response.status_code == 200, response.text


async def _video(stack: Stack, tenant: Tenant) -> tuple[str, bytes]:
    clip = mp4(seconds=3.5)
    uploaded = await MediaClient(stack.api, tenant, None).upload("clip.mp4", "video/mp4", clip)
    return str(uploaded["id"]), clip


async def test_a_video_is_uploaded_and_published_with_its_options(stack: Stack) -> None:
    tenant = await stack.new_tenant(("tiktok",))
    media_id, clip = await _video(stack, tenant)
    options = {**PUBLIC, "disable_duet": True, "brand_organic_toggle": True}
    post = await _publish(stack, tenant, "Hello TikTok #herald", options, media_ids=[media_id])
    assert post["status"] == "published", post["targets"][0]["error"]
    [target] = post["targets"]
    assert target["attempts"] == 1
    [published] = await stack.emulator_posts("tiktok", tenant.usernames["tiktok"])
    assert published["text"] == "Hello TikTok #herald"
    assert [m["sha256"] for m in published["media"]] == [_sha(clip)]
    assert target["platform_post_id"] == published["id"]
    assert target["platform_post_url"] == (
        f"https://www.tiktok.com/@{tenant.usernames['tiktok']}/video/{published['id']}"
    )


async def test_photos_are_pulled_from_signed_urls(stack: Stack) -> None:
    tenant = await stack.new_tenant(("tiktok",))
    client = MediaClient(stack.api, tenant, None)
    first, second = jpeg(64, 48), jpeg(48, 64)
    ids = [
        (await client.upload("a.jpg", "image/jpeg", first))["id"],
        (await client.upload("b.jpg", "image/jpeg", second))["id"],
    ]
    options = {**PUBLIC, "title": "Two photos", "photo_cover_index": 1, "disable_comment": True}
    post = await _publish(stack, tenant, "A carousel", options, media_ids=ids)
    assert post["status"] == "published", post["targets"][0]["error"]
    [published] = await stack.emulator_posts("tiktok", tenant.usernames["tiktok"])
    assert published["text"] == "A carousel"
    assert [m["sha256"] for m in published["media"]] == [_sha(first), _sha(second)]
    assert post["targets"][0]["platform_post_url"].endswith(f"/photo/{published['id']}")


async def test_inbox_mode_sends_the_video_to_the_creators_inbox(stack: Stack) -> None:
    tenant = await stack.new_tenant(("tiktok",))
    media_id, _ = await _video(stack, tenant)
    post = await _publish(
        stack, tenant, "finish me in the app", {"publish_mode": "inbox"}, media_ids=[media_id]
    )
    assert post["status"] == "published", post["targets"][0]["error"]
    [target] = post["targets"]
    assert target["platform_post_id"].startswith("v_pub_file~")
    assert target["platform_post_url"] is None
    assert await stack.emulator_posts("tiktok", tenant.usernames["tiktok"]) == []


async def test_a_privacy_level_the_creator_lacks_is_rejected_before_posting(stack: Stack) -> None:
    tenant = await stack.new_tenant(("tiktok",))
    media_id, _ = await _video(stack, tenant)
    post = await _publish(
        stack, tenant, "followers", {"privacy_level": "FOLLOWER_OF_CREATOR"}, media_ids=[media_id]
    )
    assert post["status"] == "failed"
    [target] = post["targets"]
    assert target["attempts"] == 1
    assert target["error"]["code"] == "rejected"
    assert target["error"]["retryable"] is False
    assert "FOLLOWER_OF_CREATOR" in target["error"]["message"]
    assert await stack.emulator_posts("tiktok", tenant.usernames["tiktok"]) == []


async def test_a_rate_limit_is_waited_out(stack: Stack) -> None:
    tenant = await stack.new_tenant(("tiktok",))
    media_id, _ = await _video(stack, tenant)
    await _fault(stack, status=429, retry_after=1, count=1, path="/video/init/")
    try:
        post = await _publish(stack, tenant, "patience", PUBLIC, media_ids=[media_id])
    finally:
        await stack.emulator.delete("/_emulator/faults")
    assert post["status"] == "published", post["targets"][0]["error"]
    assert post["targets"][0]["attempts"] == 1  # a 429 is waited out, not an attempt


async def test_server_errors_are_retried_without_duplicates(stack: Stack) -> None:
    tenant = await stack.new_tenant(("tiktok",))
    media_id, _ = await _video(stack, tenant)
    await _fault(stack, status=503, count=2, path="/video/init/")
    try:
        post = await _publish(stack, tenant, "retry me", PUBLIC, media_ids=[media_id])
    finally:
        await stack.emulator.delete("/_emulator/faults")
    assert post["status"] == "published", post["targets"][0]["error"]
    assert post["targets"][0]["attempts"] == 3
    assert len(await stack.emulator_posts("tiktok", tenant.usernames["tiktok"])) == 1


async def test_a_lost_status_answer_follows_the_same_publish(stack: Stack) -> None:
    """TikTok has the video, but the status answer is lost: the retry polls the publish_id it
    already has instead of posting the video again (a friends-only post is not in the public
    video list, so only the publish_id can find it)."""
    tenant = await stack.new_tenant(("tiktok",))
    media_id, _ = await _video(stack, tenant)
    # Three in a row: the adapter repeats a failed status read twice within one attempt.
    await _fault(stack, status=502, count=3, path="/status/fetch/", phase="after")
    try:
        post = await _publish(
            stack,
            tenant,
            "only once",
            {"privacy_level": "MUTUAL_FOLLOW_FRIENDS"},
            media_ids=[media_id],
        )
    finally:
        await stack.emulator.delete("/_emulator/faults")
    assert post["status"] == "published", post["targets"][0]["error"]
    assert post["targets"][0]["attempts"] == 2
    assert len(await stack.emulator_posts("tiktok", tenant.usernames["tiktok"])) == 1
    # No public id for a friends-only post: the publish_id stands for it.
    assert post["targets"][0]["platform_post_id"].startswith("v_pub_file~")


async def test_a_failed_upload_is_carried_on_by_the_next_attempt(stack: Stack) -> None:
    """The chunk never reached TikTok: the next attempt (which shares nothing in memory with
    the first, only the target's stored progress) sends it to the same upload URL instead of
    initialising a second publish."""
    tenant = await stack.new_tenant(("tiktok",))
    media_id, clip = await _video(stack, tenant)
    await _fault(stack, status=503, count=1, path="/upload/video/", method="PUT")
    try:
        post = await _publish(
            stack, tenant, "carried on", {"privacy_level": "SELF_ONLY"}, media_ids=[media_id]
        )
    finally:
        await stack.emulator.delete("/_emulator/faults")
    assert post["status"] == "published", post["targets"][0]["error"]
    assert post["targets"][0]["attempts"] == 2
    async with stack.resources.sessions() as session:
        target = await session.scalar(
            select(PostTarget).where(PostTarget.id == uuid.UUID(post["targets"][0]["id"]))
        )
    assert target is not None and target.publish_progress is not None
    progress = target.publish_progress
    # A private post's id is its publish_id: the one the first attempt's init made.
    assert post["targets"][0]["platform_post_id"] == progress["publish_id"]
    assert progress["transferred"] is True
    upload_id = parse_qs(urlsplit(progress["upload_url"]).query)["upload_id"][0]
    log = (await stack.emulator.get("/_emulator/requests?platform=tiktok&method=PUT")).json()
    puts = [r for r in log["data"] if f"upload_id={upload_id}" in r["query"]]
    assert [r["status"] for r in puts] == [503, 201]
    posts = await stack.emulator_posts("tiktok", tenant.usernames["tiktok"])
    assert len(posts) == 1 and posts[0]["media"][0]["sha256"] == _sha(clip)


@pytest.mark.parametrize("path", ["/video/init/", "/upload/video/"])
async def test_a_lost_init_or_upload_answer_does_not_post_twice(stack: Stack, path: str) -> None:
    tenant = await stack.new_tenant(("tiktok",))
    media_id, _ = await _video(stack, tenant)
    await _fault(stack, status=502, count=1, path=path, phase="after")
    try:
        post = await _publish(
            stack,
            tenant,
            "exactly one",
            {"privacy_level": "SELF_ONLY"},  # not in the public list: no lookup by text
            media_ids=[media_id],
        )
    finally:
        await stack.emulator.delete("/_emulator/faults")
    assert post["status"] == "published", post["targets"][0]["error"]
    assert post["targets"][0]["attempts"] == 2
    assert len(await stack.emulator_posts("tiktok", tenant.usernames["tiktok"])) == 1


async def test_an_invalid_token_fails_the_target_as_auth_expired(stack: Stack) -> None:
    tenant = await stack.new_tenant(("tiktok",))
    media_id, _ = await _video(stack, tenant)
    await _fault(stack, status=401, path="/creator_info/")
    try:
        post = await _publish(stack, tenant, "never", PUBLIC, media_ids=[media_id])
    finally:
        await stack.emulator.delete("/_emulator/faults")
    assert post["status"] == "failed"
    error = post["targets"][0]["error"]
    assert error["code"] == "auth_expired"
    assert error["retryable"] is False


async def test_a_refusal_fails_at_once_with_tiktoks_message(stack: Stack) -> None:
    tenant = await stack.new_tenant(("tiktok",))
    media_id, _ = await _video(stack, tenant)
    message = "The daily post cap from the API is reached for the current user."
    await _fault(stack, status=403, path="/video/init/", message=message)
    try:
        post = await _publish(stack, tenant, "too many", PUBLIC, media_ids=[media_id])
    finally:
        await stack.emulator.delete("/_emulator/faults")
    assert post["status"] == "failed"
    [target] = post["targets"]
    assert target["attempts"] == 1
    assert target["error"]["code"] == "rejected"
    assert message in target["error"]["message"]


async def test_validate_reports_tiktok_rules_with_paths(stack: Stack) -> None:
    tenant = await stack.new_tenant(("tiktok",))
    client = MediaClient(stack.api, tenant, None)
    photo = await client.upload("a.jpg", "image/jpeg", jpeg())
    account = str(tenant.accounts["tiktok"])
    body = {
        "content": "no media at all",
        "draft": True,
        "targets": [
            {"account_id": account, "options": {"disable_comment": "yes"}},
            {
                "account_id": account,
                "media_ids": [photo["id"]],
                "content": "😀" * 2001,  # 4002 UTF-16 runes: over a photo description's 4000
                "options": {
                    "privacy_level": "SELF_ONLY",
                    "brand_content_toggle": True,
                    "title": "t" * 91,
                    "publish_mode": "later",
                },
            },
        ],
    }
    response = await stack.api.post("/v1/posts/validate", json=body, headers=tenant.headers)
    assert response.status_code == 200, response.text
    first, second = response.json()["targets"]
    assert {(p["code"], p["path"]) for p in first["problems"]} == {
        ("media_required", "media_ids"),
        ("privacy_level_required", "targets.0.options.privacy_level"),
        ("invalid_option", "targets.0.options.disable_comment"),
    }
    assert {(p["code"], p["path"]) for p in second["problems"]} == {
        ("text_too_long", "targets.1.content"),
        ("title_too_long", "targets.1.options.title"),
        ("invalid_option", "targets.1.options.publish_mode"),
        ("branded_content_private", "targets.1.options.brand_content_toggle"),
    }
    fine = {
        "content": "😀" * 2000,
        "media_ids": [photo["id"]],
        "draft": True,
        "targets": [{"account_id": account, "options": {"privacy_level": "SELF_ONLY"}}],
    }
    ok = await stack.api.post("/v1/posts/validate", json=fine, headers=tenant.headers)
    assert ok.json()["valid"] is True, ok.json()


async def test_connect_through_login_kit_then_a_refused_token_is_refreshed(stack: Stack) -> None:
    tenant = await stack.new_tenant(())
    username = f"t{uuid.uuid4().hex[:10]}"
    created = await stack.emulator.post(
        "/_emulator/accounts", json={"platform": "tiktok", "username": username}
    )
    assert created.status_code == 200, created.text
    started = await stack.api.post(
        "/v1/accounts/connect/tiktok",
        json={"brand_id": str(tenant.brand_id)},
        headers=tenant.headers,
    )
    assert started.status_code == 200, started.text
    url = urlsplit(started.json()["authorization_url"])
    query = parse_qs(url.query)
    assert query["client_key"] == ["herald-emulator-client"]
    assert query["code_challenge_method"] == ["S256"]
    assert query["response_type"] == ["code"]
    window = await stack.emulator.get(
        f"{url.path}?{url.query}&emulator_username={username}", follow_redirects=False
    )
    assert window.status_code == 302, window.text
    back = parse_qs(urlsplit(window.headers["location"]).query)
    callback = await stack.api.get(
        "/v1/accounts/callback/tiktok", params={"code": back["code"][0], "state": back["state"][0]}
    )
    assert callback.status_code == 200, callback.text
    account = callback.json()
    assert account["username"] == username
    assert account["token_expires_at"] is not None  # Login Kit tokens last 24 hours

    tenant.accounts["tiktok"] = uuid.UUID(account["id"])
    media_id, _ = await _video(stack, tenant)
    await _fault(stack, status=401, count=1, path="/creator_info/")
    try:
        post = await _publish(stack, tenant, "after a refresh", PUBLIC, media_ids=[media_id])
    finally:
        await stack.emulator.delete("/_emulator/faults")
    assert post["status"] == "published", post["targets"][0]["error"]


# -- the adapter on its own, against the suite's emulator ---------------------------------------


@pytest.fixture
async def adapter(emulator_url: str) -> AsyncIterator[TikTokAdapter]:
    async with httpx.AsyncClient(timeout=10) as http:
        yield TikTokAdapter(http, emulated_app("tiktok", emulator_url))


async def _account(emulator_url: str) -> AccountContext:
    async with httpx.AsyncClient(base_url=emulator_url) as emulator:
        created = await emulator.post(
            "/_emulator/accounts",
            json={"platform": "tiktok", "username": f"a{uuid.uuid4().hex[:10]}"},
        )
    body = created.json()
    return AccountContext(
        account_id=str(uuid.uuid4()),
        username=body["username"],
        platform_account_id=str(body["id"]),
        credentials={"access_token": body["token"]},
    )


def _video_request(text: str, clip: bytes, **options: Any) -> PublishRequest:
    item = MediaItem("m1", "video/mp4", "clip.mp4", BytesContent(clip))
    return request_from(text, uuid.uuid4().hex, [item], {**PUBLIC, **options})


def test_chunk_plans_follow_the_transfer_guide() -> None:
    assert chunk_plan(3 * MB) == [(0, 3 * MB - 1)]
    assert chunk_plan(60 * MB) == [(0, 60 * MB - 1)]
    # 150 MB in 64 MB chunks: two chunks, the last one 86 MB with the trailing bytes.
    assert chunk_plan(150 * MB) == [(0, 64 * MB - 1), (64 * MB, 150 * MB - 1)]
    assert chunk_plan(12 * MB, 5 * MB) == [(0, 5 * MB - 1), (5 * MB, 12 * MB - 1)]


async def test_adapter_uploads_a_large_video_in_chunks(emulator_url: str) -> None:
    account = await _account(emulator_url)
    clip = mp4(seconds=3.5)
    clip += b"\x00" * (12 * MB - len(clip))  # trailing padding the player ignores
    async with httpx.AsyncClient(timeout=10) as http:
        adapter = TikTokAdapter(http, emulated_app("tiktok", emulator_url), chunk_size=5 * MB)
        published = await adapter.publish(account, _video_request("big", clip))
    async with httpx.AsyncClient(base_url=emulator_url) as emulator:
        posts = (await emulator.get(f"/_emulator/posts?account={account.username}")).json()
        requests = (await emulator.get("/_emulator/requests?platform=tiktok")).json()["data"]
    [post] = posts["data"]
    assert post["id"] == published.platform_post_id
    assert post["media"][0]["sha256"] == _sha(clip)
    puts = [r for r in requests if r["method"] == "PUT" and "/upload/video/" in r["path"]]
    assert [r["status"] for r in puts][-2:] == [206, 201]


async def test_adapter_carries_an_interrupted_upload_on_from_the_chunk_it_reached(
    emulator_url: str,
) -> None:
    """Three chunks; the second one fails. Another adapter (another process), given only the
    saved progress, sends the second and third chunks to the same upload URL."""
    account = await _account(emulator_url)
    clip = mp4(seconds=3.5)
    clip += b"\x00" * (17 * MB - len(clip))
    armed = False

    async def fail_the_next_chunk(response: httpx.Response) -> None:
        nonlocal armed
        if response.request.method == "PUT" and response.status_code == 206 and not armed:
            armed = True
            async with httpx.AsyncClient(base_url=emulator_url) as emulator:
                fault = {"platform": "tiktok", "status": 503, "count": 1, "method": "PUT"}
                assert (await emulator.post("/_emulator/faults", json=fault)).status_code == 200

    first = _video_request("carried on", clip)
    async with httpx.AsyncClient(timeout=10, event_hooks={"response": [fail_the_next_chunk]}) as h:
        adapter = TikTokAdapter(h, emulated_app("tiktok", emulator_url), chunk_size=5 * MB)
        with pytest.raises(Transient):
            await adapter.publish(account, first)
    assert first.progress.saved is not None and first.progress.saved["transferred"] is False
    again = request_from(
        first.text,
        first.idempotency_key,
        first.media,
        first.options,
        PublishProgress(dict(first.progress.saved)),
    )
    async with httpx.AsyncClient(timeout=10) as http:
        other = TikTokAdapter(http, emulated_app("tiktok", emulator_url), chunk_size=5 * MB)
        assert await other.find_existing(account, again, datetime.now(UTC)) is None
        published = await other.publish(account, again)
    assert again.progress.saved is not None and again.progress.saved["transferred"] is True
    upload_id = parse_qs(urlsplit(again.progress.saved["upload_url"]).query)["upload_id"][0]
    async with httpx.AsyncClient(base_url=emulator_url) as emulator:
        posts = (await emulator.get(f"/_emulator/posts?account={account.username}")).json()
        log = (await emulator.get("/_emulator/requests?platform=tiktok&method=PUT")).json()
    puts = [r for r in log["data"] if f"upload_id={upload_id}" in r["query"]]
    assert [r["status"] for r in puts] == [206, 503, 206, 201]
    [post] = posts["data"]
    assert post["id"] == published.platform_post_id
    assert post["media"][0]["sha256"] == _sha(clip)


class _RecordedProgress(PublishProgress):
    def __init__(self) -> None:
        super().__init__()
        self.history: list[dict[str, Any] | None] = []

    async def save(self, state: dict[str, Any] | None) -> None:
        await super().save(state)
        self.history.append(state)


async def test_adapter_forgets_a_publish_tiktok_failed_and_starts_over(emulator_url: str) -> None:
    account = await _account(emulator_url)
    progress = _RecordedProgress()
    item = MediaItem(
        "m1", "video/mp4", "clip.mp4", BytesContent(b"\x00" * 4096)
    )  # not a video: FAILED
    bad = request_from("not a video", uuid.uuid4().hex, [item], PUBLIC, progress)
    clip = mp4(seconds=3.5)
    async with httpx.AsyncClient(timeout=10) as http:
        adapter = TikTokAdapter(http, emulated_app("tiktok", emulator_url))
        with pytest.raises(Rejected):
            await adapter.publish(account, bad)
        init, sent, forgotten = progress.history
        assert init is not None and init["transferred"] is False
        assert sent is not None and sent["transferred"] is True and forgotten is None
        # Progress that still points at the failed publish (saved before it failed): the
        # next attempt sees TikTok's FAILED and initialises a new publish.
        stale = {**init, "size": len(clip)}
        retry = request_from(
            "a video",
            bad.idempotency_key,
            [_video_request("", clip).media[0]],
            PUBLIC,
            PublishProgress(stale),
        )
        published = await adapter.publish(account, retry)
    assert retry.progress.saved is not None
    assert retry.progress.saved["publish_id"] != init["publish_id"]
    assert published.platform_post_id


async def test_adapter_refuses_a_video_longer_than_the_creator_may_post(
    adapter: TikTokAdapter, emulator_url: str
) -> None:
    account = await _account(emulator_url)
    long_clip = mp4(seconds=301, fps=1)
    assert await mp4_duration_s(BytesContent(long_clip)) == pytest.approx(301, abs=1)
    with pytest.raises(Rejected) as refused:
        await adapter.publish(account, _video_request("too long", long_clip))
    assert refused.value.code == "video_too_long"
    assert "300 s" in refused.value.message


async def test_adapter_verifies_finds_lists_and_cannot_delete(
    adapter: TikTokAdapter, emulator_url: str
) -> None:
    account = await _account(emulator_url)
    me = await adapter.verify(account)
    assert (me.platform_account_id, me.username) == (account.platform_account_id, account.username)

    started = datetime.now(UTC)
    clip = mp4(seconds=3.5)
    first_request = _video_request("first #one", clip)
    assert await adapter.find_existing(account, first_request, started) is None
    first = await adapter.publish(account, first_request)
    private = await adapter.publish(
        account, _video_request("hidden", clip, privacy_level="SELF_ONLY")
    )
    assert private.platform_post_id.startswith("v_pub_file~") and private.url is None
    second = await adapter.publish(account, _video_request("second #two", clip))

    # A fresh adapter (another worker) knows no publish_id: it finds the post by its text.
    async with httpx.AsyncClient(timeout=10) as http:
        other = TikTokAdapter(http, emulated_app("tiktok", emulator_url))
        found = await other.find_existing(account, _video_request("first  #one", clip), started)
    assert found is not None and found.platform_post_id == first.platform_post_id
    # This adapter follows the publish_id it remembers.
    again = await adapter.find_existing(account, first_request, started)
    assert again is not None and again.platform_post_id == first.platform_post_id

    newest = await adapter.list_recent(account, None, 10)
    assert [p.id for p in newest] == [first.platform_post_id, second.platform_post_id]
    assert newest[1].hashtags == ("two",) and newest[1].kind == "video"
    assert await adapter.list_recent(account, second.platform_post_id, 10) == []
    after_first = await adapter.list_recent(account, first.platform_post_id, 10)
    assert [p.id for p in after_first] == [second.platform_post_id]

    with pytest.raises(Rejected, match="cannot delete"):
        await adapter.delete(account, first.platform_post_id)
    metrics = await adapter.fetch_metrics(account, first.platform_post_id)
    assert metrics.raw == {"view_count": 0, "like_count": 0, "comment_count": 0, "share_count": 0}
    assert metrics["impressions"] is None and metrics["video_views"] == 0
    with pytest.raises(Rejected, match="public"):
        await adapter.fetch_metrics(account, private.platform_post_id)


async def test_a_timed_out_status_is_transient_and_the_retry_finds_the_post(
    emulator_url: str,
) -> None:
    account = await _account(emulator_url)
    request = _video_request("slow answer", mp4(seconds=3.5))
    async with httpx.AsyncClient(base_url=emulator_url) as emulator:
        fault = {
            "platform": "tiktok",
            "delay_s": 1.0,
            "count": 3,  # the adapter repeats a timed-out status read twice
            "path": "/status/fetch/",
            "phase": "after",
        }
        assert (await emulator.post("/_emulator/faults", json=fault)).status_code == 200
        try:
            async with httpx.AsyncClient(timeout=0.5) as http:
                adapter = TikTokAdapter(http, emulated_app("tiktok", emulator_url))
                with pytest.raises(Transient, match="timed out"):
                    await adapter.publish(account, request)
                found = await adapter.find_existing(account, request, datetime.now(UTC))
        finally:
            await emulator.delete("/_emulator/faults")
        posts = (await emulator.get(f"/_emulator/posts?account={account.username}")).json()
    assert found is not None
    assert [p["id"] for p in posts["data"]] == [found.platform_post_id]


async def test_a_429_without_retry_after_waits_a_rate_window(
    adapter: TikTokAdapter, emulator_url: str
) -> None:
    account = await _account(emulator_url)
    async with httpx.AsyncClient(base_url=emulator_url) as emulator:
        fault = {"platform": "tiktok", "status": 429, "count": 1, "path": "/creator_info/"}
        assert (await emulator.post("/_emulator/faults", json=fault)).status_code == 200
        try:
            with pytest.raises(RateLimited) as limited:
                await adapter.publish(account, _video_request("later", mp4(seconds=3.5)))
        finally:
            await emulator.delete("/_emulator/faults")
    assert limited.value.retry_after_s == 60.0
    assert limited.value.code == "rate_limit_exceeded"


def test_validate_inbox_needs_no_privacy_and_tiktok_has_no_threads() -> None:
    video = MediaItem("m1", "video/mp4", "clip.mp4", BytesContent(b""))
    inbox = request_from("draft", "k", [video], {"publish_mode": "inbox"})
    assert validate(inbox) == []
    threaded = request_from("a", "k", [video], {**PUBLIC, "thread": ["b"], "first_comment": "c"})
    assert {p.path for p in validate(threaded)} == {
        "options.thread",
        "options.first_comment",
    }
    photos = [MediaItem(f"m{i}", "image/jpeg", "p.jpg", BytesContent(b"")) for i in range(36)]
    assert [p.code for p in validate(request_from("x", "k", photos, PUBLIC))] == ["too_many_media"]


async def test_adapter_login_kit_exchange_refresh_and_pkce(
    adapter: TikTokAdapter, emulator_url: str
) -> None:
    verifier = uuid.uuid4().hex * 2
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )
    start = OAuthStart("https://herald.example/callback", "st4te", challenge)

    async def code() -> str:
        url = urlsplit(adapter.authorization_url(start))
        async with httpx.AsyncClient(base_url=emulator_url) as emulator:
            window = await emulator.get(f"{url.path}?{url.query}", follow_redirects=False)
        return parse_qs(urlsplit(window.headers["location"]).query)["code"][0]

    with pytest.raises(Rejected):
        await adapter.exchange_code(await code(), "not-the-verifier", start.redirect_uri)
    one_code = await code()
    grant = await adapter.exchange_code(one_code, verifier, start.redirect_uri)
    assert grant.credentials["access_token"] and grant.credentials["refresh_token"]
    assert grant.expires_at is not None
    with pytest.raises(Rejected):
        await adapter.exchange_code(one_code, verifier, start.redirect_uri)  # replayed

    connected = AccountContext("a", "herald_sandbox", None, grant.credentials)
    assert (await adapter.verify(connected)).username == "herald_sandbox"
    renewed = await adapter.refresh(connected)
    assert renewed.credentials["refresh_token"] != grant.credentials["refresh_token"]
    with pytest.raises(AuthExpired):
        await adapter.refresh(connected)  # the old refresh token was rotated away
