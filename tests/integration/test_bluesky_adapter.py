"""Bluesky through the whole stack (API → workflow → BlueskyAdapter → the emulator's PDS over
XRPC), connecting an account with an app password, and the adapter's reading, deleting and
session handling against the emulator directly.

Every test runs twice: against a PDS with an AppView (as bsky.social) and against one without
(a self-hosted PDS, whose app.bsky.* answers are all UpstreamFailure), and each checks from
the emulator's request log that nothing it did called app.bsky.* at all; only post metrics
need the AppView."""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from platforms.base import (
    AccountContext,
    AuthExpired,
    MediaItem,
    NotAvailable,
    PublishRequest,
    RateLimited,
    Rejected,
    request_from,
)
from platforms.bluesky import BlueskyAdapter
from platforms.bluesky_text import (
    find_tags,
    grapheme_count,
    legacy_record_key,
    record_key,
    tid_time,
)
from platforms.content import BytesContent
from tests.integration.test_media import MediaClient
from tests.support.media_files import jpeg, mp4, png
from tests.support.stack import Stack, Tenant

# The adapter against the emulator is the subject: the database does not change it.
pytestmark = pytest.mark.sqlite_only

POST = "app.bsky.feed.post"
APPVIEW_CALLS = "/xrpc/app.bsky."


@pytest.fixture(autouse=True, params=["with_appview", "without_appview"])
async def appview(request: pytest.FixtureRequest, emulator_url: str) -> AsyncIterator[bool]:
    """The emulator's AppView on or off for the test; afterwards, no app.bsky.* call may be in
    the request log unless the test is marked `appview_calls`."""
    available = request.param == "with_appview"
    async with httpx.AsyncClient(base_url=emulator_url) as emulator:
        await emulator.delete("/_emulator/requests")
        await emulator.patch("/_emulator/switches", json={"bluesky_appview": available})
        try:
            yield available
            if request.node.get_closest_marker("appview_calls") is None:
                logged = await emulator.get(
                    "/_emulator/requests", params={"platform": "bluesky", "path": APPVIEW_CALLS}
                )
                assert [r["path"] for r in logged.json()["data"]] == []
        finally:
            await emulator.patch("/_emulator/switches", json={"bluesky_appview": True})


def _body(tenant: Tenant, text: str, **extra: Any) -> dict[str, Any]:
    options = extra.pop("options", None)
    target: dict[str, Any] = {"account_id": str(tenant.accounts["bluesky"])}
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
    response = await stack.emulator.post("/_emulator/faults", json={"platform": "bluesky", **spec})
    assert response.status_code == 200, response.text


async def _record(emulator: httpx.AsyncClient, uri: str) -> dict[str, Any]:
    """The stored record, read back with com.atproto.repo.getRecord (no auth needed)."""
    did, collection, rkey = uri.removeprefix("at://").split("/")
    found = await emulator.get(
        "/bluesky/xrpc/com.atproto.repo.getRecord",
        params={"repo": did, "collection": collection, "rkey": rkey},
    )
    assert found.status_code == 200, found.text
    value: dict[str, Any] = found.json()["value"]
    return value


async def _did_of(emulator: httpx.AsyncClient, username: str) -> str:
    listed = await emulator.get("/_emulator/accounts", params={"platform": "bluesky"})
    return str(next(a["id"] for a in listed.json()["data"] if a["username"] == username))


async def _calls(stack: Stack, nsid: str) -> int:
    logged = await stack.emulator.get(
        "/_emulator/requests", params={"platform": "bluesky", "path": nsid}
    )
    return len(logged.json()["data"])


def _slice(text: str, facet: dict[str, Any]) -> str:
    index = facet["index"]
    return text.encode()[index["byteStart"] : index["byteEnd"]].decode()


async def test_text_post_with_facets_langs_and_permalink(stack: Stack) -> None:
    tenant = await stack.new_tenant(("bluesky",))
    friend = f"f{uuid.uuid4().hex[:10]}"
    await stack.emulator.post(
        "/_emulator/accounts", json={"platform": "bluesky", "username": friend}
    )
    text = (
        f"🦋 Grüße @{friend}.bsky.emulator, read https://example.com/a?b=1. #Herald "
        "@nobody.example.org"
    )
    post = await _publish(stack, tenant, text, options={"language": "de"})
    assert post["status"] == "published", post["targets"][0]["error"]
    [target] = post["targets"]
    assert target["attempts"] == 1
    username = tenant.usernames["bluesky"]
    [stored] = await stack.emulator_posts("bluesky", username)
    assert stored["text"] == text
    assert target["platform_post_id"] == stored["id"]
    rkey = stored["id"].rsplit("/", 1)[1]
    assert target["platform_post_url"] == (
        f"https://bsky.app/profile/{username}.bsky.emulator/post/{rkey}"
    )
    record = await _record(stack.emulator, stored["id"])
    assert record["langs"] == ["de"]
    features = {
        _slice(text, f): (f["features"][0]["$type"].split("#")[1], f["features"][0])
        for f in record["facets"]
    }
    assert set(features) == {f"@{friend}.bsky.emulator", "https://example.com/a?b=1", "#Herald"}
    assert features["https://example.com/a?b=1"][1]["uri"] == "https://example.com/a?b=1"
    assert features["#Herald"][1]["tag"] == "Herald"
    mention = features[f"@{friend}.bsky.emulator"][1]
    assert mention["did"] == await _did_of(stack.emulator, friend)
    # The unknown handle stays plain text: resolveHandle found nobody.


