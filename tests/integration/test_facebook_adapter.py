"""Facebook Pages through the whole stack (API → workflow → FacebookAdapter → emulator over
HTTP), plus the adapter's reading, deleting, Page listing and OAuth calls directly."""

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
from platforms.base import AccountContext, AuthExpired, PublishRequest, Transient, request_from
from platforms.facebook import FacebookAdapter
from tests.integration.test_media import MediaClient
from tests.support.media_files import jpeg, mp4, png
from tests.support.stack import Stack, Tenant

# The adapter against the emulator is the subject: the database does not change it.
pytestmark = pytest.mark.sqlite_only

PLATFORM = "facebook"


def _body(tenant: Tenant, text: str, **extra: Any) -> dict[str, Any]:
    options = extra.pop("options", None)
    target: dict[str, Any] = {"account_id": str(tenant.accounts[PLATFORM])}
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
    response = await stack.emulator.post("/_emulator/faults", json={"platform": PLATFORM, **spec})
    assert response.status_code == 200, response.text


async def _posts(stack: Stack, tenant: Tenant) -> list[dict[str, Any]]:
    return await stack.emulator_posts(PLATFORM, tenant.usernames[PLATFORM])


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def test_text_post_with_link_and_first_comment(stack: Stack) -> None:
    tenant = await stack.new_tenant((PLATFORM,))
    post = await _publish(
        stack,
        tenant,
        "Hello Page readers",
        options={"link": "https://example.org/article", "first_comment": "More below"},
    )
    assert post["status"] == "published", post["targets"][0]["error"]
    [target] = post["targets"]
    posts = await _posts(stack, tenant)
    by_text = {p["text"]: p for p in posts}
    assert set(by_text) == {"Hello Page readers", "More below"}
    head = by_text["Hello Page readers"]
    assert target["platform_post_id"] == head["id"]
    assert by_text["More below"]["in_reply_to_id"] == head["id"]
    assert target["platform_post_url"].startswith("https://www.facebook.com/")


async def test_photos_and_a_video_are_uploaded(stack: Stack) -> None:
    tenant = await stack.new_tenant((PLATFORM,))
    client = MediaClient(stack.api, tenant, None)
    picture, photo, clip = png(90, 60), jpeg(40, 40), mp4(seconds=0.5)
    first = await client.upload("pic.png", "image/png", picture)
    second = await client.upload("photo.jpg", "image/jpeg", photo)
    video = await client.upload("clip.mp4", "video/mp4", clip)
    single = await _publish(stack, tenant, "one photo", media_ids=[first["id"]])
    assert single["status"] == "published", single["targets"][0]["error"]
    album = await _publish(stack, tenant, "two photos", media_ids=[first["id"], second["id"]])
    assert album["status"] == "published", album["targets"][0]["error"]
    film = await _publish(stack, tenant, "a film", media_ids=[video["id"]])
    assert film["status"] == "published", film["targets"][0]["error"]
    posts = {p["text"]: p for p in await _posts(stack, tenant)}
    assert [m["sha256"] for m in posts["one photo"]["media"]] == [_sha(picture)]
    assert [m["sha256"] for m in posts["two photos"]["media"]] == [_sha(picture), _sha(photo)]
    assert [m["sha256"] for m in posts["a film"]["media"]] == [_sha(clip)]


async def test_unpublish_deletes_the_post(stack: Stack) -> None:
    tenant = await stack.new_tenant((PLATFORM,))
    post = await _publish(stack, tenant, "to take back")
    assert post["status"] == "published", post["targets"][0]["error"]
    answer = await stack.api.post(f"/v1/posts/{post['id']}/unpublish", headers=tenant.headers)
    assert answer.status_code == 202, answer.text
    for _ in range(100):
        current = (await stack.api.get(f"/v1/posts/{post['id']}", headers=tenant.headers)).json()
        if current["targets"][0]["status"] == "deleted":
            break
        await asyncio.sleep(0.1)
    assert current["targets"][0]["status"] == "deleted"
    assert await _posts(stack, tenant) == []


async def test_a_rate_limit_is_waited_out(stack: Stack) -> None:
    tenant = await stack.new_tenant((PLATFORM,))
    await _fault(stack, status=429, retry_after=1, count=1, path="/feed", method="POST")
    try:
        post = await _publish(stack, tenant, "patience")
    finally:
        await stack.emulator.delete("/_emulator/faults")
    assert post["status"] == "published", post["targets"][0]["error"]
    assert post["targets"][0]["attempts"] == 1  # a 429 is waited out, not an attempt
    assert len(await _posts(stack, tenant)) == 1


