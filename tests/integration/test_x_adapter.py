"""X through the whole stack (API → workflow → XAdapter → emulator over HTTP), plus the
adapter's reading, deleting, error mapping and OAuth calls against the emulator directly."""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from emulator.presets import emulated_app
from herald.db.models import SocialAccount
from platforms.base import (
    AccountContext,
    AuthExpired,
    MediaItem,
    OAuthStart,
    PlatformApp,
    PublishRequest,
    RateLimited,
    Rejected,
    Transient,
    request_from,
)
from platforms.content import BytesContent
from platforms.x import XAdapter
from platforms.x_text import weighted_length
from tests.integration.test_media import MediaClient
from tests.support.media_files import jpeg, mp4, png
from tests.support.stack import Stack, Tenant

# The adapter against the emulator is the subject: the database does not change it.
pytestmark = pytest.mark.sqlite_only


def _body(tenant: Tenant, text: str, **extra: Any) -> dict[str, Any]:
    options = extra.pop("options", None)
    target: dict[str, Any] = {"account_id": str(tenant.accounts["x"])}
    if options is not None:
        target["options"] = options
    return {"content": text, "targets": [target], "publish_now": True, **extra}


async def _publish(stack: Stack, tenant: Tenant, text: str, **extra: Any) -> dict[str, Any]:
    created = await stack.api.post(
        "/v1/posts", json=_body(tenant, text, **extra), headers=tenant.headers
    )
    assert created.status_code == 201, created.text
    return await stack.wait_for_post(tenant, created.json()["id"])


async def _fault(stack: Stack, **spec: Any) -> None:
    response = await stack.emulator.post("/_emulator/faults", json={"platform": "x", **spec})
    assert response.status_code == 200, response.text


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def test_text_post_is_published_with_its_status_url(stack: Stack) -> None:
    tenant = await stack.new_tenant(("x",))
    post = await _publish(stack, tenant, "Hello from Herald to X https://example.com/a")
    assert post["status"] == "published", post["targets"][0]["error"]
    [target] = post["targets"]
    assert target["attempts"] == 1
    posts = await stack.emulator_posts("x", tenant.usernames["x"])
    assert [p["text"] for p in posts] == ["Hello from Herald to X https://example.com/a"]
    assert target["platform_post_id"] == posts[0]["id"]
    assert target["platform_post_url"] == (
        f"https://x.com/{tenant.usernames['x']}/status/{posts[0]['id']}"
    )


async def test_images_and_a_video_are_uploaded_in_chunks(stack: Stack) -> None:
    tenant = await stack.new_tenant(("x",))
    client = MediaClient(stack.api, tenant, None)
    picture, photo, clip = png(90, 60), jpeg(40, 40), mp4(seconds=0.6)
    images = [
        await client.upload("pic.png", "image/png", picture),
        await client.upload("photo.jpg", "image/jpeg", photo),
    ]
    video = await client.upload("clip.mp4", "video/mp4", clip)
    album = await _publish(stack, tenant, "two pictures", media_ids=[m["id"] for m in images])
    assert album["status"] == "published", album["targets"][0]["error"]
    film = await _publish(stack, tenant, "a clip", media_ids=[video["id"]])
    assert film["status"] == "published", film["targets"][0]["error"]
    posts = {p["text"]: p for p in await stack.emulator_posts("x", tenant.usernames["x"])}
    assert [m["sha256"] for m in posts["two pictures"]["media"]] == [_sha(picture), _sha(photo)]
    assert [m["sha256"] for m in posts["a clip"]["media"]] == [_sha(clip)]


async def test_thread_parts_are_replies_to_the_part_before(stack: Stack) -> None:
    tenant = await stack.new_tenant(("x",))
    post = await _publish(
        stack, tenant, "1/3 a thread", options={"thread": ["2/3 continues", {"text": "3/3 ends"}]}
    )
    assert post["status"] == "published", post["targets"][0]["error"]
    posts = await stack.emulator_posts("x", tenant.usernames["x"])
    by_text = {p["text"]: p for p in posts}
    assert [p["text"] for p in posts] == ["1/3 a thread", "2/3 continues", "3/3 ends"]
    assert by_text["2/3 continues"]["in_reply_to_id"] == by_text["1/3 a thread"]["id"]
    assert by_text["3/3 ends"]["in_reply_to_id"] == by_text["2/3 continues"]["id"]
    assert post["targets"][0]["platform_post_id"] == by_text["1/3 a thread"]["id"]