async def test_images_and_a_video_are_uploaded_as_blobs(stack: Stack) -> None:
    tenant = await stack.new_tenant(("bluesky",))
    client = MediaClient(stack.api, tenant, None)
    picture, photo, clip = png(90, 60), jpeg(40, 40), mp4(seconds=0.5)
    images = [
        await client.upload("pic.png", "image/png", picture),
        await client.upload("photo.jpg", "image/jpeg", photo),
    ]
    video = await client.upload("clip.mp4", "video/mp4", clip)
    album = await _publish(stack, tenant, "two pictures", media_ids=[m["id"] for m in images])
    assert album["status"] == "published", album["targets"][0]["error"]
    film = await _publish(stack, tenant, "a clip", media_ids=[video["id"]])
    assert film["status"] == "published", film["targets"][0]["error"]
    posts = {
        p["text"]: p for p in await stack.emulator_posts("bluesky", tenant.usernames["bluesky"])
    }
    assert [m["sha256"] for m in posts["two pictures"]["media"]] == [
        hashlib.sha256(picture).hexdigest(),
        hashlib.sha256(photo).hexdigest(),
    ]
    album_record = await _record(stack.emulator, posts["two pictures"]["id"])
    assert album_record["embed"]["$type"] == "app.bsky.embed.images"
    assert album_record["embed"]["images"][0]["aspectRatio"] == {"width": 90, "height": 60}
    film_record = await _record(stack.emulator, posts["a clip"]["id"])
    assert film_record["embed"]["$type"] == "app.bsky.embed.video"
    assert film_record["embed"]["video"]["mimeType"] == "video/mp4"


async def test_thread_parts_are_replies_with_root_and_parent(stack: Stack) -> None:
    tenant = await stack.new_tenant(("bluesky",))
    post = await _publish(
        stack, tenant, "1/3 a thread", options={"thread": ["2/3 goes on", {"text": "3/3 ends"}]}
    )
    assert post["status"] == "published", post["targets"][0]["error"]
    posts = await stack.emulator_posts("bluesky", tenant.usernames["bluesky"])
    assert [p["text"] for p in posts] == ["1/3 a thread", "2/3 goes on", "3/3 ends"]
    head, second, third = posts
    assert post["targets"][0]["platform_post_id"] == head["id"]
    assert second["in_reply_to_id"] == head["id"]
    assert third["in_reply_to_id"] == second["id"]
    record = await _record(stack.emulator, third["id"])
    assert record["reply"]["root"]["uri"] == head["id"]
    assert record["reply"]["parent"]["uri"] == second["id"]
    assert record["reply"]["root"]["cid"].startswith("bafy")


async def test_a_rate_limit_is_waited_out(stack: Stack) -> None:
    tenant = await stack.new_tenant(("bluesky",))
    await _fault(stack, status=429, retry_after=1, count=1, path="com.atproto.repo.createRecord")
    try:
        post = await _publish(stack, tenant, "patience")
    finally:
        await stack.emulator.delete("/_emulator/faults")
    assert post["status"] == "published", post["targets"][0]["error"]
    assert post["targets"][0]["attempts"] == 1  # a 429 is waited out, not an attempt
    assert len(await stack.emulator_posts("bluesky", tenant.usernames["bluesky"])) == 1


async def test_server_errors_are_retried_without_duplicates(stack: Stack) -> None:
    tenant = await stack.new_tenant(("bluesky",))
    await _fault(stack, status=503, count=2, path="com.atproto.repo.createRecord")
    try:
        post = await _publish(stack, tenant, "retry me")
    finally:
        await stack.emulator.delete("/_emulator/faults")
    assert post["status"] == "published", post["targets"][0]["error"]
    assert post["targets"][0]["attempts"] == 3
    assert len(await stack.emulator_posts("bluesky", tenant.usernames["bluesky"])) == 1


async def test_a_lost_answer_does_not_post_twice_and_the_thread_is_completed(
    stack: Stack,
) -> None:
    """The PDS stored the head but its answer was lost, and the first check of its record key
    met a 503 too: the check is repeated at once, finds the head at that key, and the same
    attempt only adds the reply."""
    tenant = await stack.new_tenant(("bluesky",))
    await _fault(stack, status=502, count=1, path="createRecord", phase="after")
    await _fault(stack, status=503, count=1, path="getRecord")
    try:
        post = await _publish(stack, tenant, "only once", options={"thread": ["and a reply"]})
    finally:
        await stack.emulator.delete("/_emulator/faults")
    assert post["status"] == "published", post["targets"][0]["error"]
    assert post["targets"][0]["attempts"] == 1
    posts = await stack.emulator_posts("bluesky", tenant.usernames["bluesky"])
    assert [p["text"] for p in posts] == ["only once", "and a reply"]
    assert posts[1]["in_reply_to_id"] == posts[0]["id"]
    assert post["targets"][0]["platform_post_id"] == posts[0]["id"]


