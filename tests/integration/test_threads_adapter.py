"""Threads through the whole stack (API → workflow → ThreadsAdapter → emulator over HTTP, which
downloads media from Herald's signed URLs), plus the adapter's reading, deleting and OAuth
calls against the emulator directly."""

from __future__ import annotations

import asyncio
import hashlib
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
    PublishRequest,
    Rejected,
    request_from,
)
from platforms.content import BytesContent
from platforms.threads import ThreadsAdapter, count_characters
from tests.integration.test_media import MediaClient
from tests.support.media_files import jpeg, mp4, png
from tests.support.stack import Stack, Tenant

# The adapter against the emulator is the subject: the database does not change it.
pytestmark = pytest.mark.sqlite_only


def _body(tenant: Tenant, text: str, **extra: Any) -> dict[str, Any]:
    options = extra.pop("options", None)
    target: dict[str, Any] = {"account_id": str(tenant.accounts["threads"])}
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
    response = await stack.emulator.post("/_emulator/faults", json={"platform": "threads", **spec})
    assert response.status_code == 200, response.text


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def test_text_post_is_published_with_its_permalink(stack: Stack) -> None:
    tenant = await stack.new_tenant(("threads",))
    post = await _publish(stack, tenant, "Hello from Herald to Threads")
    assert post["status"] == "published", post["targets"][0]["error"]
    [target] = post["targets"]
    assert target["attempts"] == 1
    posts = await stack.emulator_posts("threads", tenant.usernames["threads"])
    assert [p["text"] for p in posts] == ["Hello from Herald to Threads"]
    assert target["platform_post_id"] == posts[0]["id"]
    assert target["platform_post_url"].startswith(
        f"https://www.threads.net/@{tenant.usernames['threads']}/post/"
    )


async def test_image_and_carousel_are_downloaded_from_signed_urls(stack: Stack) -> None:
    tenant = await stack.new_tenant(("threads",))
    client = MediaClient(stack.api, tenant, None)
    picture, photo, clip = png(90, 60), jpeg(40, 40), mp4(seconds=0.5)
    uploaded = [
        await client.upload("pic.png", "image/png", picture),
        await client.upload("photo.jpg", "image/jpeg", photo),
        await client.upload("clip.mp4", "video/mp4", clip),
    ]
    single = await _publish(stack, tenant, "one picture", media_ids=[uploaded[0]["id"]])
    assert single["status"] == "published", single["targets"][0]["error"]
    album = await _publish(stack, tenant, "an album", media_ids=[m["id"] for m in uploaded])
    assert album["status"] == "published", album["targets"][0]["error"]
    posts = {
        p["text"]: p for p in await stack.emulator_posts("threads", tenant.usernames["threads"])
    }
    assert [m["sha256"] for m in posts["one picture"]["media"]] == [_sha(picture)]
    assert [m["sha256"] for m in posts["an album"]["media"]] == [
        _sha(picture),
        _sha(photo),
        _sha(clip),
    ]


async def test_thread_parts_are_replies_to_the_part_before(stack: Stack) -> None:
    tenant = await stack.new_tenant(("threads",))
    post = await _publish(
        stack, tenant, "1/3 a thread", options={"thread": ["2/3 continues", {"text": "3/3 ends"}]}
    )
    assert post["status"] == "published", post["targets"][0]["error"]
    posts = await stack.emulator_posts("threads", tenant.usernames["threads"])
    by_text = {p["text"]: p for p in posts}
    assert [p["text"] for p in posts] == ["1/3 a thread", "2/3 continues", "3/3 ends"]
    assert by_text["2/3 continues"]["in_reply_to_id"] == by_text["1/3 a thread"]["id"]
    assert by_text["3/3 ends"]["in_reply_to_id"] == by_text["2/3 continues"]["id"]
    assert post["targets"][0]["platform_post_id"] == by_text["1/3 a thread"]["id"]


async def test_unpublishing_a_thread_deletes_every_part(stack: Stack) -> None:
    tenant = await stack.new_tenant(("threads",))
    post = await _publish(stack, tenant, "a thread to take back", options={"thread": ["part 2"]})
    assert post["status"] == "published", post["targets"][0]["error"]
    assert len(await stack.emulator_posts("threads", tenant.usernames["threads"])) == 2

    answer = await stack.api.post(f"/v1/posts/{post['id']}/unpublish", headers=tenant.headers)
    assert answer.status_code == 202, answer.text
    for _ in range(100):
        current = (await stack.api.get(f"/v1/posts/{post['id']}", headers=tenant.headers)).json()
        if current["targets"][0]["status"] == "deleted":
            break
        await asyncio.sleep(0.1)
    assert current["targets"][0]["status"] == "deleted"
    # The reply went too, not only the post it hangs on.
    assert await stack.emulator_posts("threads", tenant.usernames["threads"]) == []


