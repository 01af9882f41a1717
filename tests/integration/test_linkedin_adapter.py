"""LinkedIn through the whole stack (API → workflow → LinkedInAdapter → emulator over HTTP),
plus the adapter's reading, deleting and OAuth calls against the emulator directly."""

from __future__ import annotations

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
from platforms.linkedin import LinkedInAdapter
from platforms.linkedin_text import commentary_length, escape_little, unescape_little
from tests.integration.test_media import MediaClient
from tests.support.media_files import jpeg, mp4, png
from tests.support.stack import Stack, Tenant

# The adapter against the emulator is the subject: the database does not change it.
pytestmark = pytest.mark.sqlite_only


def _body(tenant: Tenant, text: str, **extra: Any) -> dict[str, Any]:
    options = extra.pop("options", None)
    target: dict[str, Any] = {"account_id": str(tenant.accounts["linkedin"])}
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
    response = await stack.emulator.post("/_emulator/faults", json={"platform": "linkedin", **spec})
    assert response.status_code == 200, response.text


async def _posts(stack: Stack, tenant: Tenant) -> list[dict[str, Any]]:
    return await stack.emulator_posts("linkedin", tenant.usernames["linkedin"])


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def test_text_post_is_escaped_and_published_with_its_feed_url(stack: Stack) -> None:
    tenant = await stack.new_tenant(("linkedin",))
    text = "Herald (beta) ships *today* — see [notes] #launch https://example.com/a_b"
    post = await _publish(stack, tenant, text)
    assert post["status"] == "published", post["targets"][0]["error"]
    [target] = post["targets"]
    assert target["attempts"] == 1
    posts = await _posts(stack, tenant)
    # The emulator cuts a post at an unescaped reserved character, as LinkedIn does.
    assert [p["text"] for p in posts] == [text]
    assert target["platform_post_id"] == posts[0]["id"]
    assert target["platform_post_url"] == (f"https://www.linkedin.com/feed/update/{posts[0]['id']}")


async def test_image_multi_image_and_video_posts(stack: Stack) -> None:
    tenant = await stack.new_tenant(("linkedin",))
    client = MediaClient(stack.api, tenant, None)
    picture, photo, clip = png(90, 60), jpeg(40, 40), mp4(seconds=3.5)
    image = await client.upload("pic.png", "image/png", picture)
    other = await client.upload("photo.jpg", "image/jpeg", photo)
    video = await client.upload("clip.mp4", "video/mp4", clip)
    single = await _publish(stack, tenant, "one picture", media_ids=[image["id"]])
    assert single["status"] == "published", single["targets"][0]["error"]
    album = await _publish(stack, tenant, "an album", media_ids=[image["id"], other["id"]])
    assert album["status"] == "published", album["targets"][0]["error"]
    film = await _publish(stack, tenant, "a film", media_ids=[video["id"]])
    assert film["status"] == "published", film["targets"][0]["error"]
    posts = {p["text"]: p for p in await _posts(stack, tenant)}
    assert [m["sha256"] for m in posts["one picture"]["media"]] == [_sha(picture)]
    assert [m["sha256"] for m in posts["an album"]["media"]] == [_sha(picture), _sha(photo)]
    assert [m["sha256"] for m in posts["a film"]["media"]] == [_sha(clip)]


async def test_first_comment_is_a_comment_under_the_post(stack: Stack) -> None:
    tenant = await stack.new_tenant(("linkedin",))
    post = await _publish(stack, tenant, "read on", options={"first_comment": "Link: (here)"})
    assert post["status"] == "published", post["targets"][0]["error"]
    head, comment = await _posts(stack, tenant)
    assert comment["text"] == "Link: (here)"  # comments are plain text, not "little"
    assert comment["in_reply_to_id"] == head["id"]
    assert comment["id"].startswith("urn:li:comment:(")
    assert post["targets"][0]["platform_post_id"] == head["id"]


async def test_a_rate_limit_is_waited_out(stack: Stack) -> None:
    tenant = await stack.new_tenant(("linkedin",))
    await _fault(stack, status=429, retry_after=1, count=1, path="/rest/posts", method="POST")
    try:
        post = await _publish(stack, tenant, "patience")
    finally:
        await stack.emulator.delete("/_emulator/faults")
    assert post["status"] == "published"
    assert post["targets"][0]["attempts"] == 1  # a 429 is waited out, not an attempt
    assert len(await _posts(stack, tenant)) == 1


async def test_server_errors_are_retried_without_duplicates(stack: Stack) -> None:
    tenant = await stack.new_tenant(("linkedin",))
    await _fault(stack, status=503, count=2, path="/rest/posts", method="POST")
    try:
        post = await _publish(stack, tenant, "retry me")
    finally:
        await stack.emulator.delete("/_emulator/faults")
    assert post["status"] == "published"
    assert post["targets"][0]["attempts"] == 3
    assert len(await _posts(stack, tenant)) == 1