async def test_a_later_attempt_finds_the_record_the_first_made(stack: Stack) -> None:
    """The first attempt's createRecord landed but its answer was lost, and every look at the
    record key failed too, so the attempt failed, as if its worker had died there: the next
    attempt finds the record at the key and posts nothing twice."""
    tenant = await stack.new_tenant(("bluesky",))
    await _fault(stack, status=502, count=1, path="createRecord", phase="after")
    await _fault(stack, status=503, count=3, path="getRecord")  # with its repeats at once
    try:
        post = await _publish(stack, tenant, "landed unseen", options={"thread": ["its part"]})
    finally:
        await stack.emulator.delete("/_emulator/faults")
    assert post["status"] == "published", post["targets"][0]["error"]
    [target] = post["targets"]
    assert target["attempts"] == 2
    posts = await stack.emulator_posts("bluesky", tenant.usernames["bluesky"])
    assert [p["text"] for p in posts] == ["landed unseen", "its part"]
    assert target["platform_post_id"] == posts[0]["id"]
    # Both attempts named the record by the time the first began, not by their own.
    made = tid_time(posts[0]["id"].rsplit("/", 1)[1])
    created = datetime.fromisoformat(post["created_at"])
    assert made is not None and created - timedelta(milliseconds=1) <= made
    assert made < datetime.fromisoformat(post["published_at"])


async def test_unpublish_deletes_the_post_and_its_thread(stack: Stack) -> None:
    tenant = await stack.new_tenant(("bluesky",))
    post = await _publish(stack, tenant, "here", options={"thread": ["and here"]})
    assert post["status"] == "published", post["targets"][0]["error"]
    unpublished = await stack.api.post(f"/v1/posts/{post['id']}/unpublish", headers=tenant.headers)
    assert unpublished.status_code == 202, unpublished.text
    client = await stack.resources.temporal.client()
    await client.get_workflow_handle(f"unpublish/{post['id']}").result()
    current = (await stack.api.get(f"/v1/posts/{post['id']}", headers=tenant.headers)).json()
    assert (current["status"], current["targets"][0]["status"]) == ("unpublished", "deleted")
    assert await stack.emulator_posts("bluesky", tenant.usernames["bluesky"]) == []


@dataclass
class AppUser:
    """Someone using the Bluesky app (not Herald) on an emulator account."""

    stack: Stack
    did: str
    auth: dict[str, str]

    @classmethod
    async def login(cls, stack: Stack, username: str, password: str) -> AppUser:
        session = await stack.emulator.post(
            "/bluesky/xrpc/com.atproto.server.createSession",
            json={"identifier": f"{username}.bsky.emulator", "password": password},
        )
        body = session.json()
        return cls(stack, body["did"], {"Authorization": f"Bearer {body['accessJwt']}"})

    async def post(self, text: str, **fields: Any) -> dict[str, str]:
        """A post made in the app: the PDS picks the record key. Its strong ref."""
        record = {
            "$type": POST,
            "text": text,
            "createdAt": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            **fields,
        }
        created = await self.stack.emulator.post(
            "/bluesky/xrpc/com.atproto.repo.createRecord",
            json={"repo": self.did, "collection": POST, "record": record},
            headers=self.auth,
        )
        assert created.status_code == 200, created.text
        return {"uri": created.json()["uri"], "cid": created.json()["cid"]}

    async def upload(self, data: bytes, mime_type: str) -> Any:
        uploaded = await self.stack.emulator.post(
            "/bluesky/xrpc/com.atproto.repo.uploadBlob",
            content=data,
            headers={**self.auth, "Content-Type": mime_type},
        )
        assert uploaded.status_code == 200, uploaded.text
        return uploaded.json()["blob"]