async def test_a_rate_limit_is_waited_out(stack: Stack) -> None:
    tenant = await stack.new_tenant(("x",))
    await _fault(stack, status=429, retry_after=1, count=1, path="/2/tweets", method="POST")
    try:
        post = await _publish(stack, tenant, "patience")
    finally:
        await stack.emulator.delete("/_emulator/faults")
    assert post["status"] == "published"
    assert post["targets"][0]["attempts"] == 1  # a 429 is waited out, not an attempt
    assert len(await stack.emulator_posts("x", tenant.usernames["x"])) == 1


async def test_server_errors_and_timeouts_are_retried_without_duplicates(stack: Stack) -> None:
    tenant = await stack.new_tenant(("x",))
    await _fault(stack, status=503, count=2, path="/2/tweets", method="POST")
    try:
        post = await _publish(stack, tenant, "retry me")
    finally:
        await stack.emulator.delete("/_emulator/faults")
    assert post["status"] == "published"
    assert post["targets"][0]["attempts"] == 3
    assert len(await stack.emulator_posts("x", tenant.usernames["x"])) == 1


async def test_a_lost_publish_answer_does_not_post_twice(stack: Stack) -> None:
    """X created the Tweet but the answer was lost: the retry finds it by its text (t.co links
    expanded back), and the thread part that never got made is added then."""
    tenant = await stack.new_tenant(("x",))
    await _fault(stack, status=502, count=1, path="/2/tweets", method="POST", phase="after")
    text = "only once, see example.org/page"
    try:
        post = await _publish(stack, tenant, text, options={"thread": ["and its reply"]})
    finally:
        await stack.emulator.delete("/_emulator/faults")
    assert post["status"] == "published", post["targets"][0]["error"]
    posts = await stack.emulator_posts("x", tenant.usernames["x"])
    assert [p["text"] for p in posts] == [text, "and its reply"]
    assert posts[1]["in_reply_to_id"] == posts[0]["id"]
    assert post["targets"][0]["platform_post_id"] == posts[0]["id"]


async def test_an_invalid_token_fails_the_target_as_auth_expired(stack: Stack) -> None:
    tenant = await stack.new_tenant(("x",))
    await _fault(stack, status=401, path="/2/", method="POST")
    try:
        refused = await _publish(stack, tenant, "never")
    finally:
        await stack.emulator.delete("/_emulator/faults")
    assert refused["status"] == "failed"
    error = refused["targets"][0]["error"]
    assert error["code"] == "auth_expired"
    assert await stack.emulator_posts("x", tenant.usernames["x"]) == []


async def test_rejected_content_fails_at_once_with_the_platform_message(stack: Stack) -> None:
    """Herald's own validation would stop an over-long text; a media id X no longer knows is
    refused by X itself, and its words reach the target."""
    tenant = await stack.new_tenant(("x",))
    await _fault(
        stack,
        status=403,
        count=1,
        path="/2/tweets",
        method="POST",
        message="You are not permitted to perform this action.",
    )
    try:
        post = await _publish(stack, tenant, "refused")
    finally:
        await stack.emulator.delete("/_emulator/faults")
    assert post["status"] == "failed"
    [target] = post["targets"]
    assert target["attempts"] == 1
    assert target["error"]["code"] == "rejected"
    assert target["error"]["retryable"] is False
    assert "not permitted" in target["error"]["message"]
    assert await stack.emulator_posts("x", tenant.usernames["x"]) == []


async def test_validate_reports_x_limits_with_paths(stack: Stack) -> None:
    tenant = await stack.new_tenant(("x",))
    client = MediaClient(stack.api, tenant, None)
    image = await client.upload("pic.png", "image/png", png())
    body = {
        "content": "漢" * 141,  # 282 weighted
        "media_ids": [image["id"]] * 5,
        "draft": True,
        "targets": [
            {
                "account_id": str(tenant.accounts["x"]),
                "options": {"thread": ["fine", "y" * 258 + " https://example.com/" + "z" * 80]},
            }
        ],
    }
    response = await stack.api.post("/v1/posts/validate", json=body, headers=tenant.headers)
    assert response.status_code == 200, response.text
    [target] = response.json()["targets"]
    problems = {(p["code"], p["path"]) for p in target["problems"]}
    assert {
        ("text_too_long", "content"),
        ("too_many_media", "media_ids"),
        ("text_too_long", "targets.0.options.thread.1"),
    } <= problems
    fine = {
        **body,
        "content": "漢" * 140,
        "media_ids": [image["id"]] * 4,
        "targets": [
            {
                "account_id": str(tenant.accounts["x"]),
                "options": {"thread": ["y" * 256 + " https://example.com/" + "z" * 80]},
            }
        ],
    }
    ok = await stack.api.post("/v1/posts/validate", json=fine, headers=tenant.headers)
    assert ok.json()["valid"] is True, ok.json()