async def test_a_lost_answer_does_not_post_twice_and_the_comment_is_completed(
    stack: Stack,
) -> None:
    """LinkedIn made the post but the answer was lost: the retry finds it through the author
    finder and adds the first comment that never got made."""
    tenant = await stack.new_tenant(("linkedin",))
    await _fault(stack, status=502, count=1, path="/rest/posts", method="POST", phase="after")
    try:
        post = await _publish(stack, tenant, "only once", options={"first_comment": "and this"})
    finally:
        await stack.emulator.delete("/_emulator/faults")
    assert post["status"] == "published", post["targets"][0]["error"]
    posts = await _posts(stack, tenant)
    assert [p["text"] for p in posts] == ["only once", "and this"]
    assert posts[1]["in_reply_to_id"] == posts[0]["id"]
    assert post["targets"][0]["platform_post_id"] == posts[0]["id"]


async def test_a_post_that_lands_after_the_retry_looked_is_adopted_not_refused(
    stack: Stack,
) -> None:
    """The first call is answered 504 but LinkedIn makes the post 3 s later, after the retry
    looked for it and found nothing; the retry's own call (slowed to land later still) is
    refused as a duplicate of that post, which is then this target's post, not a failure."""
    tenant = await stack.new_tenant(("linkedin",))
    await _fault(stack, status=504, lands_after_s=3, count=1, path="/rest/posts", method="POST")
    await _fault(stack, delay_s=5, count=1, path="/rest/posts", method="POST")
    try:
        post = await _publish(stack, tenant, "late but once")
    finally:
        await stack.emulator.delete("/_emulator/faults")
    [target] = post["targets"]
    assert target["status"] == "published", target["error"]
    assert target["attempts"] == 2
    [made] = await _posts(stack, tenant)
    assert target["platform_post_id"] == made["id"]


async def test_an_invalid_token_fails_the_target_as_auth_expired(stack: Stack) -> None:
    """Without a refresh token (LinkedIn grants them to approved apps only) the one refresh
    Herald tries cannot help: the target fails, asking for a reconnect."""
    tenant = await stack.new_tenant(("linkedin",))
    await _fault(stack, status=401, path="/rest/", method="POST")
    try:
        refused = await _publish(stack, tenant, "never")
    finally:
        await stack.emulator.delete("/_emulator/faults")
    assert refused["status"] == "failed"
    error = refused["targets"][0]["error"]
    assert error["code"] == "auth_expired"
    assert "reconnect" in error["message"]
    assert await _posts(stack, tenant) == []


async def test_rejected_content_fails_at_once_with_the_platform_message(stack: Stack) -> None:
    tenant = await stack.new_tenant(("linkedin",))
    # A server counting differently from the documented 3000 refuses what Herald's rules pass.
    await _fault(
        stack,
        status=400,
        path="/rest/posts",
        method="POST",
        count=1,
        message="ShareCommentary text length (2990 characters) exceeded the maximum allowed "
        "(3000 characters)",
    )
    post = await _publish(stack, tenant, "x" * 2990)
    assert post["status"] == "failed"
    [target] = post["targets"]
    assert target["attempts"] == 1
    assert target["error"]["code"] == "rejected"
    assert target["error"]["retryable"] is False
    assert "exceeded the maximum allowed (3000 characters)" in target["error"]["message"]

    first = await _publish(stack, tenant, "said once")
    assert first["status"] == "published"
    again = await _publish(stack, tenant, "said once")
    assert again["status"] == "failed"
    assert "Content is a duplicate of urn:li:share:" in again["targets"][0]["error"]["message"]
    assert len(await _posts(stack, tenant)) == 1


async def test_validate_reports_linkedin_limits_with_paths(stack: Stack) -> None:
    tenant = await stack.new_tenant(("linkedin",))
    client = MediaClient(stack.api, tenant, None)
    image = await client.upload("pic.png", "image/png", png())
    video = await client.upload("clip.mp4", "video/mp4", mp4(seconds=3.5))
    body = {
        "content": "(" * 1501,  # 3002 characters once escaped
        "media_ids": [image["id"], video["id"]],
        "draft": True,
        "targets": [
            {
                "account_id": str(tenant.accounts["linkedin"]),
                "options": {"thread": ["no threads here"]},
            }
        ],
    }
    response = await stack.api.post("/v1/posts/validate", json=body, headers=tenant.headers)
    assert response.status_code == 200, response.text
    [target] = response.json()["targets"]
    problems = {(p["code"], p["path"]) for p in target["problems"]}
    assert {
        ("text_too_long", "content"),
        ("video_with_other_media", "media_ids"),
        ("unsupported_option", "targets.0.options.thread"),
    } == problems
    fine = {**body, "content": "(" * 1500, "media_ids": [image["id"]] * 20}
    fine["targets"] = [{"account_id": str(tenant.accounts["linkedin"])}]
    ok = await stack.api.post("/v1/posts/validate", json=fine, headers=tenant.headers)
    assert ok.json()["valid"] is True, ok.json()