async def test_a_mirror_from_bluesky_to_mastodon(stack: Stack) -> None:
    """Backfill and new posts come from the account's repository; replies stay behind, and an
    image's original blob is named for the copy."""
    tenant = await stack.new_tenant(("mastodon",))
    source, username, password = await stack.add_account(tenant, "bluesky")
    app = await AppUser.login(stack, username, password)
    await app.post("old news")
    body = {
        "name": "bluesky to mastodon",
        "source_account_id": str(source),
        "target_account_ids": [str(tenant.accounts["mastodon"])],
        "existing_content_enabled": True,
        "existing_content_config": {"limit": 5},
    }
    created = await stack.api.post("/v1/mirrors", json=body, headers=tenant.headers)
    assert created.status_code == 201, created.text
    mirror_id = created.json()["id"]
    target = tenant.usernames["mastodon"]

    async def copied(wanted: list[str]) -> None:
        deadline = time.monotonic() + 20
        while sorted(p["text"] for p in await stack.emulator_posts("mastodon", target)) != wanted:
            assert time.monotonic() < deadline, await stack.emulator_posts("mastodon", target)
            await asyncio.sleep(0.2)

    await copied(["old news"])
    picture = png(12, 8)
    blob = await app.upload(picture, "image/png")
    pictured = await app.post(
        "a picture",
        embed={"$type": "app.bsky.embed.images", "images": [{"alt": "", "image": blob}]},
    )
    head = await app.post("fresh")
    await app.post("a reply", reply={"root": head, "parent": head})  # not mirrored
    await stack.resources.temporal.poll_mirror_now(uuid.UUID(mirror_id))
    await copied(["a picture", "fresh", "old news"])
    seen = await stack.api.get(f"/v1/mirrors/{mirror_id}/posts", headers=tenant.headers)
    items = {p["source_post_id"]: p for p in seen.json()["data"]}
    assert len(items) == 3  # the reply is not a post of its own
    [image_url] = items[pictured["uri"]]["platform_metadata"]["media_urls"]
    assert "/xrpc/com.atproto.sync.getBlob?" in image_url
    assert (await stack.emulator.get(image_url)).content == picture
    assert items[pictured["uri"]]["platform_metadata"]["kind"] == "image"
    assert items[head["uri"]]["platform_metadata"]["kind"] == "text"


async def test_an_expired_session_is_renewed_and_a_refused_one_fails_the_target(
    stack: Stack,
) -> None:
    tenant = await stack.new_tenant(("bluesky",))
    first = await _publish(stack, tenant, "before the access token expires")
    assert first["status"] == "published", first["targets"][0]["error"]
    # Past the access JWT's two hours: the cached session answers ExpiredToken.
    await stack.emulator.post("/_emulator/clock", json={"seconds": 7300})
    sessions_before = await _calls(stack, "createSession"), await _calls(stack, "refreshSession")
    try:
        second = await _publish(stack, tenant, "after a refresh")
    finally:
        await stack.emulator.delete("/_emulator/clock")  # the emulator is shared
    assert second["status"] == "published", second["targets"][0]["error"]
    assert second["targets"][0]["attempts"] == 1
    sessions_after = await _calls(stack, "createSession"), await _calls(stack, "refreshSession")
    # Renewed with the refresh JWT. (The emulator is shared: other accounts' background work,
    # such as analytics syncs and mirror polls, may open sessions of their own meanwhile, so
    # createSession is not counted here; the request log does not say whose a call was.)
    assert sessions_after[1] - sessions_before[1] >= 1

    await _fault(stack, status=401, path="/xrpc/")  # every call, createSession too
    try:
        refused = await _publish(stack, tenant, "never")
    finally:
        await stack.emulator.delete("/_emulator/faults")
    assert refused["status"] == "failed"
    error = refused["targets"][0]["error"]
    assert error["code"] == "auth_expired"
    assert "Authentication Required" in error["message"]
    texts = [p["text"] for p in await stack.emulator_posts("bluesky", tenant.usernames["bluesky"])]
    assert texts == ["before the access token expires", "after a refresh"]


async def test_rejected_content_fails_at_once_with_the_platform_message(stack: Stack) -> None:
    tenant = await stack.new_tenant(("bluesky",))
    message = "Invalid app.bsky.feed.post record: Record/text must not be longer than 300 graphemes"
    await _fault(stack, status=400, count=1, path="createRecord", message=message)
    try:
        post = await _publish(stack, tenant, "refused")
    finally:
        await stack.emulator.delete("/_emulator/faults")
    assert post["status"] == "failed"
    [target] = post["targets"]
    assert target["attempts"] == 1
    assert target["error"]["code"] == "rejected"
    assert target["error"]["retryable"] is False
    assert message in target["error"]["message"]
    assert await stack.emulator_posts("bluesky", tenant.usernames["bluesky"]) == []


async def test_validate_reports_bluesky_limits_with_paths(stack: Stack) -> None:
    tenant = await stack.new_tenant(("bluesky",))
    client = MediaClient(stack.api, tenant, None)
    image = await client.upload("pic.png", "image/png", png())
    clip = await client.upload("clip.mp4", "video/mp4", mp4(seconds=0.5))
    body = {
        "content": "👋🏽" * 301,  # 301 graphemes, 602 code points, 2408 bytes
        "media_ids": [image["id"], clip["id"]],
        "draft": True,
        "targets": [
            {
                "account_id": str(tenant.accounts["bluesky"]),
                "options": {"thread": ["fine", "y" * 301]},
            }
        ],
    }
    response = await stack.api.post("/v1/posts/validate", json=body, headers=tenant.headers)
    assert response.status_code == 200, response.text
    [target] = response.json()["targets"]
    problems = {(p["code"], p["path"]) for p in target["problems"]}
    assert problems == {
        ("text_too_long", "content"),
        ("text_too_long", "targets.0.options.thread.1"),  # the adapter's path, under its target
        ("video_with_other_media", "media_ids"),  # the post's own media list
    }
    fine = {
        "content": "e\u0301" * 300,  # 300 graphemes of 2 code points
        "media_ids": [image["id"]] * 4,
        "draft": True,
        "targets": [{"account_id": str(tenant.accounts["bluesky"])}],
    }
    ok = await stack.api.post("/v1/posts/validate", json=fine, headers=tenant.headers)
    assert ok.json()["valid"] is True, ok.json()