async def test_server_errors_are_retried_without_duplicates(stack: Stack) -> None:
    tenant = await stack.new_tenant((PLATFORM,))
    await _fault(stack, status=503, count=2, path="/feed", method="POST")
    try:
        post = await _publish(stack, tenant, "retry me")
    finally:
        await stack.emulator.delete("/_emulator/faults")
    assert post["status"] == "published", post["targets"][0]["error"]
    assert post["targets"][0]["attempts"] == 3
    assert len(await _posts(stack, tenant)) == 1


async def test_a_lost_answer_does_not_post_twice(stack: Stack) -> None:
    tenant = await stack.new_tenant((PLATFORM,))
    await _fault(stack, status=502, count=1, path="/feed", method="POST", phase="after")
    try:
        post = await _publish(stack, tenant, "only once", options={"first_comment": "note"})
    finally:
        await stack.emulator.delete("/_emulator/faults")
    assert post["status"] == "published", post["targets"][0]["error"]
    posts = await _posts(stack, tenant)
    assert sorted(p["text"] for p in posts) == ["note", "only once"]
    head = next(p for p in posts if p["text"] == "only once")
    assert post["targets"][0]["platform_post_id"] == head["id"]


async def test_a_post_that_lands_after_the_retry_looked_is_adopted_not_refused(
    stack: Stack,
) -> None:
    """The first call is answered 504 but the Page gets the post 3 s later, after the retry
    looked and found nothing; the retry's own call (slowed to land later still) is refused as
    "Duplicate status message", and that post is then this target's post."""
    tenant = await stack.new_tenant((PLATFORM,))
    await _fault(stack, status=504, lands_after_s=3, count=1, path="/feed", method="POST")
    await _fault(stack, delay_s=5, count=1, path="/feed", method="POST")
    try:
        post = await _publish(stack, tenant, "late but once")
    finally:
        await stack.emulator.delete("/_emulator/faults")
    [target] = post["targets"]
    assert target["status"] == "published", target["error"]
    assert target["attempts"] == 2
    [made] = await _posts(stack, tenant)
    assert target["platform_post_id"] == made["id"]


async def test_an_invalid_token_is_refreshed_once_then_fails_the_target(stack: Stack) -> None:
    tenant = await stack.new_tenant((PLATFORM,))
    await _fault(stack, status=401, count=1, path="/feed", method="POST")
    try:
        recovered = await _publish(stack, tenant, "after a refresh")
    finally:
        await stack.emulator.delete("/_emulator/faults")
    assert recovered["status"] == "published", recovered["targets"][0]["error"]
    listed = await stack.emulator.get("/_emulator/accounts", params={"platform": PLATFORM})
    [emulated] = [a for a in listed.json()["data"] if a["username"] == tenant.usernames[PLATFORM]]
    async with stack.resources.sessions() as session:
        row = await session.get(SocialAccount, tenant.accounts[PLATFORM])
        assert row is not None
        assert stack.cipher.context_of(row).credentials["access_token"] != emulated["token"]

    await _fault(stack, status=401, path="/feed", method="POST")
    try:
        refused = await _publish(stack, tenant, "never")
    finally:
        await stack.emulator.delete("/_emulator/faults")
    assert refused["status"] == "failed"
    error = refused["targets"][0]["error"]
    assert error["code"] == "auth_expired"
    assert "Session has expired" in error["message"]


async def test_rejected_content_fails_at_once_with_the_platform_message(stack: Stack) -> None:
    tenant = await stack.new_tenant((PLATFORM,))
    first = await _publish(stack, tenant, "said it once")
    assert first["status"] == "published", first["targets"][0]["error"]
    again = await _publish(stack, tenant, "said it once")
    assert again["status"] == "failed"
    [target] = again["targets"]
    assert target["attempts"] == 1
    assert target["error"]["code"] == "rejected"
    assert "Duplicate status message" in target["error"]["message"]
    assert len(await _posts(stack, tenant)) == 1