async def test_a_rate_limit_is_waited_out(stack: Stack) -> None:
    tenant = await stack.new_tenant(("threads",))
    await _fault(stack, status=429, retry_after=1, count=1, path="/threads_publish")
    try:
        post = await _publish(stack, tenant, "patience")
    finally:
        await stack.emulator.delete("/_emulator/faults")
    assert post["status"] == "published"
    assert post["targets"][0]["attempts"] == 1  # a 429 is waited out, not an attempt
    assert len(await stack.emulator_posts("threads", tenant.usernames["threads"])) == 1


async def test_server_errors_are_retried_without_duplicates(stack: Stack) -> None:
    tenant = await stack.new_tenant(("threads",))
    await _fault(stack, status=503, count=2, path="/threads", method="POST")
    try:
        post = await _publish(stack, tenant, "retry me")
    finally:
        await stack.emulator.delete("/_emulator/faults")
    assert post["status"] == "published"
    assert post["targets"][0]["attempts"] == 3
    assert len(await stack.emulator_posts("threads", tenant.usernames["threads"])) == 1


async def test_a_lost_publish_answer_does_not_post_twice(stack: Stack) -> None:
    """Threads published it but the answer was lost: the retry finds the post by its text,
    and the thread part that never got made is added then."""
    tenant = await stack.new_tenant(("threads",))
    await _fault(stack, status=502, count=1, path="/threads_publish", phase="after")
    try:
        post = await _publish(stack, tenant, "only once", options={"thread": ["and its reply"]})
    finally:
        await stack.emulator.delete("/_emulator/faults")
    assert post["status"] == "published", post["targets"][0]["error"]
    posts = await stack.emulator_posts("threads", tenant.usernames["threads"])
    assert [p["text"] for p in posts] == ["only once", "and its reply"]
    assert posts[1]["in_reply_to_id"] == posts[0]["id"]
    assert post["targets"][0]["platform_post_id"] == posts[0]["id"]


async def test_an_invalid_token_is_refreshed_once_then_fails_the_target(stack: Stack) -> None:
    tenant = await stack.new_tenant(("threads",))
    await _fault(stack, status=401, count=1, path="/v1.0/", method="POST")
    try:
        recovered = await _publish(stack, tenant, "after a refresh")
    finally:
        await stack.emulator.delete("/_emulator/faults")
    assert recovered["status"] == "published", recovered["targets"][0]["error"]
    # The refused call made Herald refresh once: the account now holds a new token.
    listed = await stack.emulator.get("/_emulator/accounts", params={"platform": "threads"})
    [emulated] = [a for a in listed.json()["data"] if a["username"] == tenant.usernames["threads"]]
    async with stack.resources.sessions() as session:
        row = await session.get(SocialAccount, tenant.accounts["threads"])
        assert row is not None
        assert stack.cipher.context_of(row).credentials["access_token"] != emulated["token"]

    await _fault(stack, status=401, path="/v1.0/", method="POST")
    try:
        refused = await _publish(stack, tenant, "never")
    finally:
        await stack.emulator.delete("/_emulator/faults")
    assert refused["status"] == "failed"
    error = refused["targets"][0]["error"]
    assert error["code"] == "auth_expired"
    assert "Invalid OAuth access token" in error["message"]


async def test_rejected_content_fails_at_once_with_the_platform_message(stack: Stack) -> None:
    tenant = await stack.new_tenant(("threads",))
    # A server counting differently from the documented 500 refuses what Herald's rules pass.
    await _fault(
        stack,
        status=400,
        path="/threads",
        method="POST",
        count=1,
        message="The text is too long: Threads posts are limited to 500 characters.",
    )
    post = await _publish(stack, tenant, "x" * 490 + "😀")  # 494 as Threads counts
    assert post["status"] == "failed"
    [target] = post["targets"]
    assert target["attempts"] == 1
    assert target["error"]["code"] == "rejected"
    assert target["error"]["retryable"] is False
    assert "500 characters" in target["error"]["message"]
    assert await stack.emulator_posts("threads", tenant.usernames["threads"]) == []