async def test_connect_with_an_app_password(stack: Stack) -> None:
    tenant = await stack.new_tenant(())
    username = f"c{uuid.uuid4().hex[:10]}"
    created = await stack.emulator.post(
        "/_emulator/accounts",
        json={"platform": "bluesky", "username": username, "display_name": "Connie 🦋"},
    )
    emulated = created.json()
    credentials = {
        "service_url": f"{stack.emulator.base_url}/bluesky/",
        "identifier": f"{username}.bsky.emulator",
        "app_password": emulated["token"],
    }
    body = {"brand_id": str(tenant.brand_id), "platform": "bluesky", "credentials": credentials}
    wrong = {**body, "credentials": {**credentials, "app_password": "abcd-efgh-ijkl-mnop"}}
    refused = await stack.api.post("/v1/accounts", json=wrong, headers=tenant.headers)
    assert refused.status_code == 400, refused.text
    assert "Invalid identifier or password" in refused.text
    assert "abcd-efgh-ijkl-mnop" not in refused.text

    internal = {**body, "credentials": {**credentials, "service_url": "http://10.1.2.3/pds"}}
    blocked = await stack.api.post("/v1/accounts", json=internal, headers=tenant.headers)
    assert blocked.status_code == 400, blocked.text
    assert "credentials.service_url" in blocked.text  # checked before any request is made

    connected = await stack.api.post("/v1/accounts", json=body, headers=tenant.headers)
    assert connected.status_code == 201, connected.text
    account = connected.json()
    assert account["username"] == f"{username}.bsky.emulator"
    assert account["display_name"] == "Connie 🦋"  # from the profile record on the PDS
    assert account["status"] == "active"
    assert emulated["token"] not in connected.text
    post = await stack.api.post(
        "/v1/posts",
        json={
            "content": "connected",
            "publish_now": True,
            "targets": [{"account_id": account["id"]}],
        },
        headers=tenant.headers,
    )
    assert (await stack.wait_for_post(tenant, post.json()["id"]))["status"] == "published"
    tested = await stack.api.post(f"/v1/accounts/{account['id']}/test", headers=tenant.headers)
    assert tested.status_code == 200, tested.text
    assert emulated["token"] not in tested.text


async def test_a_session_answer_of_an_unexpected_shape_is_a_503_not_a_500(
    stack: Stack,
) -> None:
    tenant = await stack.new_tenant(())
    username = f"u{uuid.uuid4().hex[:10]}"
    created = await stack.emulator.post(
        "/_emulator/accounts", json={"platform": "bluesky", "username": username}
    )
    credentials = {
        "service_url": f"{stack.emulator.base_url}/bluesky",
        "identifier": f"{username}.bsky.emulator",
        "app_password": created.json()["token"],
    }
    body = {"brand_id": str(tenant.brand_id), "platform": "bluesky", "credentials": credentials}
    await _fault(stack, status=200, count=1, path="createSession")  # 200 without a session
    try:
        answered = await stack.api.post("/v1/accounts", json=body, headers=tenant.headers)
    finally:
        await stack.emulator.delete("/_emulator/faults")
    assert answered.status_code == 503, answered.text
    assert "unexpected shape" in answered.json()["error"]["message"]


# -- the adapter on its own, against the suite's emulator ---------------------------------------


@pytest.fixture
async def adapter() -> AsyncIterator[BlueskyAdapter]:
    async with httpx.AsyncClient(timeout=10) as http:
        yield BlueskyAdapter(http)


async def _account(emulator_url: str, password: str | None = None) -> AccountContext:
    async with httpx.AsyncClient(base_url=emulator_url) as emulator:
        created = await emulator.post(
            "/_emulator/accounts",
            json={"platform": "bluesky", "username": f"a{uuid.uuid4().hex[:10]}"},
        )
    body = created.json()
    return AccountContext(
        account_id=str(uuid.uuid4()),
        username=body["username"],
        platform_account_id=str(body["id"]),
        credentials={
            "service_url": f"{emulator_url}/bluesky",
            "identifier": str(body["id"]),  # the DID works as well as the handle
            "app_password": password or body["token"],
        },
    )


def _request(
    text: str,
    media: list[MediaItem] | None = None,
    started_at: datetime | None = None,
    **options: Any,
) -> PublishRequest:
    """A publish begun now (or at `started_at`), as Herald makes one."""
    return request_from(
        text, uuid.uuid4().hex, media or [], options, started_at=started_at or datetime.now(UTC)
    )