async def test_validate_reports_facebook_limits_with_paths(stack: Stack) -> None:
    tenant = await stack.new_tenant((PLATFORM,))
    client = MediaClient(stack.api, tenant, None)
    image = await client.upload("pic.png", "image/png", png())
    clip = await client.upload("clip.mp4", "video/mp4", mp4(seconds=0.5))
    body = {
        "content": "x" * 63_207,
        "media_ids": [image["id"], clip["id"]],
        "draft": True,
        "targets": [{"account_id": str(tenant.accounts[PLATFORM]), "options": {"thread": ["no"]}}],
    }
    response = await stack.api.post("/v1/posts/validate", json=body, headers=tenant.headers)
    assert response.status_code == 200, response.text
    [target] = response.json()["targets"]
    problems = {(p["code"], p["path"]) for p in target["problems"]}
    assert {
        ("text_too_long", "content"),
        ("video_with_other_media", "media_ids"),
        ("thread_unsupported", "targets.0.options.thread"),
    } <= problems
    fine = {**body, "content": "fine", "media_ids": [image["id"]]}
    fine["targets"] = [{"account_id": str(tenant.accounts[PLATFORM])}]
    ok = await stack.api.post("/v1/posts/validate", json=fine, headers=tenant.headers)
    assert ok.json()["valid"] is True, ok.json()


async def test_connect_through_oauth_and_refresh(stack: Stack) -> None:
    tenant = await stack.new_tenant(())
    username = f"f{uuid.uuid4().hex[:10]}"
    created = await stack.emulator.post(
        "/_emulator/accounts", json={"platform": PLATFORM, "username": username}
    )
    started = await stack.api.post(
        f"/v1/accounts/connect/{PLATFORM}",
        json={"brand_id": str(tenant.brand_id)},
        headers=tenant.headers,
    )
    assert started.status_code == 200, started.text
    url = urlsplit(started.json()["authorization_url"])
    assert "code_challenge" not in parse_qs(url.query)
    window = await stack.emulator.get(
        f"{url.path}?{url.query}&emulator_username={username}", follow_redirects=False
    )
    assert window.status_code == 302, window.text
    back = parse_qs(urlsplit(window.headers["location"]).query)
    callback = await stack.api.get(
        f"/v1/accounts/callback/{PLATFORM}",
        params={"code": back["code"][0], "state": back["state"][0]},
    )
    assert callback.status_code == 200, callback.text
    account = callback.json()
    expires = datetime.fromisoformat(account["token_expires_at"].replace("Z", "+00:00"))
    assert timedelta(days=59) < expires - datetime.now(UTC) <= timedelta(days=60)
    async with stack.resources.sessions() as session:
        row = await session.get(SocialAccount, uuid.UUID(account["id"]))
        assert row is not None
        assert row.platform_account_id == created.json()["id"]
        credentials = stack.cipher.context_of(row).credentials
        assert credentials["page_id"] == created.json()["id"]
        assert credentials["page_access_token"]
    refreshed = await stack.api.post(
        f"/v1/accounts/{account['id']}/refresh", headers=tenant.headers
    )
    assert refreshed.status_code == 200, refreshed.text


# -- the adapter on its own, against the suite's emulator ---------------------------------------


@pytest.fixture
async def adapter(emulator_url: str) -> AsyncIterator[FacebookAdapter]:
    async with httpx.AsyncClient(timeout=10) as http:
        yield FacebookAdapter(http, emulated_app("facebook", emulator_url))


async def _account(emulator_url: str, **credentials: str) -> AccountContext:
    async with httpx.AsyncClient(base_url=emulator_url) as emulator:
        created = await emulator.post(
            "/_emulator/accounts",
            json={"platform": PLATFORM, "username": f"a{uuid.uuid4().hex[:10]}"},
        )
    body = created.json()
    return AccountContext(
        account_id=str(uuid.uuid4()),
        username=body["username"],
        platform_account_id=str(body["id"]),
        credentials={"access_token": body["token"], **credentials},
    )


def _request(text: str, **options: Any) -> PublishRequest:
    return request_from(text, uuid.uuid4().hex, [], options)