async def test_connect_through_oauth_and_refresh(stack: Stack) -> None:
    tenant = await stack.new_tenant(())
    username = f"x{uuid.uuid4().hex[:10]}"
    created = await stack.emulator.post(
        "/_emulator/accounts", json={"platform": "x", "username": username}
    )
    started = await stack.api.post(
        "/v1/accounts/connect/x", json={"brand_id": str(tenant.brand_id)}, headers=tenant.headers
    )
    assert started.status_code == 200, started.text
    url = urlsplit(started.json()["authorization_url"])
    query = parse_qs(url.query)
    assert query["scope"] == ["tweet.read tweet.write users.read media.write offline.access"]
    assert query["code_challenge_method"] == ["S256"]
    window = await stack.emulator.get(
        f"{url.path}?{url.query}&emulator_username={username}", follow_redirects=False
    )
    assert window.status_code == 302, window.text
    back = parse_qs(urlsplit(window.headers["location"]).query)
    callback = await stack.api.get(
        "/v1/accounts/callback/x", params={"code": back["code"][0], "state": back["state"][0]}
    )
    assert callback.status_code == 200, callback.text
    account = callback.json()
    assert account["username"] == username
    async with stack.resources.sessions() as session:
        row = await session.get(SocialAccount, uuid.UUID(account["id"]))
        assert row is not None
        assert row.platform_account_id == created.json()["id"]
        assert set(stack.cipher.context_of(row).credentials) >= {"access_token", "refresh_token"}
    refreshed = await stack.api.post(
        f"/v1/accounts/{account['id']}/refresh", headers=tenant.headers
    )
    assert refreshed.status_code == 200, refreshed.text


# -- the adapter on its own, against the suite's emulator ---------------------------------------


@pytest.fixture
async def adapter(emulator_url: str) -> AsyncIterator[XAdapter]:
    async with httpx.AsyncClient(timeout=10) as http:
        yield XAdapter(http, emulated_app("x", emulator_url))


async def _account(emulator_url: str, known_id: bool = True) -> AccountContext:
    async with httpx.AsyncClient(base_url=emulator_url) as emulator:
        created = await emulator.post(
            "/_emulator/accounts",
            json={"platform": "x", "username": f"a{uuid.uuid4().hex[:10]}"},
        )
    body = created.json()
    return AccountContext(
        account_id=str(uuid.uuid4()),
        username=body["username"],
        platform_account_id=str(body["id"]) if known_id else None,
        credentials={"access_token": body["token"]},
    )


def _request(text: str, media: list[MediaItem] | None = None, **options: Any) -> PublishRequest:
    return request_from(text, uuid.uuid4().hex, media or [], options)


async def test_adapter_finds_lists_and_deletes(adapter: XAdapter, emulator_url: str) -> None:
    account = await _account(emulator_url, known_id=False)
    started = datetime.now(UTC)
    assert await adapter.find_existing(account, _request("first"), started) is None
    first = await adapter.publish(account, _request("first", thread=["first, continued"]))
    assert len(first.extra_post_ids) == 1
    picture = MediaItem("m1", "image/png", "pic.png", BytesContent(png()), description="a pixel")
    second = await adapter.publish(account, _request("second #news https://example.com", [picture]))
    third = await adapter.publish(account, _request("third"))

    found = await adapter.find_existing(
        account, _request("first", thread=["first, continued"]), started
    )
    assert found is not None
    assert (found.platform_post_id, found.extra_post_ids) == (
        first.platform_post_id,
        first.extra_post_ids,
    )
    # The same text with a picture is another post; so is anything older than `since`.
    assert await adapter.find_existing(account, _request("first", [picture]), started) is None
    later = started + timedelta(hours=1)
    assert await adapter.find_existing(account, _request("first"), later) is None
    # A re-post X calls a duplicate is the Tweet already there.
    again = await adapter.publish(account, _request("third"))
    assert again.platform_post_id == third.platform_post_id

    newest = await adapter.list_recent(account, None, 2)
    assert [p.id for p in newest] == [second.platform_post_id, third.platform_post_id]
    assert newest[0].text == "second #news https://example.com"
    assert (newest[0].kind, newest[0].hashtags, len(newest[0].media_urls)) == (
        "image",
        ("news",),
        1,
    )
    after_first = await adapter.list_recent(account, first.platform_post_id, 10)
    assert [p.text for p in after_first] == ["second #news https://example.com", "third"]
    assert await adapter.list_recent(account, third.platform_post_id, 10) == []

    metrics = await adapter.fetch_metrics(account, first.platform_post_id)
    assert metrics["comments"] == 1 and metrics.raw["reply_count"] == 1
    await adapter.delete(account, first.platform_post_id)  # the thread goes with its head
    await adapter.delete(account, first.platform_post_id)  # already gone: fine
    async with httpx.AsyncClient(base_url=emulator_url) as emulator:
        listed = await emulator.get(
            "/_emulator/posts", params={"platform": "x", "account": account.username}
        )
    alive = [p["text"] for p in listed.json()["data"] if not p.get("deleted")]
    assert alive == ["second #news https://example.com", "third"]

    identity = await adapter.verify(account)
    assert identity.username == account.username
    bad = AccountContext("x", "x", None, {"access_token": "nope"})
    with pytest.raises(AuthExpired):
        await adapter.verify(bad)