async def _quote(emulator_url: str, account: AccountContext, text: str, uri: str) -> str:
    """A quote post made the way the Bluesky app makes one (Herald never quotes)."""
    base = f"{emulator_url}/bluesky/xrpc"
    async with httpx.AsyncClient() as http:
        session = (
            await http.post(
                f"{base}/com.atproto.server.createSession",
                json={
                    "identifier": account.credentials["identifier"],
                    "password": account.credentials["app_password"],
                },
            )
        ).json()
        did, collection, rkey = uri.removeprefix("at://").split("/")
        target = (
            await http.get(
                f"{base}/com.atproto.repo.getRecord",
                params={"repo": did, "collection": collection, "rkey": rkey},
            )
        ).json()
        record = {
            "$type": POST,
            "text": text,
            "createdAt": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "embed": {
                "$type": "app.bsky.embed.record",
                "record": {"uri": uri, "cid": target["cid"]},
            },
        }
        created = await http.post(
            f"{base}/com.atproto.repo.createRecord",
            json={"repo": session["did"], "collection": POST, "record": record},
            headers={"Authorization": f"Bearer {session['accessJwt']}"},
        )
    assert created.status_code == 200, created.text
    return str(created.json()["uri"])


async def test_adapter_lists_finds_and_deletes(adapter: BlueskyAdapter, emulator_url: str) -> None:
    account = await _account(emulator_url)
    started = datetime.now(UTC)
    assert await adapter.list_recent(account, None, 10) == []
    assert await adapter.find_existing(account, _request("first"), started) is None
    first = await adapter.publish(account, _request("first", thread=["first, continued"]))
    assert len(first.extra_post_ids) == 1
    picture = MediaItem(
        "m1", "image/png", "pic.png", BytesContent(png(30, 20)), description="a pink square"
    )
    second = await adapter.publish(account, _request("second #News #news", [picture]))
    clip = MediaItem("m2", "video/mp4", "clip.mp4", BytesContent(mp4(seconds=0.5)))
    third = await adapter.publish(account, _request("third", [clip]))
    quote = await _quote(emulator_url, account, "fourth quotes", first.platform_post_id)

    newest = await adapter.list_recent(account, None, 3)
    assert [p.id for p in newest] == [second.platform_post_id, third.platform_post_id, quote]
    assert [p.kind for p in newest] == ["image", "video", "quote"]
    assert newest[0].hashtags == ("news",)
    assert newest[0].url == second.url
    async with httpx.AsyncClient() as http:
        # The original blobs, from the PDS (getBlob), not an AppView's CDN.
        [image_url] = newest[0].media_urls
        assert "/xrpc/com.atproto.sync.getBlob?" in image_url
        assert (await http.get(image_url)).content == await picture.content.read()
        [video_url] = newest[1].media_urls
        assert (await http.get(video_url)).content == await clip.content.read()
    # What a mirror imports: the same blobs, with their declared types and alt text.
    assert [(m.mime_type, m.alt) for m in newest[0].media] == [("image/png", "a pink square")]
    assert [(m.url, m.mime_type, m.alt) for m in newest[1].media] == [
        (video_url, "video/mp4", None)
    ]
    all_posts = await adapter.list_recent(account, None, 10)
    assert [p.text for p in all_posts] == ["first", "second #News #news", "third", "fourth quotes"]
    after_first = await adapter.list_recent(account, first.platform_post_id, 2)
    assert [p.text for p in after_first] == ["second #News #news", "third"]
    assert await adapter.list_recent(account, quote, 10) == []

    # The record key is derived from the idempotency key and the publish's start: found
    # without reading anything else, with the thread part it made.
    again = request_from("first", "k", [], {"thread": ["more"]}, started_at=datetime.now(UTC))
    made = await adapter.publish(account, again)
    found = await adapter.find_existing(account, again, started)
    assert found == replace(made, published_at=None)
    assert len(found.extra_post_ids) == 1
    # Another publish of the same text is not ours: nothing at our key.
    assert await adapter.find_existing(account, _request("fourth quotes"), started) is None

    # The cursor post is deleted: the listing still starts after it.
    await adapter.delete(account, second.platform_post_id)
    await adapter.delete(account, second.platform_post_id)  # already gone: fine
    assert [p.id for p in await adapter.list_recent(account, first.platform_post_id, 10)] == [
        third.platform_post_id,
        quote,
        made.platform_post_id,
    ]
    for uri in (*first.extra_post_ids, first.platform_post_id):
        await adapter.delete(account, uri)
    async with httpx.AsyncClient(base_url=emulator_url) as emulator:
        listed = await emulator.get(
            "/_emulator/posts", params={"platform": "bluesky", "account": account.username}
        )
    alive = [p["text"] for p in listed.json()["data"] if not p["deleted"]]
    assert alive == ["third", "fourth quotes", "first", "more"]  # the "k" post reuses the text