async def test_adapter_finds_lists_and_deletes(adapter: FacebookAdapter, emulator_url: str) -> None:
    account = await _account(emulator_url)  # no page_id: the first Page of /me/accounts
    started = datetime.now(UTC)
    assert await adapter.find_existing(account, _request("first"), started) is None
    published = [await adapter.publish(account, _request(f"post {i}")) for i in range(3)]
    found = await adapter.find_existing(account, _request("post 1"), started)
    assert found is not None
    assert found.platform_post_id == published[1].platform_post_id
    newest = await adapter.list_recent(account, None, 2)
    assert [p.text for p in newest] == ["post 1", "post 2"]
    after = await adapter.list_recent(account, published[0].platform_post_id, 10)
    assert [p.id for p in after] == [p.platform_post_id for p in published[1:]]
    await adapter.delete(account, published[2].platform_post_id)
    assert [p.text for p in await adapter.list_recent(account, None, 10)] == ["post 0", "post 1"]
    identity = await adapter.verify(account)
    assert identity.platform_account_id == account.platform_account_id
    assert identity.username == account.username
    pages = await adapter.list_pages(account)
    assert [p["id"] for p in pages] == [account.platform_account_id]
    assert pages[0]["access_token"] != account.credentials["access_token"]


async def test_adapter_with_a_bad_token_raises_auth_expired(
    adapter: FacebookAdapter, emulator_url: str
) -> None:
    account = await _account(emulator_url, page_id="1", page_access_token="nope")
    with pytest.raises(AuthExpired) as raised:
        await adapter.verify(account)
    assert raised.value.code == "190"


async def test_a_timed_out_publish_is_transient_and_the_retry_finds_it(emulator_url: str) -> None:
    account = await _account(emulator_url)
    request = _request("slow answer")
    async with httpx.AsyncClient(base_url=emulator_url) as emulator:
        fault = {
            "platform": PLATFORM,
            "delay_s": 1.0,
            "count": 1,
            "path": "/feed",
            "method": "POST",
            "phase": "after",
        }
        assert (await emulator.post("/_emulator/faults", json=fault)).status_code == 200
        try:
            async with httpx.AsyncClient(timeout=0.5) as http:
                adapter = FacebookAdapter(http, emulated_app("facebook", emulator_url))
                with pytest.raises(Transient, match="timed out"):
                    await adapter.publish(account, request)
            await asyncio.sleep(0.6)  # the emulator finishes the delayed write
            async with httpx.AsyncClient(timeout=5) as http:
                adapter = FacebookAdapter(http, emulated_app("facebook", emulator_url))
                found = await adapter.find_existing(
                    account, request, datetime.now(UTC) - timedelta(seconds=5)
                )
        finally:
            await emulator.delete("/_emulator/faults")
        posts = (await emulator.get(f"/_emulator/posts?account={account.username}")).json()
    assert found is not None
    assert [p["id"] for p in posts["data"]] == [found.platform_post_id]


async def test_select_page_switches_to_a_page_the_user_manages(stack: Stack) -> None:
    tenant = await stack.new_tenant(("facebook", "mastodon"))
    account_id = tenant.accounts["facebook"]
    async with stack.resources.sessions() as session:
        row = await session.get(SocialAccount, account_id)
        assert row is not None
        page_id = str(stack.cipher.context_of(row).credentials["page_id"])

    chosen = await stack.api.post(
        f"/v1/accounts/{account_id}/select-page", json={"page_id": page_id}, headers=tenant.headers
    )
    assert chosen.status_code == 200, chosen.text
    assert "token" not in chosen.text.lower().replace("token_expires_at", "")
    async with stack.resources.sessions() as session:
        row = await session.get(SocialAccount, account_id)
        assert row is not None
        credentials = stack.cipher.context_of(row).credentials
    assert credentials["page_id"] == page_id and credentials["page_access_token"]
    assert row.platform_account_id == page_id
    published = await _publish(stack, tenant, "as the chosen page")
    assert published["status"] == "published", published["targets"][0]["error"]

    unknown = await stack.api.post(
        f"/v1/accounts/{account_id}/select-page", json={"page_id": "999"}, headers=tenant.headers
    )
    assert unknown.status_code == 400 and page_id in unknown.json()["error"]["message"]
    no_pages = await stack.api.post(
        f"/v1/accounts/{tenant.accounts['mastodon']}/select-page",
        json={"page_id": "1"},
        headers=tenant.headers,
    )
    assert no_pages.status_code == 400
    missing = await stack.api.post(
        f"/v1/accounts/{uuid.uuid4()}/select-page", json={"page_id": "1"}, headers=tenant.headers
    )
    assert missing.status_code == 404