async def test_connect_through_oauth_and_refresh(stack: Stack) -> None:
    tenant = await stack.new_tenant(())
    username = f"t{uuid.uuid4().hex[:10]}"
    created = await stack.emulator.post(
        "/_emulator/accounts", json={"platform": "linkedin", "username": username}
    )
    started = await stack.api.post(
        "/v1/accounts/connect/linkedin",
        json={"brand_id": str(tenant.brand_id)},
        headers=tenant.headers,
    )
    assert started.status_code == 200, started.text
    url = urlsplit(started.json()["authorization_url"])
    query = parse_qs(url.query)
    assert "code_challenge" not in query  # no PKCE for web apps
    assert query["scope"] == ["openid profile w_member_social"]
    window = await stack.emulator.get(
        f"{url.path}?{url.query}&emulator_username={username}", follow_redirects=False
    )
    assert window.status_code == 302, window.text
    back = parse_qs(urlsplit(window.headers["location"]).query)
    callback = await stack.api.get(
        "/v1/accounts/callback/linkedin",
        params={"code": back["code"][0], "state": back["state"][0]},
    )
    assert callback.status_code == 200, callback.text
    account = callback.json()
    expires = datetime.fromisoformat(account["token_expires_at"].replace("Z", "+00:00"))
    assert timedelta(days=59) < expires - datetime.now(UTC) <= timedelta(days=60)
    urn = f"urn:li:person:{created.json()['id']}"
    async with stack.resources.sessions() as session:
        row = await session.get(SocialAccount, uuid.UUID(account["id"]))
        assert row is not None
        assert row.platform_account_id == urn
        credentials = stack.cipher.context_of(row).credentials
        assert credentials["author_urn"] == urn
        assert credentials["refresh_token"]
    refreshed = await stack.api.post(
        f"/v1/accounts/{account['id']}/refresh", headers=tenant.headers
    )
    assert refreshed.status_code == 200, refreshed.text
    async with stack.resources.sessions() as session:
        row = await session.get(SocialAccount, uuid.UUID(account["id"]))
        assert row is not None
        renewed = stack.cipher.context_of(row).credentials
        assert renewed["access_token"] != credentials["access_token"]
        assert renewed["refresh_token"] == credentials["refresh_token"]


# -- the adapter on its own, against the suite's emulator ---------------------------------------


@pytest.fixture
async def adapter(emulator_url: str) -> AsyncIterator[LinkedInAdapter]:
    async with httpx.AsyncClient(timeout=10) as http:
        yield LinkedInAdapter(http, emulated_app("linkedin", emulator_url))


async def _account(emulator_url: str) -> AccountContext:
    async with httpx.AsyncClient(base_url=emulator_url) as emulator:
        created = await emulator.post(
            "/_emulator/accounts",
            json={"platform": "linkedin", "username": f"a{uuid.uuid4().hex[:10]}"},
        )
    body = created.json()
    return AccountContext(
        account_id=str(uuid.uuid4()),
        username=body["username"],
        platform_account_id=None,  # the adapter asks /v2/userinfo for the author
        credentials={"access_token": body["token"]},
    )


def _request(text: str, **options: Any) -> PublishRequest:
    return request_from(text, uuid.uuid4().hex, [], options)