async def test_adapter_counts_like_twitter_text_and_validates_media() -> None:
    assert weighted_length("a" * 280) == 280
    assert weighted_length("漢" * 140) == 280
    assert weighted_length("see https://example.com/" + "p" * 100) == 4 + 23
    assert weighted_length("example.org is nice") == 23 + 8
    assert weighted_length("👩‍👩‍👧‍👦 🇫🇷 👍🏽") == 2 + 1 + 2 + 1 + 2
    adapter = XAdapter(httpx.AsyncClient(), PlatformApp("http://unused"))
    image = MediaItem("i", "image/png", "a.png", BytesContent(b""))
    video = MediaItem("v", "video/mp4", "a.mp4", BytesContent(b""))
    gif = MediaItem("g", "image/gif", "a.gif", BytesContent(b""))
    tiff = MediaItem("t", "image/tiff", "a.tiff", BytesContent(b""))
    assert adapter.validate(_request("ok", [image] * 4)) == []
    assert [p.code for p in adapter.validate(_request("x", [video, image]))] == [
        "video_with_other_media"
    ]
    assert [p.code for p in adapter.validate(_request("x", [gif, gif]))] == [
        "video_with_other_media"
    ]
    assert {(p.code, p.path) for p in adapter.validate(_request("", [tiff]))} == {
        ("unsupported_media", "media_ids.0")
    }
    assert [p.path for p in adapter.validate(_request(""))] == ["content"]


def _mock_adapter(handler: Any) -> XAdapter:
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return XAdapter(http, emulated_app("x", "http://x.test"))


ME = AccountContext("a", "alice", "42", {"access_token": "t", "refresh_token": "r"})


async def test_adapter_maps_x_errors_onto_the_taxonomy() -> None:
    reset = int(time.time()) + 30

    def limited(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            429,
            json={
                "title": "Too Many Requests",
                "detail": "Too Many Requests",
                "type": "about:blank",
            },
            headers={"x-rate-limit-reset": str(reset), "x-rate-limit-remaining": "0"},
        )

    with pytest.raises(RateLimited) as limit:
        await _mock_adapter(limited).verify(ME)
    assert limit.value.retry_after_s is not None and 25 < limit.value.retry_after_s <= 30

    def invalid(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            400,
            json={
                "errors": [{"parameters": {}, "message": "Your media IDs are invalid."}],
                "title": "Invalid Request",
                "detail": "One or more parameters to your request was invalid.",
                "type": "https://api.x.com/2/problems/invalid-request",
            },
        )

    with pytest.raises(Rejected) as rejected:
        await _mock_adapter(invalid).publish(ME, _request("x"))
    assert (rejected.value.message, rejected.value.code) == (
        "Your media IDs are invalid.",
        "invalid-request",
    )

    def down(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, json={"title": "Service Unavailable", "type": "about:blank"})

    with pytest.raises(Transient):
        await _mock_adapter(down).publish(ME, _request("x"))

    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    with pytest.raises(Transient):
        await _mock_adapter(timeout).publish(ME, _request("x"))