async def test_validate_reports_threads_limits_with_paths(stack: Stack) -> None:
    tenant = await stack.new_tenant(("threads",))
    client = MediaClient(stack.api, tenant, None)
    image = await client.upload("pic.png", "image/png", png())
    body = {
        "content": "🙂" * 126,  # 504 bytes of emoji
        "media_ids": [image["id"]] * 20,  # the API itself refuses more than 20
        "draft": True,
        "targets": [
            {
                "account_id": str(tenant.accounts["threads"]),
                "options": {"thread": ["fine", "y" * 501]},
            }
        ],
    }
    response = await stack.api.post("/v1/posts/validate", json=body, headers=tenant.headers)
    assert response.status_code == 200, response.text
    [target] = response.json()["targets"]
    problems = {(p["code"], p["path"]) for p in target["problems"]}
    assert {
        ("text_too_long", "content"),
        ("text_too_long", "targets.0.options.thread.1"),  # the adapter's path, under its target
    } == problems
    fine = {**body, "content": "🙂" * 125}
    fine["targets"] = [{"account_id": str(tenant.accounts["threads"])}]
    ok = await stack.api.post("/v1/posts/validate", json=fine, headers=tenant.headers)
    assert ok.json()["valid"] is True, ok.json()


async def test_connect_through_oauth_and_refresh(stack: Stack) -> None:
    tenant = await stack.new_tenant(())
    username = f"t{uuid.uuid4().hex[:10]}"
    created = await stack.emulator.post(
        "/_emulator/accounts", json={"platform": "threads", "username": username}
    )
    started = await stack.api.post(
        "/v1/accounts/connect/threads",
        json={"brand_id": str(tenant.brand_id)},
        headers=tenant.headers,
    )
    assert started.status_code == 200, started.text
    url = urlsplit(started.json()["authorization_url"])
    query = parse_qs(url.query)
    assert "code_challenge" not in query  # Threads has no PKCE
    assert query["scope"] == [
        ",".join(
            (
                "threads_basic",
                "threads_content_publish",
                "threads_manage_replies",
                "threads_read_replies",
                "threads_delete",
                "threads_manage_insights",
            )
        )
    ]
    window = await stack.emulator.get(
        f"{url.path}?{url.query}&emulator_username={username}", follow_redirects=False
    )
    assert window.status_code == 302, window.text
    back = parse_qs(urlsplit(window.headers["location"]).query)
    callback = await stack.api.get(
        "/v1/accounts/callback/threads",
        params={"code": back["code"][0], "state": back["state"][0]},
    )
    assert callback.status_code == 200, callback.text
    account = callback.json()
    assert account["username"] == username
    expires = datetime.fromisoformat(account["token_expires_at"].replace("Z", "+00:00"))
    assert timedelta(days=59) < expires - datetime.now(UTC) <= timedelta(days=60)
    async with stack.resources.sessions() as session:
        row = await session.get(SocialAccount, uuid.UUID(account["id"]))
        assert row is not None
        assert row.platform_account_id == created.json()["id"]
        assert stack.cipher.context_of(row).credentials["user_id"] == created.json()["id"]
    refreshed = await stack.api.post(
        f"/v1/accounts/{account['id']}/refresh", headers=tenant.headers
    )
    assert refreshed.status_code == 200, refreshed.text


# -- the adapter on its own, against the suite's emulator ---------------------------------------


@pytest.fixture
async def adapter(emulator_url: str) -> AsyncIterator[ThreadsAdapter]:
    async with httpx.AsyncClient(timeout=10) as http:
        yield ThreadsAdapter(http, emulated_app("threads", emulator_url))


async def _account(emulator_url: str) -> AccountContext:
    async with httpx.AsyncClient(base_url=emulator_url) as emulator:
        created = await emulator.post(
            "/_emulator/accounts",
            json={"platform": "threads", "username": f"a{uuid.uuid4().hex[:10]}"},
        )
    body = created.json()
    return AccountContext(
        account_id=str(uuid.uuid4()),
        username=body["username"],
        platform_account_id=str(body["id"]),
        credentials={"access_token": body["token"]},
    )


def _request(text: str, **options: Any) -> PublishRequest:
    return request_from(text, uuid.uuid4().hex, [], options)