async def test_adapter_finds_lists_and_deletes(adapter: LinkedInAdapter, emulator_url: str) -> None:
    account = await _account(emulator_url)
    started = datetime.now(UTC)
    assert await adapter.find_existing(account, _request("first"), started) is None
    first = await adapter.publish(account, _request("first (1)", first_comment="more"))
    assert len(first.extra_post_ids) == 1
    second = await adapter.publish(account, _request("second #News"))
    third = await adapter.publish(account, _request("third"))

    found = await adapter.find_existing(
        account, _request("first (1)", first_comment="more"), started
    )
    assert found is not None
    assert found.platform_post_id == first.platform_post_id
    assert found.extra_post_ids == first.extra_post_ids
    # Same text with a picture is another post: the kind must match too.
    picture = MediaItem("m1", "image/png", "pic.png", BytesContent(png()))
    assert (
        await adapter.find_existing(account, request_from("first (1)", "k", [picture], {}), started)
        is None
    )
    assert (
        await adapter.find_existing(account, _request("first (1)"), started + timedelta(hours=1))
        is None
    )

    newest = await adapter.list_recent(account, None, 2)
    assert [p.id for p in newest] == [second.platform_post_id, third.platform_post_id]
    assert newest[0].hashtags == ("news",)
    after_first = await adapter.list_recent(account, first.platform_post_id, 10)
    assert [p.text for p in after_first] == ["second #News", "third"]
    assert await adapter.list_recent(account, third.platform_post_id, 10) == []

    metrics = await adapter.fetch_metrics(account, first.platform_post_id)
    assert (metrics["likes"], metrics["comments"]) == (0, 1)
    await adapter.delete(account, first.extra_post_ids[0])  # the comment alone
    assert (await adapter.fetch_metrics(account, first.platform_post_id))["comments"] == 0
    await adapter.delete(account, second.platform_post_id)
    await adapter.delete(account, second.platform_post_id)  # already gone: fine
    assert [p.text for p in await adapter.list_recent(account, None, 10)] == [
        "first (1)",
        "third",
    ]

    identity = await adapter.verify(account)
    assert identity.platform_account_id.startswith("urn:li:person:")
    assert identity.username == account.username
    bad = AccountContext("x", "x", None, {"access_token": "nope"})
    with pytest.raises(AuthExpired):
        await adapter.verify(bad)


async def test_adapter_rules_and_little_text() -> None:
    assert escape_little("a (b) #tag # * https://x.io/a_b") == (
        r"a \(b\) #tag \# \* https://x.io/a_b"
    )
    assert escape_little("(see https://x.io/wiki/A_(b))") == r"\(see https://x.io/wiki/A_(b\)\)"
    assert unescape_little(escape_little("x_y {z} @me")) == "x_y {z} @me"
    assert commentary_length("(😀") == 4  # "\(" plus a surrogate pair
    adapter = LinkedInAdapter(httpx.AsyncClient(), emulated_app("linkedin", "http://unused"))
    image = MediaItem("m1", "image/png", "pic.png", BytesContent(b""))
    clip = MediaItem("m2", "video/mp4", "clip.mp4", BytesContent(b""))
    text = MediaItem("m3", "text/plain", "notes.txt", BytesContent(b""))
    problems = adapter.validate(request_from("", "k", [image] * 21 + [clip, text], {}))
    assert {(p.code, p.path) for p in problems} == {
        ("unsupported_media", "media_ids.22"),
        ("video_with_other_media", "media_ids"),
        ("too_many_media", "media_ids"),
    }
    assert [p.code for p in adapter.validate(_request(""))] == ["empty"]
    assert adapter.validate(request_from("", "k", [clip], {"visibility": "CONNECTIONS"})) == []
    [wrong] = adapter.validate(_request("x", visibility="EVERYONE"))
    assert (wrong.code, wrong.path) == ("invalid_option", "options.visibility")
    [long] = adapter.validate(_request("x", first_comment="c" * 1251))
    assert (long.code, long.path) == ("text_too_long", "options.first_comment")
    assert adapter.validate(_request("x", first_comment="c" * 1250)) == []


async def test_adapter_oauth_exchange_and_refresh(
    adapter: LinkedInAdapter, emulator_url: str
) -> None:
    account = await _account(emulator_url)
    url = adapter.authorization_url(
        OAuthStart("https://herald.example/cb", "st4te", code_challenge="unused")
    )
    assert "code_challenge" not in url
    async with httpx.AsyncClient() as http:
        window = await http.get(f"{url}&emulator_username={account.username}")
    location = urlsplit(window.headers["location"])
    code = parse_qs(location.query)["code"][0]
    grant = await adapter.exchange_code(code, "no-verifier", "https://herald.example/cb")
    assert grant.credentials["author_urn"].startswith("urn:li:person:")
    assert grant.expires_at is not None
    assert grant.expires_at > datetime.now(UTC) + timedelta(days=59)
    with pytest.raises(Rejected):  # codes are single use
        await adapter.exchange_code(code, "no-verifier", "https://herald.example/cb")
    connected = AccountContext("a", account.username, None, grant.credentials)
    posted = await adapter.publish(connected, _request("via OAuth"))
    assert posted.platform_post_id.startswith("urn:li:share:")
    renewed = await adapter.refresh(connected)
    assert renewed.credentials["access_token"] != grant.credentials["access_token"]
    assert renewed.credentials["refresh_token"] == grant.credentials["refresh_token"]
    with pytest.raises(AuthExpired):
        await adapter.refresh(AccountContext("a", "a", None, {"access_token": "x"}))
    with pytest.raises(AuthExpired):
        await adapter.refresh(
            AccountContext("a", "a", None, {"access_token": "x", "refresh_token": "gone"})
        )