async def test_adapter_rejects_media_x_could_not_process() -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(f"{request.method} {request.url.path}")
        if request.url.path.endswith("/initialize"):
            return httpx.Response(200, json={"data": {"id": "7", "media_key": "7_7"}})
        if request.url.path.endswith("/append"):
            return httpx.Response(200, json={"data": {"expires_at": 1}})
        if request.url.path.endswith("/finalize"):
            info = {"state": "pending", "check_after_secs": 0}
            return httpx.Response(200, json={"data": {"id": "7", "processing_info": info}})
        failed = {
            "state": "failed",
            "error": {"code": 1, "name": "InvalidMedia", "message": "Unsupported video format"},
        }
        return httpx.Response(200, json={"data": {"id": "7", "processing_info": failed}})

    clip = MediaItem("v", "video/mp4", "a.mp4", BytesContent(b"not really a video"))
    with pytest.raises(Rejected, match="Unsupported video format"):
        await _mock_adapter(handler).publish(ME, _request("clip", [clip]))
    assert calls == [
        "POST /x/2/media/upload/initialize",
        "POST /x/2/media/upload/7/append",
        "POST /x/2/media/upload/7/finalize",
        "GET /x/2/media/upload",
    ]


async def test_adapter_oauth_exchange_and_refresh(adapter: XAdapter, emulator_url: str) -> None:
    account = await _account(emulator_url)
    verifier = "k" * 50
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )
    url = adapter.authorization_url(OAuthStart("https://herald.example/cb", "st4te", challenge))
    query = parse_qs(urlsplit(url).query)
    assert query["response_type"] == ["code"]
    assert query["code_challenge"] == [challenge]
    async with httpx.AsyncClient() as http:
        window = await http.get(f"{url}&emulator_username={account.username}")
    code = parse_qs(urlsplit(window.headers["location"]).query)["code"][0]
    with pytest.raises(Rejected):  # a wrong verifier spends the code
        await adapter.exchange_code(code, "wrong" * 10, "https://herald.example/cb")
    async with httpx.AsyncClient() as http:
        window = await http.get(f"{url}&emulator_username={account.username}")
    code = parse_qs(urlsplit(window.headers["location"]).query)["code"][0]
    grant = await adapter.exchange_code(code, verifier, "https://herald.example/cb")
    assert set(grant.credentials) == {"access_token", "refresh_token"}
    assert grant.expires_at is not None and grant.expires_at > datetime.now(UTC)
    with pytest.raises(Rejected):  # codes are single use
        await adapter.exchange_code(code, verifier, "https://herald.example/cb")
    connected = AccountContext("a", account.username, None, grant.credentials)
    assert (await adapter.verify(connected)).platform_account_id == account.platform_account_id
    renewed = await adapter.refresh(connected)
    assert renewed.credentials["refresh_token"] != grant.credentials["refresh_token"]
    assert (await adapter.verify(AccountContext("a", "", None, renewed.credentials))).username
    with pytest.raises(AuthExpired):  # rotated: the old refresh token is spent
        await adapter.refresh(connected)
    with pytest.raises(AuthExpired):
        await adapter.refresh(AccountContext("a", "a", None, {"access_token": "nope"}))


async def test_adapter_a_timed_out_create_is_transient_and_then_found(emulator_url: str) -> None:
    """X made the Tweet but the answer came too late: the call fails as Transient, and the
    workflow's find_existing then finds the Tweet instead of posting it again."""
    account = await _account(emulator_url)
    started = datetime.now(UTC)
    async with httpx.AsyncClient(base_url=emulator_url) as emulator:
        fault = {
            "platform": "x",
            "delay_s": 1.0,
            "count": 1,
            "path": "/2/tweets",
            "method": "POST",
            "phase": "after",
        }
        assert (await emulator.post("/_emulator/faults", json=fault)).status_code == 200
        try:
            async with httpx.AsyncClient(timeout=0.5) as http:
                slow = XAdapter(http, emulated_app("x", emulator_url))
                with pytest.raises(Transient, match="timed out"):
                    await slow.publish(account, _request("slow answer"))
        finally:
            await emulator.delete("/_emulator/faults")
        listed = await emulator.get(
            "/_emulator/posts", params={"platform": "x", "account": account.username}
        )
    [made] = listed.json()["data"]
    async with httpx.AsyncClient(timeout=10) as http:
        found = await XAdapter(http, emulated_app("x", emulator_url)).find_existing(
            account, _request("slow answer"), started
        )
    assert found is not None and found.platform_post_id == made["id"]