async def test_a_post_that_landed_behind_the_cursor_is_listed_after_all(
    adapter: BlueskyAdapter, emulator_url: str
) -> None:
    """A publish that began before the newest post but landed after it has the older key:
    the listing after that newest post still returns it (first), then keeps the cursor."""
    account = await _account(emulator_url)
    began = datetime.now(UTC) - timedelta(seconds=1)
    newest = await adapter.publish(account, _request("made first, began second"))
    late = await adapter.publish(account, _request("began first, made second", started_at=began))
    assert late.platform_post_id.rsplit("/", 1)[1] < newest.platform_post_id.rsplit("/", 1)[1]
    listed = await adapter.list_recent(account, newest.platform_post_id, 40)
    assert [p.id for p in listed] == [late.platform_post_id, newest.platform_post_id]
    newer = await adapter.publish(account, _request("the next one"))
    listed = await adapter.list_recent(account, newest.platform_post_id, 40)
    assert [p.id for p in listed] == [
        late.platform_post_id,
        newest.platform_post_id,
        newer.platform_post_id,
    ]
    # Older than the hour before the cursor: not looked for again.
    old = await adapter.publish(
        account, _request("began long ago", started_at=began - timedelta(hours=2))
    )
    listed = await adapter.list_recent(account, newer.platform_post_id, 40)
    assert old.platform_post_id not in [p.id for p in listed]


async def _write_record(
    adapter: BlueskyAdapter,
    account: AccountContext,
    did: str,
    fields: dict[str, Any],
    created_at: str,
    rkey: str | None = None,
) -> None:
    """A post record another client writes (through the adapter's authenticated session)."""
    body: dict[str, Any] = {
        "repo": did,
        "collection": POST,
        "record": {"$type": POST, "createdAt": created_at, **fields},
    }
    if rkey is not None:
        body["rkey"] = rkey
    await adapter._xrpc.call(account, "POST", "com.atproto.repo.createRecord", json=body)


async def test_mirrored_text_carries_whole_links(
    adapter: BlueskyAdapter, emulator_url: str
) -> None:
    """The Bluesky app shortens a long link in the text and keeps the whole URI in the facet;
    a link card's URI may not be in the text at all. A copy elsewhere gets the whole links."""
    account = await _account(emulator_url)
    session = await adapter._xrpc.session(account)
    shown = "read example.com/a-long-pa... now"
    start = shown.encode().index(b"example")
    end = shown.encode().index(b" now")
    records = [
        {
            "text": shown,
            "facets": [
                {
                    "index": {"byteStart": start, "byteEnd": end},
                    "features": [
                        {
                            "$type": "app.bsky.richtext.facet#link",
                            "uri": "https://example.com/a-long-path?x=1",
                        }
                    ],
                }
            ],
        },
        {
            "text": "a card",
            "embed": {
                "$type": "app.bsky.embed.external",
                "external": {"uri": "https://example.org/story", "title": "T", "description": ""},
            },
        },
    ]
    for record in records:
        await _write_record(adapter, account, session.did, record, "2026-12-02T09:00:00Z")
    listed = await adapter.list_recent(account, None, 10)
    assert [p.text for p in listed] == [
        "read https://example.com/a-long-path?x=1 now",
        "a card\n\nhttps://example.org/story",
    ]


async def test_a_record_key_another_post_holds_is_passed_over(
    adapter: BlueskyAdapter, emulator_url: str
) -> None:
    """Two publishes to one account that began in the same millisecond may derive the same
    key: the second finds another text there, takes its next key, and is found there."""
    account = await _account(emulator_url)
    request = _request("mine")
    taken = record_key(request.idempotency_key, 0, request.started_at or datetime.now(UTC))
    session = await adapter._xrpc.session(account)
    await _write_record(
        adapter, account, session.did, {"text": "not mine"}, "2026-01-01T00:00:00Z", taken
    )
    published = await adapter.publish(account, request)
    assert not published.platform_post_id.endswith(f"/{taken}")
    async with httpx.AsyncClient(base_url=emulator_url) as emulator:
        assert (await _record(emulator, published.platform_post_id))["text"] == "mine"
    found = await adapter.find_existing(account, request, datetime.now(UTC))
    assert found is not None and found.platform_post_id == published.platform_post_id


async def test_a_publish_begun_before_keys_named_its_start_is_found(
    adapter: BlueskyAdapter, emulator_url: str
) -> None:
    account = await _account(emulator_url)
    began = datetime.now(UTC)
    old_style = request_from("from before", "key-1", [], {"thread": ["and its part"]})
    made = await adapter.publish(account, old_style)
    resumed = replace(old_style, started_at=began)
    found = await adapter.find_existing(account, resumed, began)
    assert found == replace(made, published_at=None)


@pytest.mark.appview_calls
async def test_post_metrics_come_from_the_appview_if_there_is_one(
    adapter: BlueskyAdapter, emulator_url: str, appview: bool
) -> None:
    account = await _account(emulator_url)
    made = await adapter.publish(account, _request("counted", thread=["a reply"]))
    if appview:
        metrics = await adapter.fetch_metrics(account, made.platform_post_id)
        assert (metrics["likes"], metrics["shares"], metrics["comments"]) == (0, 0, 1)
        assert metrics["impressions"] is None  # Bluesky reports no views
    else:
        with pytest.raises(NotAvailable) as missing:
            await adapter.fetch_metrics(account, made.platform_post_id)
        assert "not available on this server" in missing.value.message