async def test_adapter_finds_lists_and_deletes(adapter: ThreadsAdapter, emulator_url: str) -> None:
    account = await _account(emulator_url)
    started = datetime.now(UTC)
    assert await adapter.find_existing(account, _request("first"), started) is None
    first = await adapter.publish(account, _request("first", thread=["first, continued"]))
    assert len(first.extra_post_ids) == 1
    second = await adapter.publish(account, _request("second #news"))
    third = await adapter.publish(account, _request("third"))

    found = await adapter.find_existing(
        account, _request("first", thread=["first, continued"]), started
    )
    assert found is not None
    assert found.platform_post_id == first.platform_post_id
    assert found.extra_post_ids == first.extra_post_ids
    # Same text with a picture is another post: the media type must match too.
    picture = MediaItem(
        "m1", "image/png", "pic.png", BytesContent(png()), url="http://unused.example/p.png"
    )
    assert (
        await adapter.find_existing(account, request_from("first", "k", [picture], {}), started)
        is None
    )
    assert (
        await adapter.find_existing(account, _request("first"), started + timedelta(hours=1))
        is None
    )

    newest = await adapter.list_recent(account, None, 2)
    assert [p.id for p in newest] == [second.platform_post_id, third.platform_post_id]
    assert newest[0].hashtags == ("news",)
    after_first = await adapter.list_recent(account, first.platform_post_id, 10)
    assert [p.text for p in after_first] == ["second #news", "third"]
    assert await adapter.list_recent(account, third.platform_post_id, 10) == []

    metrics = await adapter.fetch_metrics(account, first.platform_post_id)
    assert metrics["comments"] == 1 and metrics.raw["replies"] == 1
    await adapter.delete(account, second.platform_post_id)
    await adapter.delete(account, second.platform_post_id)  # already gone: fine
    assert [p.text for p in await adapter.list_recent(account, None, 10)] == ["first", "third"]

    identity = await adapter.verify(account)
    assert (identity.platform_account_id, identity.username) == (
        account.platform_account_id,
        account.username,
    )
    bad = AccountContext("x", "x", None, {"access_token": "nope"})
    with pytest.raises(AuthExpired):
        await adapter.verify(bad)


async def test_adapter_refuses_media_without_url_and_counts_like_threads(
    adapter: ThreadsAdapter, emulator_url: str
) -> None:
    account = await _account(emulator_url)
    item = MediaItem("m1", "image/png", "pic.png", BytesContent(png()))
    with pytest.raises(Rejected):
        await adapter.publish(account, request_from("pic", "k", [item], {}))
    assert count_characters("héllo 👋🏽") == 6 + 8
    gif = MediaItem("m2", "image/gif", "a.gif", BytesContent(b"GIF89a"))
    media = [gif, *[item] * 20]
    problems = adapter.validate(request_from("x", "k", media, {"first_comment": "z" * 501}))
    assert {(p.code, p.path) for p in problems} == {
        ("unsupported_media", "media_ids.0"),
        ("too_many_media", "media_ids"),
        ("text_too_long", "options.first_comment"),
    }
    links = " ".join(f"https://example.com/{i}" for i in range(6))
    assert [p.code for p in adapter.validate(_request(links))] == ["too_many_links"]


async def test_adapter_oauth_exchange_and_refresh(
    adapter: ThreadsAdapter, emulator_url: str
) -> None:
    account = await _account(emulator_url)
    url = adapter.authorization_url(
        OAuthStart("https://herald.example/cb", "st4te", code_challenge="unused")
    )
    async with httpx.AsyncClient() as http:
        window = await http.get(f"{url}&emulator_username={account.username}")
    location = urlsplit(window.headers["location"])
    code = parse_qs(location.query)["code"][0]
    grant = await adapter.exchange_code(code, "no-verifier", "https://herald.example/cb")
    assert grant.credentials["user_id"] == account.platform_account_id
    assert grant.expires_at is not None
    assert grant.expires_at > datetime.now(UTC) + timedelta(days=59)
    with pytest.raises(Rejected):  # codes are single use
        await adapter.exchange_code(code, "no-verifier", "https://herald.example/cb")
    connected = AccountContext("a", account.username, None, grant.credentials)
    assert (await adapter.verify(connected)).platform_account_id == account.platform_account_id
    renewed = await adapter.refresh(connected)
    assert renewed.credentials["access_token"]
    with pytest.raises(AuthExpired):
        await adapter.refresh(AccountContext("a", "a", None, {"access_token": "nope"}))
