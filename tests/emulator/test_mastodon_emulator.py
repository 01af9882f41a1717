"""The emulator's Mastodon API and control API, driven in-process over ASGI."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from emulator.app import build_platforms
from emulator.forms import Params, _parse_multipart
from emulator.mastodon_text import grapheme_length, render, status_length
from emulator.platform import KNOWN_PLATFORMS
from tests.emulator.clients import make_client

STATUSES = "/mastodon/api/v1/statuses"
PNG_1x1 = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000100e221bc330000000049454e44ae426082"
)
# Looks like MP4 to a sniffer, and contains CRLFs and dashes to trip up a naive parser.
MP4 = b"\x00\x00\x00\x18ftypmp42" + b"\r\n--\r\n\r\n" + bytes(range(256)) * 4


@dataclass
class User:
    id: str
    username: str
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(processing_s=0.3) as c:
        yield c


async def new_user(client: httpx.AsyncClient, username: str) -> User:
    response = await client.post(
        "/_emulator/accounts", json={"platform": "mastodon", "username": username}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    return User(body["id"], body["username"], body["token"])


@pytest.fixture
async def alice(client: httpx.AsyncClient) -> User:
    return await new_user(client, "alice")


async def post_status(
    client: httpx.AsyncClient, user: User, key: str | None = None, **body: Any
) -> httpx.Response:
    headers = dict(user.auth)
    if key is not None:
        headers["Idempotency-Key"] = key
    return await client.post(STATUSES, json=body, headers=headers)


async def emulator_posts(client: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    response = await client.get("/_emulator/posts", params=params)
    assert response.status_code == 200
    posts: list[dict[str, Any]] = response.json()["data"]
    return posts


async def upload(
    client: httpx.AsyncClient, user: User, data: bytes, mime: str, name: str, **form: str
) -> httpx.Response:
    return await client.post(
        "/mastodon/api/v2/media", headers=user.auth, files={"file": (name, data, mime)}, data=form
    )


async def add_fault(client: httpx.AsyncClient, **spec: Any) -> str:
    response = await client.post("/_emulator/faults", json={"platform": "mastodon", **spec})
    assert response.status_code == 200, response.text
    fault_id: str = response.json()["id"]
    return fault_id


# -- service basics -----------------------------------------------------------------------------


async def test_root_describes_the_emulator(client: httpx.AsyncClient) -> None:
    body = (await client.get("/")).json()
    implemented = set(build_platforms())
    assert {"mastodon", "bluesky", "x"} <= implemented
    assert body["platforms"] == {name: f"http://emulator/{name}" for name in implemented}
    assert set(body["planned_platforms"]) == set(KNOWN_PLATFORMS) - implemented
    assert body["control"] == "http://emulator/_emulator"


async def test_sandbox_accounts_exist_for_every_platform(client: httpx.AsyncClient) -> None:
    accounts = (await client.get("/_emulator/accounts")).json()["data"]
    sandbox = {a["platform"]: a for a in accounts if a["sandbox"]}
    assert set(sandbox) == {
        "mastodon",
        "bluesky",
        "x",
        "linkedin",
        "facebook",
        "instagram",
        "threads",
        "tiktok",
    }
    assert sandbox["linkedin"]["username"] == "herald_sandbox"
    assert sandbox["linkedin"]["display_name"] == "Herald Sandbox (LinkedIn)"
    assert sandbox["tiktok"]["token"] == "emulator-tiktok-sandbox-token"

    me = await client.get(
        "/mastodon/api/v1/accounts/verify_credentials",
        headers={"Authorization": "Bearer emulator-mastodon-sandbox-token"},
    )
    assert me.status_code == 200
    assert me.json()["display_name"] == "Herald Sandbox (Mastodon)"


async def test_accounts_are_created_listed_and_unique(client: httpx.AsyncClient) -> None:
    chosen = await client.post(
        "/_emulator/accounts", json={"platform": "mastodon", "username": "bob", "token": "tok-bob"}
    )
    assert chosen.json()["token"] == "tok-bob"
    assert chosen.json().keys() == {"platform", "id", "username", "token"}
    again = await client.post(
        "/_emulator/accounts", json={"platform": "mastodon", "username": "bob"}
    )
    assert again.status_code == 409
    unknown = await client.post(
        "/_emulator/accounts", json={"platform": "myspace", "username": "b"}
    )
    assert unknown.status_code == 422
    listed = (await client.get("/_emulator/accounts", params={"platform": "mastodon"})).json()
    assert {a["username"] for a in listed["data"]} == {"herald_sandbox", "bob"}


async def test_verify_credentials_and_rate_limit_headers(
    client: httpx.AsyncClient, alice: User
) -> None:
    first = await client.get("/mastodon/api/v1/accounts/verify_credentials", headers=alice.auth)
    second = await client.get("/mastodon/api/v1/accounts/verify_credentials", headers=alice.auth)
    assert first.status_code == 200
    account = first.json()
    for field in (
        "id",
        "username",
        "acct",
        "display_name",
        "url",
        "avatar",
        "created_at",
        "note",
        "followers_count",
        "following_count",
        "statuses_count",
        "source",
    ):
        assert field in account
    assert account["id"] == alice.id
    assert account["url"] == "http://emulator/mastodon/@alice"
    assert first.headers["X-RateLimit-Limit"] == "300"
    assert int(second.headers["X-RateLimit-Remaining"]) == (
        int(first.headers["X-RateLimit-Remaining"]) - 1
    )
    reset = datetime.fromisoformat(first.headers["X-RateLimit-Reset"])
    assert reset.tzinfo is not None


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Bearer emulator-x-sandbox-token"}],
)
async def test_bad_or_missing_token_is_401(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response = await client.post(STATUSES, json={"status": "hi"}, headers=headers)
    assert response.status_code == 401
    assert response.json() == {"error": "The access token is invalid"}
    assert await emulator_posts(client) == []


async def test_unknown_route_answers_like_mastodon(client: httpx.AsyncClient) -> None:
    response = await client.get("/mastodon/api/v1/no_such_thing")
    assert response.status_code == 404
    assert response.json() == {"error": "Record not found"}


# -- posting --------------------------------------------------------------------------------------


async def test_post_status_returns_a_status_entity(client: httpx.AsyncClient, alice: User) -> None:
    response = await post_status(
        client, alice, status='Hi <you> & "them"\n\nhttps://example.com/x', language="de"
    )
    assert response.status_code == 200
    status = response.json()
    assert status["id"].isdigit()
    assert status["content"].startswith("<p>Hi &lt;you&gt; &amp; &quot;them&quot;</p><p><a href=")
    assert status["url"] == f"http://emulator/mastodon/@alice/{status['id']}"
    assert status["uri"] == f"http://emulator/mastodon/users/alice/statuses/{status['id']}"
    assert status["visibility"] == "public"
    assert status["language"] == "de"
    assert status["account"]["id"] == alice.id
    assert status["media_attachments"] == []
    assert status["in_reply_to_id"] is None
    assert (status["reblogs_count"], status["favourites_count"], status["replies_count"]) == (
        0,
        0,
        0,
    )
    assert status["created_at"].endswith("Z")

    fetched = await client.get(f"{STATUSES}/{status['id']}")
    assert fetched.status_code == 200
    assert fetched.json()["content"] == status["content"]


async def test_form_encoded_post_with_media_ids_array(
    client: httpx.AsyncClient, alice: User
) -> None:
    media = (await upload(client, alice, PNG_1x1, "image/png", "a.png")).json()
    response = await client.post(
        STATUSES,
        headers=alice.auth,
        data={"status": "form post", "media_ids[]": [media["id"]], "visibility": "unlisted"},
    )
    assert response.status_code == 200, response.text
    status = response.json()
    assert status["visibility"] == "unlisted"
    assert [m["id"] for m in status["media_attachments"]] == [media["id"]]


async def test_ids_grow_with_time(client: httpx.AsyncClient, alice: User) -> None:
    ids = [(await post_status(client, alice, status=f"n{i}")).json()["id"] for i in range(5)]
    assert [int(i) for i in ids] == sorted(int(i) for i in ids)
    assert len(set(ids)) == 5


async def test_reply_to_unknown_status_is_404(client: httpx.AsyncClient, alice: User) -> None:
    response = await post_status(client, alice, status="reply", in_reply_to_id="123")
    assert response.status_code == 404
    assert response.json() == {"error": "Record not found"}


async def test_reply_links_to_its_parent(client: httpx.AsyncClient, alice: User) -> None:
    parent = (await post_status(client, alice, status="parent")).json()
    reply = (await post_status(client, alice, status="child", in_reply_to_id=parent["id"])).json()
    assert reply["in_reply_to_id"] == parent["id"]
    assert reply["in_reply_to_account_id"] == alice.id
    posts = await emulator_posts(client)
    assert posts[1]["in_reply_to_id"] == parent["id"]


async def test_counts_follow_live_statuses_and_replies(
    client: httpx.AsyncClient, alice: User
) -> None:
    bob = await new_user(client, "bob")
    parent = (await post_status(client, alice, status="parent")).json()
    own_reply = (await post_status(client, alice, status="a", in_reply_to_id=parent["id"])).json()
    await post_status(client, bob, status="b", in_reply_to_id=parent["id"])
    await post_status(client, bob, status="unrelated")

    async def counts() -> tuple[int, int]:
        status = (await client.get(f"{STATUSES}/{parent['id']}")).json()
        return status["replies_count"], status["account"]["statuses_count"]

    assert await counts() == (2, 2)
    deleted = await client.delete(f"{STATUSES}/{own_reply['id']}", headers=alice.auth)
    assert deleted.status_code == 200
    assert await counts() == (1, 1)


# -- idempotency ----------------------------------------------------------------------------------


async def test_idempotency_key_replays_the_same_status(
    client: httpx.AsyncClient, alice: User
) -> None:
    first = await post_status(client, alice, key="abc", status="once")
    replay = await post_status(client, alice, key="abc", status="once")
    assert first.status_code == replay.status_code == 200
    assert replay.json()["id"] == first.json()["id"]
    posts = await emulator_posts(client, account="alice")
    assert len(posts) == 1
    assert posts[0]["idempotency_key"] == "abc"


async def test_idempotency_is_per_account_and_per_key(
    client: httpx.AsyncClient, alice: User
) -> None:
    bob = await new_user(client, "bob")
    a = (await post_status(client, alice, key="same", status="x")).json()
    b = (await post_status(client, bob, key="same", status="x")).json()
    c = (await post_status(client, alice, key="other", status="x")).json()
    assert len({a["id"], b["id"], c["id"]}) == 3


async def test_idempotency_key_expires_after_an_hour(
    client: httpx.AsyncClient, alice: User
) -> None:
    first = (await post_status(client, alice, key="k", status="x")).json()
    await client.post("/_emulator/clock", json={"seconds": 3599})
    assert (await post_status(client, alice, key="k", status="x")).json()["id"] == first["id"]
    await client.post("/_emulator/clock", json={"seconds": 2})
    assert (await post_status(client, alice, key="k", status="x")).json()["id"] != first["id"]


async def test_concurrent_requests_with_one_key_create_one_status(
    client: httpx.AsyncClient, alice: User
) -> None:
    responses = await asyncio.gather(
        *(post_status(client, alice, key="race", status="x") for _ in range(5))
    )
    assert len({r.json()["id"] for r in responses}) == 1
    assert len(await emulator_posts(client)) == 1


# -- validation -----------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "   \n "])
async def test_blank_status_without_media_is_422(
    client: httpx.AsyncClient, alice: User, text: str
) -> None:
    response = await post_status(client, alice, status=text)
    assert response.status_code == 422
    assert response.json() == {"error": "Validation failed: Text can't be blank"}


async def test_length_limit_counts_like_mastodon(client: httpx.AsyncClient, alice: User) -> None:
    exactly = "a" * 500
    assert (await post_status(client, alice, status=exactly)).status_code == 200
    too_long = await post_status(client, alice, status="a" * 501)
    assert too_long.status_code == 422
    assert too_long.json() == {"error": "Validation failed: Text character limit of 500 exceeded"}
    # A URL always counts 23, however long it is.
    url = "https://example.com/" + "p" * 200
    assert (await post_status(client, alice, status="b" * 476 + " " + url)).status_code == 200
    assert (await post_status(client, alice, status="b" * 477 + " " + url)).status_code == 422
    # A remote mention counts without its domain.
    mention = "@someone@very.long.remote.domain.example"
    assert (await post_status(client, alice, status=mention + " " + "c" * 490)).status_code == 200
    # The content warning counts too.
    cw = await post_status(client, alice, status="d" * 495, spoiler_text="spoiler")
    assert cw.status_code == 422


def test_character_counting_helpers() -> None:
    assert status_length("https://example.com/a/b/c/d/e/f/g/h/i/j/k/l/m/n") == 23
    assert status_length("see https://example.com.") == len("see ") + 23 + 1
    assert status_length("@bob@example.social hi") == len("@bob hi")
    assert grapheme_length("👍🏽") == 1
    assert grapheme_length("🇩🇪🇫🇷") == 2
    assert grapheme_length("e\u0301") == 1
    assert grapheme_length("👩\u200d👩\u200d👧") == 1


def test_rendering_round_trips_to_the_original_text() -> None:
    rendered = render("a\nb\n\nc https://x.org/y #Tag", lambda u, d: None, lambda t: f"/tags/{t}")
    assert rendered.html.startswith('<p>a<br />b</p><p>c <a href="https://x.org/y"')
    assert rendered.tags == ["Tag"]
    assert render("   ", lambda u, d: None, lambda t: t).html == ""


async def test_too_many_media_is_422(client: httpx.AsyncClient, alice: User) -> None:
    ids = [
        (await upload(client, alice, PNG_1x1, "image/png", "p.png")).json()["id"] for _ in range(5)
    ]
    response = await post_status(client, alice, status="x", media_ids=ids)
    assert response.status_code == 422
    assert response.json() == {"error": "Cannot attach more than 4 files"}
    assert (await post_status(client, alice, status="x", media_ids=ids[:4])).status_code == 200


async def test_unknown_or_foreign_media_is_422(client: httpx.AsyncClient, alice: User) -> None:
    bob = await new_user(client, "bob")
    bobs = (await upload(client, bob, PNG_1x1, "image/png", "p.png")).json()["id"]
    for media_ids in (["999"], [bobs]):
        response = await post_status(client, alice, status="x", media_ids=media_ids)
        assert response.status_code == 422
        assert response.json() == {
            "error": f"Media {media_ids[0]} not found or already attached to another post"
        }


async def test_media_cannot_be_attached_twice(client: httpx.AsyncClient, alice: User) -> None:
    media_id = (await upload(client, alice, PNG_1x1, "image/png", "p.png")).json()["id"]
    assert (await post_status(client, alice, status="1", media_ids=[media_id])).status_code == 200
    again = await post_status(client, alice, status="2", media_ids=[media_id])
    assert again.status_code == 422


async def test_processing_media_cannot_be_attached_yet(
    client: httpx.AsyncClient, alice: User
) -> None:
    video = (await upload(client, alice, MP4, "video/mp4", "v.mp4")).json()
    response = await post_status(client, alice, status="too soon", media_ids=[video["id"]])
    assert response.status_code == 422
    assert response.json() == {
        "error": "Cannot attach files that have not finished processing. Try again in a moment!"
    }
    assert await emulator_posts(client) == []


async def test_bad_json_is_400(client: httpx.AsyncClient, alice: User) -> None:
    response = await client.post(
        STATUSES,
        content=b"{not json",
        headers={**alice.auth, "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert "error" in response.json()


# -- reading and deleting ------------------------------------------------------------------------


async def test_delete_own_status(client: httpx.AsyncClient, alice: User) -> None:
    status = (await post_status(client, alice, status="bye <now>")).json()
    deleted = await client.delete(f"{STATUSES}/{status['id']}", headers=alice.auth)
    assert deleted.status_code == 200
    assert deleted.json()["id"] == status["id"]
    assert deleted.json()["text"] == "bye <now>"

    gone = await client.get(f"{STATUSES}/{status['id']}", headers=alice.auth)
    assert gone.status_code == 404
    assert gone.json() == {"error": "Record not found"}
    again = await client.delete(f"{STATUSES}/{status['id']}", headers=alice.auth)
    assert again.status_code == 404

    posts = await emulator_posts(client)
    assert [p["deleted"] for p in posts] == [True]
    assert await emulator_posts(client, include_deleted="false") == []


async def test_cannot_delete_someone_elses_status(client: httpx.AsyncClient, alice: User) -> None:
    bob = await new_user(client, "bob")
    status = (await post_status(client, alice, status="mine")).json()
    response = await client.delete(f"{STATUSES}/{status['id']}", headers=bob.auth)
    assert response.status_code == 404
    assert response.json() == {"error": "Record not found"}
    assert (await emulator_posts(client))[0]["deleted"] is False


async def test_idempotent_replay_of_a_deleted_status_is_404(
    client: httpx.AsyncClient, alice: User
) -> None:
    status = (await post_status(client, alice, key="k", status="x")).json()
    await client.delete(f"{STATUSES}/{status['id']}", headers=alice.auth)
    assert (await post_status(client, alice, key="k", status="x")).status_code == 404


async def test_account_statuses_paginate_with_link_headers(
    client: httpx.AsyncClient, alice: User
) -> None:
    ids = [(await post_status(client, alice, status=f"s{i}")).json()["id"] for i in range(5)]
    newest_first = ids[::-1]
    url = f"/mastodon/api/v1/accounts/{alice.id}/statuses"

    page1 = await client.get(url, params={"limit": 2}, headers=alice.auth)
    assert [s["id"] for s in page1.json()] == newest_first[:2]
    assert page1.links["next"]["url"].endswith(f"limit=2&max_id={newest_first[1]}")
    assert page1.links["prev"]["url"].endswith(f"limit=2&min_id={newest_first[0]}")

    page2 = await client.get(page1.links["next"]["url"], headers=alice.auth)
    assert [s["id"] for s in page2.json()] == newest_first[2:4]
    page3 = await client.get(page2.links["next"]["url"], headers=alice.auth)
    assert [s["id"] for s in page3.json()] == newest_first[4:]
    assert "next" not in page3.links  # a short page is the last one

    since = await client.get(url, params={"since_id": ids[1], "limit": 2})
    assert [s["id"] for s in since.json()] == [ids[4], ids[3]]
    after = await client.get(url, params={"min_id": ids[1], "limit": 2})
    assert [s["id"] for s in after.json()] == [ids[3], ids[2]]

    default = await client.get(url)
    assert len(default.json()) == 5
    capped = await client.get(url, params={"limit": 1000})
    assert capped.status_code == 200


async def test_account_statuses_limit_is_capped_at_40(
    client: httpx.AsyncClient, alice: User
) -> None:
    for i in range(45):
        await post_status(client, alice, status=f"n{i}")
    url = f"/mastodon/api/v1/accounts/{alice.id}/statuses"
    assert len((await client.get(url)).json()) == 20
    assert len((await client.get(url, params={"limit": 100})).json()) == 40


async def test_exclude_replies_keeps_self_threads(client: httpx.AsyncClient, alice: User) -> None:
    bob = await new_user(client, "bob")
    bobs = (await post_status(client, bob, status="bob's")).json()
    root = (await post_status(client, alice, status="root")).json()
    own_reply = (await post_status(client, alice, status="more", in_reply_to_id=root["id"])).json()
    await post_status(client, alice, status="@bob hi", in_reply_to_id=bobs["id"])
    listed = await client.get(
        f"/mastodon/api/v1/accounts/{alice.id}/statuses", params={"exclude_replies": "true"}
    )
    assert [s["id"] for s in listed.json()] == [own_reply["id"], root["id"]]


async def test_unknown_account_statuses_is_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/mastodon/api/v1/accounts/42/statuses")
    assert response.status_code == 404


async def test_private_statuses_are_hidden_from_others(
    client: httpx.AsyncClient, alice: User
) -> None:
    status = (await post_status(client, alice, status="secret", visibility="private")).json()
    assert (await client.get(f"{STATUSES}/{status['id']}")).status_code == 404
    assert (await client.get(f"{STATUSES}/{status['id']}", headers=alice.auth)).status_code == 200


# -- media ---------------------------------------------------------------------------------------


async def test_image_upload_is_synchronous_and_byte_identical(
    client: httpx.AsyncClient, alice: User
) -> None:
    response = await upload(client, alice, PNG_1x1, "image/png", "pixel.png", description="a dot")
    assert response.status_code == 200
    media = response.json()
    assert media["type"] == "image"
    assert media["description"] == "a dot"
    assert media["meta"]["original"]["width"] == 1
    served = await client.get(media["url"])
    assert served.status_code == 200
    assert served.content == PNG_1x1
    assert served.headers["content-type"] == "image/png"

    status = (await post_status(client, alice, status="pic", media_ids=[media["id"]])).json()
    assert status["media_attachments"][0]["url"] == media["url"]
    [post] = await emulator_posts(client)
    assert post["media"] == [
        {
            "id": media["id"],
            "type": "image",
            "mime_type": "image/png",
            "url": media["url"],
            "description": "a dot",
            "sha256": hashlib.sha256(PNG_1x1).hexdigest(),
            "size": len(PNG_1x1),
        }
    ]


async def test_video_upload_is_processed_asynchronously(
    client: httpx.AsyncClient, alice: User
) -> None:
    accepted = await upload(client, alice, MP4, "video/mp4", "clip.mp4")
    assert accepted.status_code == 202
    media = accepted.json()
    assert media["type"] == "video"
    assert media["url"] is None

    polled = await client.get(f"/mastodon/api/v1/media/{media['id']}", headers=alice.auth)
    assert polled.status_code == 206
    assert polled.json()["url"] is None

    deadline = time.monotonic() + 5
    while polled.status_code == 206 and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        polled = await client.get(f"/mastodon/api/v1/media/{media['id']}", headers=alice.auth)
    assert polled.status_code == 200
    url = polled.json()["url"]
    assert (await client.get(url)).content == MP4

    status = await post_status(client, alice, status="", media_ids=[media["id"]])
    assert status.status_code == 200
    assert status.json()["content"] == ""
    [post] = await emulator_posts(client)
    assert post["media"][0]["sha256"] == hashlib.sha256(MP4).hexdigest()
    assert post["media"][0]["size"] == len(MP4)
    # Once attached, the attachment is no longer reachable through the media API.
    attached = await client.get(f"/mastodon/api/v1/media/{media['id']}", headers=alice.auth)
    assert attached.status_code == 404


async def test_gif_becomes_gifv_and_clock_can_finish_processing(
    client: httpx.AsyncClient, alice: User
) -> None:
    gif = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;"
    media = (await upload(client, alice, gif, "image/gif", "a.gif")).json()
    assert media["type"] == "gifv"
    await client.post("/_emulator/clock", json={"seconds": 5})
    polled = await client.get(f"/mastodon/api/v1/media/{media['id']}", headers=alice.auth)
    assert polled.status_code == 200


async def test_unsupported_or_missing_file_is_422(client: httpx.AsyncClient, alice: User) -> None:
    bad = await upload(client, alice, b"just text", "text/plain", "a.txt")
    assert bad.status_code == 422
    assert bad.json() == {
        "error": "Validation failed: File content type is invalid, File is invalid"
    }
    missing = await client.post("/mastodon/api/v2/media", headers=alice.auth, data={"x": "y"})
    assert missing.status_code == 422


async def test_someone_elses_media_is_404(client: httpx.AsyncClient, alice: User) -> None:
    bob = await new_user(client, "bob")
    media = (await upload(client, alice, PNG_1x1, "image/png", "p.png")).json()
    response = await client.get(f"/mastodon/api/v1/media/{media['id']}", headers=bob.auth)
    assert response.status_code == 404


def test_multipart_parser_keeps_bytes_exact() -> None:
    boundary = "b0undary"
    body = (
        b'--b0undary\r\nContent-Disposition: form-data; name="description"\r\n\r\nhi\r\n'
        b'--b0undary\r\nContent-Disposition: form-data; name="file"; filename="v.mp4"\r\n'
        b"Content-Type: video/mp4\r\n\r\n" + MP4 + b"\r\n--b0undary--\r\n"
    )
    params = Params()
    _parse_multipart(body, boundary, params)
    assert params.get("description") == "hi"
    assert params.files["file"].data == MP4
    assert params.files["file"].content_type == "video/mp4"


async def test_instance_configuration(client: httpx.AsyncClient) -> None:
    instance = (await client.get("/mastodon/api/v2/instance")).json()
    config = instance["configuration"]
    assert config["statuses"] == {
        "max_characters": 500,
        "max_media_attachments": 4,
        "characters_reserved_per_url": 23,
    }
    media = config["media_attachments"]
    assert media["image_size_limit"] == 16777216
    assert media["video_size_limit"] == 103809024
    assert "image/png" in media["supported_mime_types"]
    assert "video/mp4" in media["supported_mime_types"]
    assert "urls" in config
    assert instance["domain"] == "emulator"


# -- rate limiting ------------------------------------------------------------------------------


async def test_rate_limit_exhaustion_answers_429() -> None:
    async with make_client(rate_limit=3) as client:
        user = await new_user(client, "carol")
        remaining = []
        for _ in range(3):
            response = await client.get(
                "/mastodon/api/v1/accounts/verify_credentials", headers=user.auth
            )
            remaining.append(int(response.headers["X-RateLimit-Remaining"]))
        assert remaining == [2, 1, 0]
        throttled = await client.get(
            "/mastodon/api/v1/accounts/verify_credentials", headers=user.auth
        )
        assert throttled.status_code == 429
        assert throttled.json() == {"error": "Too many requests"}
        assert throttled.headers["X-RateLimit-Remaining"] == "0"
        assert throttled.headers["X-RateLimit-Limit"] == "3"
        # Another token has its own budget; a new window resets the count.
        other = await new_user(client, "dave")
        ok = await client.get("/mastodon/api/v1/accounts/verify_credentials", headers=other.auth)
        assert ok.status_code == 200
        await client.post("/_emulator/clock", json={"seconds": 300})
        again = await client.get("/mastodon/api/v1/accounts/verify_credentials", headers=user.auth)
        assert again.status_code == 200


async def test_delete_rate_limit_is_30_per_30_minutes() -> None:
    async with make_client(delete_rate_limit=2) as client:
        user = await new_user(client, "erin")
        ids = [(await post_status(client, user, status=f"{i}")).json()["id"] for i in range(3)]
        codes = [
            (await client.delete(f"{STATUSES}/{i}", headers=user.auth)).status_code for i in ids
        ]
        assert codes == [200, 200, 429]


# -- faults --------------------------------------------------------------------------------------


async def test_status_fault_answers_the_platform_error_without_posting(
    client: httpx.AsyncClient, alice: User
) -> None:
    await add_fault(client, status=503, path="/api/v1/statuses", method="POST")
    response = await post_status(client, alice, status="x")
    assert response.status_code == 503
    assert set(response.json()) == {"error"}
    assert await emulator_posts(client) == []
    # Other paths and methods are untouched.
    assert (await client.get(f"/mastodon/api/v1/accounts/{alice.id}/statuses")).status_code == 200


async def test_429_fault_carries_retry_after(client: httpx.AsyncClient, alice: User) -> None:
    await add_fault(client, status=429, retry_after=7, count=1)
    response = await post_status(client, alice, status="x")
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"
    assert response.headers["X-RateLimit-Remaining"] == "0"
    assert response.json() == {"error": "Too many requests"}
    assert (await post_status(client, alice, status="x")).status_code == 200


async def test_delay_fault_slows_the_answer(client: httpx.AsyncClient, alice: User) -> None:
    await add_fault(client, delay_s=0.3, count=1, path="/verify_credentials")
    started = time.monotonic()
    response = await client.get("/mastodon/api/v1/accounts/verify_credentials", headers=alice.auth)
    assert time.monotonic() - started >= 0.3
    assert response.status_code == 200


async def test_after_phase_fault_creates_the_post_but_answers_an_error(
    client: httpx.AsyncClient, alice: User
) -> None:
    await add_fault(client, status=502, phase="after", method="POST", path="/statuses", count=1)
    response = await post_status(client, alice, key="lost", status="did it happen?")
    assert response.status_code == 502
    posts = await emulator_posts(client)
    assert [p["text"] for p in posts] == ["did it happen?"]
    # The client retries with the same key and learns the truth, without a duplicate.
    retry = await post_status(client, alice, key="lost", status="did it happen?")
    assert retry.status_code == 200
    assert retry.json()["id"] == posts[0]["id"]
    assert len(await emulator_posts(client)) == 1


async def test_after_phase_delay_lets_a_client_time_out_after_the_post_exists(
    client: httpx.AsyncClient, alice: User
) -> None:
    await add_fault(client, delay_s=2, phase="after", method="POST", count=1)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(post_status(client, alice, status="slow"), 0.3)
    # ASGITransport has no socket timeout, so wait_for cancels; the handler ran already.
    assert [p["text"] for p in await emulator_posts(client)] == ["slow"]


async def test_a_landing_fault_answers_at_once_and_makes_the_post_later(
    client: httpx.AsyncClient, alice: User
) -> None:
    await add_fault(client, status=504, lands_after_s=0.5, method="POST", path="/statuses")
    response = await post_status(client, alice, status="landing later")
    assert response.status_code == 504
    assert await emulator_posts(client) == []  # not yet: the gateway gave up first
    for _ in range(50):
        await asyncio.sleep(0.1)
        if posts := await emulator_posts(client):
            break
    assert [p["text"] for p in posts] == ["landing later"]


async def test_a_landing_fault_needs_an_answer_before_it(client: httpx.AsyncClient) -> None:
    for spec in ({"phase": "after", "status": 500}, {"delay_s": 1}):
        refused = await client.post(
            "/_emulator/faults", json={"platform": "mastodon", "lands_after_s": 1, **spec}
        )
        assert refused.status_code == 422, refused.text


async def test_fault_count_expires(client: httpx.AsyncClient, alice: User) -> None:
    await add_fault(client, status=500, count=2, method="POST")
    listed = (await client.get("/_emulator/faults")).json()["data"]
    assert listed[0]["remaining"] == 2
    codes = [(await post_status(client, alice, status=f"{i}")).status_code for i in range(3)]
    assert codes == [500, 500, 200]
    assert (await client.get("/_emulator/faults")).json()["data"] == []


async def test_probabilistic_faults_are_reproducible_with_a_seed(
    client: httpx.AsyncClient, alice: User
) -> None:
    async def run() -> list[int]:
        await client.delete("/_emulator/faults")
        await client.post("/_emulator/faults/seed", json={"seed": 1234})
        await add_fault(client, status=503, probability=0.5, path="/verify_credentials")
        return [
            (
                await client.get("/mastodon/api/v1/accounts/verify_credentials", headers=alice.auth)
            ).status_code
            for _ in range(20)
        ]

    first, second = await run(), await run()
    assert first == second
    assert set(first) == {200, 503}


async def test_faults_can_be_listed_and_cleared(client: httpx.AsyncClient) -> None:
    fault_id = await add_fault(client, status=500)
    [listed] = (await client.get("/_emulator/faults")).json()["data"]
    assert listed["id"] == fault_id
    assert listed["remaining"] is None
    assert (await client.delete("/_emulator/faults")).json() == {"ok": True}
    assert (await client.get("/_emulator/faults")).json()["data"] == []
    bad = await client.post("/_emulator/faults", json={"platform": "myspace", "status": 500})
    assert bad.status_code == 422


async def test_faults_never_touch_the_control_api(client: httpx.AsyncClient) -> None:
    await add_fault(client, status=500)
    assert (await client.get("/_emulator/posts")).status_code == 200


# -- request log and reset ------------------------------------------------------------------------


async def test_request_log_shows_retries(client: httpx.AsyncClient, alice: User) -> None:
    await add_fault(client, status=503, count=1, method="POST")
    await post_status(client, alice, key="r1", status="x")
    await post_status(client, alice, key="r1", status="x")
    log = (await client.get("/_emulator/requests", params={"platform": "mastodon"})).json()["data"]
    posts = [r for r in log if r["method"] == "POST"]
    assert [r["status"] for r in posts] == [503, 200]
    assert posts[0]["path"] == STATUSES
    assert posts[0]["headers"]["idempotency-key"] == "r1"
    assert posts[0]["headers"]["authorization"] == f"Bearer {alice.token[:6]}…"
    assert alice.token not in str(log)
    assert posts[0]["faults"] and not posts[1]["faults"]


async def test_reset_returns_to_a_fresh_world(client: httpx.AsyncClient, alice: User) -> None:
    sandbox_before = (await client.get("/_emulator/accounts", params={"platform": "x"})).json()
    await post_status(client, alice, status="x")
    await upload(client, alice, PNG_1x1, "image/png", "p.png")
    await add_fault(client, status=500, path="/nothing")
    assert (await client.post("/_emulator/reset")).json() == {"ok": True}

    assert await emulator_posts(client) == []
    assert (await client.get("/_emulator/faults")).json()["data"] == []
    accounts = (await client.get("/_emulator/accounts")).json()["data"]
    assert all(a["sandbox"] for a in accounts)
    assert len(accounts) == 8
    assert (
        await client.get("/_emulator/accounts", params={"platform": "x"})
    ).json() == sandbox_before
    gone = await client.get("/mastodon/api/v1/accounts/verify_credentials", headers=alice.auth)
    assert gone.status_code == 401


async def test_control_posts_shape_and_filters(client: httpx.AsyncClient, alice: User) -> None:
    bob = await new_user(client, "bob")
    await post_status(client, alice, key="k1", status="from alice")
    await post_status(client, bob, status="from bob")
    [post] = await emulator_posts(client, platform="mastodon", account="alice")
    assert post.keys() == {
        "platform",
        "account",
        "id",
        "text",
        "media",
        "created_at",
        "in_reply_to_id",
        "idempotency_key",
        "deleted",
    }
    assert post["platform"] == "mastodon"
    assert post["account"] == "alice"
    assert post["text"] == "from alice"
    assert post["idempotency_key"] == "k1"
    assert post["deleted"] is False
    assert post["created_at"].endswith("Z")
    assert len(await emulator_posts(client)) == 2
    assert await emulator_posts(client, platform="bluesky") == []


async def test_the_clock_moves_forward_and_back_to_real_time(client: httpx.AsyncClient) -> None:
    ahead = (await client.post("/_emulator/clock", json={"seconds": 3600})).json()["now"]
    assert datetime.fromisoformat(ahead.replace("Z", "+00:00")) - datetime.now(UTC) > timedelta(
        minutes=59
    )
    assert (await client.post("/_emulator/clock", json={"seconds": -1})).status_code == 422
    restored = (await client.delete("/_emulator/clock")).json()["now"]
    drift = datetime.fromisoformat(restored.replace("Z", "+00:00")) - datetime.now(UTC)
    assert abs(drift) < timedelta(seconds=5)