async def test_adapter_verify_and_refused_passwords(
    adapter: BlueskyAdapter, emulator_url: str
) -> None:
    account = await _account(emulator_url)
    identity = await adapter.verify(account)
    assert identity.platform_account_id == account.platform_account_id
    assert identity.username == f"{account.username}.bsky.emulator"
    wrong = await _account(emulator_url, password="nope-nope-nope-nope")
    with pytest.raises(AuthExpired) as refused:
        await adapter.verify(wrong)
    assert refused.value.code == "AuthenticationRequired"
    with pytest.raises(Rejected):
        await adapter.delete(account, "https://bsky.app/not-an-at-uri")


async def test_adapter_rejects_with_the_xrpc_error_name(
    adapter: BlueskyAdapter, emulator_url: str
) -> None:
    account = await _account(emulator_url)
    with pytest.raises(Rejected) as refused:
        await adapter.publish(account, _request("z" * 301))
    assert refused.value.code == "InvalidRequest"
    assert "300 graphemes" in refused.value.message
    gif = MediaItem("g", "image/gif", "a.gif", BytesContent(b"GIF89a"))
    many = [gif] * 5
    problems = adapter.validate(_request("", many, thread=["ok", "🙂" * 301]))
    assert {(p.code, p.path) for p in problems} == {
        ("too_many_media", "media_ids"),
        ("text_too_long", "options.thread.1"),
    }
    webm = MediaItem("w", "video/webm", "a.webm", BytesContent(b"\x1a\x45\xdf\xa3"))
    clip = MediaItem("v", "video/mp4", "a.mp4", BytesContent(b""))
    assert {(p.code, p.path) for p in adapter.validate(_request("x", [webm, clip]))} == {
        ("unsupported_media", "media_ids.0"),
        ("too_many_media", "media_ids"),
    }
    assert adapter.validate(_request("")) != []


def test_graphemes_tags_and_record_keys() -> None:
    assert grapheme_count("héllo") == 5
    assert grapheme_count("e\u0301") == 1
    assert grapheme_count("👋🏽👨‍👩‍👧🇫🇷🇩🇪") == 4
    assert grapheme_count("\u1100\u1161\u11a8") == 1  # 각 from jamo
    assert grapheme_count("a\r\nb") == 3
    assert [s.value for s in find_tags("#one, #2024 #two! x#no #\ufe0f\u20e3 \uff03full")] == [
        "one",
        "two",
        "full",
    ]
    began = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
    key = record_key("post/1/target/2", 0, began)
    assert key == record_key("post/1/target/2", 0, began)
    part, elsewhere = (
        record_key("post/1/target/2", 1, began),
        record_key("post/1/target/2", 0, began, 1),
    )
    assert key < part and len({key, part, elsewhere}) == 3
    assert len(key) == 13 and key[0] in "234567abcdefghij"
    made = tid_time(key)
    assert made is not None and began - timedelta(milliseconds=1) <= made < began
    legacy = legacy_record_key("post/1/target/2", 0)
    assert (
        legacy == legacy_record_key("post/1/target/2", 0) != legacy_record_key("post/1/target/2", 1)
    )
    made = tid_time(legacy)
    assert made is not None and datetime(2023, 1, 1, tzinfo=UTC) <= made < datetime(
        2023, 2, 1, tzinfo=UTC
    )


async def test_adapter_a_timed_out_create_finds_its_record(emulator_url: str) -> None:
    """The PDS made the record but the answer came too late: the record at the derived key
    is read back in the same call, so nothing is posted twice and nothing fails."""
    account = await _account(emulator_url)
    async with httpx.AsyncClient(base_url=emulator_url) as emulator:
        fault = {
            "platform": "bluesky",
            "delay_s": 1.0,
            "count": 1,
            "path": "createRecord",
            "phase": "after",
        }
        assert (await emulator.post("/_emulator/faults", json=fault)).status_code == 200
        try:
            async with httpx.AsyncClient(timeout=0.5) as http:
                published = await BlueskyAdapter(http).publish(account, _request("slow answer"))
        finally:
            await emulator.delete("/_emulator/faults")
        listed = await emulator.get(
            "/_emulator/posts", params={"platform": "bluesky", "account": account.username}
        )
    assert [p["id"] for p in listed.json()["data"]] == [published.platform_post_id]


async def test_adapter_rate_limits_wait_for_ratelimit_reset(
    adapter: BlueskyAdapter, emulator_url: str
) -> None:
    """createSession allows 30 sessions per 5 minutes; the 429 names only RateLimit-Reset."""
    account = await _account(emulator_url)
    with pytest.raises(RateLimited) as limited:
        # 31 meet the limit; up to 30 more in case a window (epoch-aligned) ended on the way.
        for _ in range(61):
            await adapter.verify(account)  # always a fresh createSession
    assert limited.value.code == "RateLimitExceeded"
    async with httpx.AsyncClient(base_url=emulator_url) as emulator:
        emulator_now = (await emulator.post("/_emulator/clock", json={"seconds": 0})).json()["now"]
    skew = (datetime.fromisoformat(emulator_now) - datetime.now(UTC)).total_seconds()
    assert limited.value.retry_after_s is not None
    assert 0 < limited.value.retry_after_s <= 300 + skew + 2
