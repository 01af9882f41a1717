"""The emulator's X API v2 (under /x), driven in-process over ASGI."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from emulator.twitter_text import weighted_length
from tests.emulator.clients import make_client

TWEETS = "/x/2/tweets"
UPLOAD = "/x/2/media/upload"
PNG_1x1 = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000100e221bc330000000049454e44ae426082"
)
MP4 = b"\x00\x00\x00\x18ftypmp42" + b"\r\n--\r\n" + bytes(range(256)) * 8
TOO_LONG = (
    "Your Tweet text is too long. For more information on how Twitter determines text length "
    "see https://github.com/twitter/twitter-text."
)
DUPLICATE = {
    "title": "Forbidden",
    "detail": "You are not allowed to create a Tweet with duplicate content.",
    "type": "about:blank",
    "status": 403,
}


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
    async with make_client(processing_s=1.0) as c:
        yield c


async def new_user(client: httpx.AsyncClient, username: str) -> User:
    response = await client.post(
        "/_emulator/accounts", json={"platform": "x", "username": username}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    return User(body["id"], body["username"], body["token"])


@pytest.fixture
async def alice(client: httpx.AsyncClient) -> User:
    return await new_user(client, "alice")


async def tweet(
    client: httpx.AsyncClient, user: User, text: str | None = "hello", **body: Any
) -> httpx.Response:
    if text is not None:
        body["text"] = text
    return await client.post(TWEETS, json=body, headers=user.auth)


async def emulator_posts(client: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    response = await client.get("/_emulator/posts", params={"platform": "x", **params})
    assert response.status_code == 200
    posts: list[dict[str, Any]] = response.json()["data"]
    return posts


async def add_fault(client: httpx.AsyncClient, **spec: Any) -> str:
    response = await client.post("/_emulator/faults", json={"platform": "x", **spec})
    assert response.status_code == 200, response.text
    fault_id: str = response.json()["id"]
    return fault_id


async def advance(client: httpx.AsyncClient, seconds: float) -> None:
    await client.post("/_emulator/clock", json={"seconds": seconds})


async def upload_image(client: httpx.AsyncClient, user: User, data: bytes = PNG_1x1) -> str:
    response = await client.post(
        UPLOAD,
        headers=user.auth,
        files={"media": ("pic.png", data, "image/png")},
        data={"media_category": "tweet_image"},
    )
    assert response.status_code == 200, response.text
    media_id: str = response.json()["data"]["id"]
    return media_id


async def chunked_video(client: httpx.AsyncClient, user: User, data: bytes = MP4) -> dict[str, Any]:
    """INIT, two APPENDs, FINALIZE with the command-style v2 endpoint."""
    init = await client.post(
        UPLOAD,
        headers=user.auth,
        params={
            "command": "INIT",
            "media_type": "video/mp4",
            "total_bytes": len(data),
            "media_category": "tweet_video",
        },
    )
    assert init.status_code == 200, init.text
    media_id = init.json()["data"]["id"]
    half = len(data) // 2
    for index, chunk in enumerate((data[:half], data[half:])):
        appended = await client.post(
            UPLOAD,
            headers=user.auth,
            data={"command": "APPEND", "media_id": media_id, "segment_index": str(index)},
            files={"media": ("blob", chunk, "application/octet-stream")},
        )
        assert appended.status_code == 200, appended.text
    final = await client.post(
        UPLOAD, headers=user.auth, params={"command": "FINALIZE", "media_id": media_id}
    )
    assert final.status_code == 200, final.text
    data_json: dict[str, Any] = final.json()["data"]
    return data_json


async def status(client: httpx.AsyncClient, user: User, media_id: str) -> dict[str, Any]:
    response = await client.get(
        UPLOAD, headers=user.auth, params={"command": "STATUS", "media_id": media_id}
    )
    assert response.status_code == 200, response.text
    info: dict[str, Any] = response.json()["data"]["processing_info"]
    return info


def assert_invalid(response: httpx.Response, message: str) -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["title"] == "Invalid Request"
    assert body["detail"] == "One or more parameters to your request was invalid."
    assert body["type"] == "https://api.x.com/2/problems/invalid-request"
    assert body["errors"][0]["message"] == message


# -- auth and users -------------------------------------------------------------------------------


async def test_users_me_with_the_sandbox_bearer_token(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/x/2/users/me",
        headers={"Authorization": "Bearer emulator-x-sandbox-token"},
        params={"user.fields": "created_at,public_metrics"},
    )
    assert response.status_code == 200
    user = response.json()["data"]
    assert user["username"] == "herald_sandbox"
    assert user["name"] == "Herald Sandbox (X)"
    assert user["id"].isdigit()
    assert user["public_metrics"]["tweet_count"] == 0
    assert user["created_at"].endswith("Z")
    assert response.headers["x-rate-limit-limit"] == "75"
    assert response.headers["x-rate-limit-remaining"] == "74"
    assert int(response.headers["x-rate-limit-reset"]) > 0


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": "Bearer emulator-mastodon-sandbox-token"},
        {"Authorization": 'OAuth oauth_consumer_key="k", oauth_signature="s"'},
    ],
)
async def test_bad_or_missing_token_is_401_problem(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response = await client.post(TWEETS, json={"text": "hi"}, headers=headers)
    assert response.status_code == 401
    assert response.json() == {
        "title": "Unauthorized",
        "detail": "Unauthorized",
        "type": "about:blank",
        "status": 401,
    }
    assert "x-rate-limit-remaining" in response.headers
    assert await emulator_posts(client) == []


async def test_user_lookup(client: httpx.AsyncClient, alice: User) -> None:
    found = await client.get(f"/x/2/users/{alice.id}", headers=alice.auth)
    assert found.json()["data"]["username"] == "alice"
    missing = await client.get("/x/2/users/123", headers=alice.auth)
    assert missing.status_code == 200
    [error] = missing.json()["errors"]
    assert error["title"] == "Not Found Error"
    assert error["resource_type"] == "user"


# -- posting --------------------------------------------------------------------------------------


async def test_create_tweet_answers_201_with_t_co_links(
    client: httpx.AsyncClient, alice: User
) -> None:
    response = await tweet(client, alice, "read https://example.com/a/very/long/path please")
    assert response.status_code == 201
    data = response.json()["data"]
    assert data.keys() == {"id", "text", "edit_history_tweet_ids"}
    assert data["id"].isdigit() and len(data["id"]) == 19
    assert data["edit_history_tweet_ids"] == [data["id"]]
    assert data["text"].startswith("read https://t.co/")
    assert data["text"].endswith(" please")

    [post] = await emulator_posts(client, account="alice")
    assert post["id"] == data["id"]
    assert post["text"] == "read https://example.com/a/very/long/path please"
    assert post["idempotency_key"] is None

    looked_up = await client.get(
        f"{TWEETS}/{data['id']}",
        headers=alice.auth,
        params={"tweet.fields": "created_at,author_id,entities,conversation_id"},
    )
    tweet_json = looked_up.json()["data"]
    assert tweet_json["author_id"] == alice.id
    assert tweet_json["conversation_id"] == data["id"]
    assert (
        tweet_json["entities"]["urls"][0]["expanded_url"] == "https://example.com/a/very/long/path"
    )


async def test_ids_grow_with_time(client: httpx.AsyncClient, alice: User) -> None:
    ids = [(await tweet(client, alice, f"n{i}")).json()["data"]["id"] for i in range(5)]
    assert [int(i) for i in ids] == sorted(int(i) for i in ids)


async def test_weighted_length_limit(client: httpx.AsyncClient, alice: User) -> None:
    assert (await tweet(client, alice, "a" * 280)).status_code == 201
    assert_invalid(await tweet(client, alice, "b" * 281), TOO_LONG)
    # CJK counts 2 each.
    assert (await tweet(client, alice, "日" * 140)).status_code == 201
    assert_invalid(await tweet(client, alice, "本" * 141), TOO_LONG)
    # An emoji sequence counts 2, however many code points it has.
    assert (await tweet(client, alice, "👩\u200d👩\u200d👧" * 140)).status_code == 201
    assert_invalid(await tweet(client, alice, "👍🏽" * 141), TOO_LONG)
    # A URL counts 23 however long.
    url = "https://example.com/" + "p" * 300
    assert (await tweet(client, alice, "c" * 256 + " " + url)).status_code == 201
    assert_invalid(await tweet(client, alice, "d" * 257 + " " + url), TOO_LONG)
    assert len(await emulator_posts(client)) == 4


def test_weighted_length_counting() -> None:
    assert weighted_length("hello") == 5
    assert weighted_length("日本語") == 6
    assert weighted_length("see example.com.") == 4 + 23 + 1
    assert weighted_length("mail me@example.com") == len("mail me@example.com")
    assert weighted_length("🇩🇪") == 2
    assert weighted_length("e\u0301") == 1  # NFC first
    assert weighted_length("\u2013\u2014\u201c\u201d") == 4  # punctuation in the light ranges
    assert weighted_length("€") == 2


async def test_empty_text_without_media_is_refused(client: httpx.AsyncClient, alice: User) -> None:
    response = await tweet(client, alice, "   ")
    assert response.status_code == 400
    assert response.json()["errors"][0]["parameters"] == {"text": ["   "]}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"text": 5}, "$.text: integer found, string expected"),
        (
            {"text": "x", "media_ids": ["1"]},
            (
                "$.media_ids: is not defined in the schema and the schema does not allow additional "
                "properties"
            ),
        ),
        (
            {"text": "x", "media": {"media_ids": []}},
            ("$.media.media_ids: there must be between 1 and 4 items in the array"),
        ),
        (
            {"text": "x", "reply": {"in_reply_to_tweet_id": 12}},
            ("$.reply.in_reply_to_tweet_id: integer found, string expected"),
        ),
    ],
)
async def test_schema_errors(
    client: httpx.AsyncClient, alice: User, body: dict[str, Any], message: str
) -> None:
    assert_invalid(await client.post(TWEETS, json=body, headers=alice.auth), message)


async def test_duplicate_content_is_403(client: httpx.AsyncClient, alice: User) -> None:
    first = await tweet(client, alice, "same words")
    assert first.status_code == 201
    again = await tweet(client, alice, "same words")
    assert again.status_code == 403
    assert again.json() == DUPLICATE
    # Another user may say the same; a deleted Tweet no longer counts; a day later is fine.
    bob = await new_user(client, "bob")
    assert (await tweet(client, bob, "same words")).status_code == 201
    await client.delete(f"{TWEETS}/{first.json()['data']['id']}", headers=alice.auth)
    assert (await tweet(client, alice, "same words")).status_code == 201
    await advance(client, 86400)
    assert (await tweet(client, alice, "same words")).status_code == 201


async def test_reply_thread(client: httpx.AsyncClient, alice: User) -> None:
    root = (await tweet(client, alice, "1/3")).json()["data"]["id"]
    second = (await tweet(client, alice, "2/3", reply={"in_reply_to_tweet_id": root})).json()[
        "data"
    ]["id"]
    third = await tweet(client, alice, "3/3", reply={"in_reply_to_tweet_id": second})
    assert third.status_code == 201
    posts = await emulator_posts(client)
    assert [p["in_reply_to_id"] for p in posts] == [None, root, second]
    looked_up = await client.get(
        f"{TWEETS}/{third.json()['data']['id']}",
        headers=alice.auth,
        params={"tweet.fields": "conversation_id,in_reply_to_user_id,referenced_tweets"},
    )
    data = looked_up.json()["data"]
    assert data["conversation_id"] == root
    assert data["in_reply_to_user_id"] == alice.id
    assert data["referenced_tweets"] == [{"type": "replied_to", "id": second}]


async def test_reply_to_a_deleted_or_unknown_tweet_is_403(
    client: httpx.AsyncClient, alice: User
) -> None:
    gone = (await tweet(client, alice, "soon gone")).json()["data"]["id"]
    await client.delete(f"{TWEETS}/{gone}", headers=alice.auth)
    for target in (gone, "1234567890"):
        response = await tweet(client, alice, "reply", reply={"in_reply_to_tweet_id": target})
        assert response.status_code == 403
        assert response.json()["detail"] == (
            "You attempted to reply to a Tweet that is deleted or not visible to you."
        )


async def test_delete_tweet(client: httpx.AsyncClient, alice: User) -> None:
    tweet_id = (await tweet(client, alice, "bye")).json()["data"]["id"]
    deleted = await client.delete(f"{TWEETS}/{tweet_id}", headers=alice.auth)
    assert deleted.status_code == 200
    assert deleted.json() == {"data": {"deleted": True}}
    again = await client.delete(f"{TWEETS}/{tweet_id}", headers=alice.auth)
    assert again.status_code == 404
    lookup = await client.get(f"{TWEETS}/{tweet_id}", headers=alice.auth)
    assert lookup.status_code == 200
    assert lookup.json()["errors"][0]["resource_type"] == "tweet"
    assert [p["deleted"] for p in await emulator_posts(client)] == [True]

    bob = await new_user(client, "bob")
    bobs = (await tweet(client, bob, "bob's")).json()["data"]["id"]
    forbidden = await client.delete(f"{TWEETS}/{bobs}", headers=alice.auth)
    assert forbidden.status_code == 403
    assert forbidden.json()["title"] == "Forbidden"


# -- media ----------------------------------------------------------------------------------------


async def test_image_upload_and_tweet(client: httpx.AsyncClient, alice: User) -> None:
    response = await client.post(
        UPLOAD,
        headers=alice.auth,
        files={"media": ("pic.png", PNG_1x1, "image/png")},
        data={"media_category": "tweet_image"},
    )
    data = response.json()["data"]
    assert data["media_key"] == f"3_{data['id']}"
    assert data["image"] == {"image_type": "image/png", "w": 1, "h": 1}
    assert data["size"] == len(PNG_1x1)
    assert "processing_info" not in data
    alt = await client.post(
        "/x/2/media/metadata",
        headers=alice.auth,
        json={"id": data["id"], "metadata": {"alt_text": {"text": "a dot"}}},
    )
    assert alt.json()["data"]["associated_metadata"] == {"alt_text": {"text": "a dot"}}

    created = await tweet(client, alice, "", media={"media_ids": [data["id"]]})
    assert created.status_code == 201, created.text
    assert created.json()["data"]["text"].startswith("https://t.co/")
    [post] = await emulator_posts(client)
    [media] = post["media"]
    assert media["id"] == data["id"]
    assert media["type"] == "photo"
    assert media["description"] == "a dot"
    assert media["sha256"] == hashlib.sha256(PNG_1x1).hexdigest()
    assert media["size"] == len(PNG_1x1)
    assert (await client.get(media["url"])).content == PNG_1x1


async def test_base64_upload_in_json(client: httpx.AsyncClient, alice: User) -> None:
    response = await client.post(
        UPLOAD,
        headers=alice.auth,
        json={"media": base64.b64encode(PNG_1x1).decode(), "media_category": "tweet_image"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["data"]["size"] == len(PNG_1x1)


async def test_chunked_video_processing_states(client: httpx.AsyncClient, alice: User) -> None:
    final = await chunked_video(client, alice)
    assert final["media_key"] == f"7_{final['id']}"
    assert final["size"] == len(MP4)
    assert final["processing_info"]["state"] == "pending"
    assert final["processing_info"]["check_after_secs"] >= 1

    too_soon = await tweet(client, alice, "clip", media={"media_ids": [final["id"]]})
    assert_invalid(too_soon, "Your media IDs are invalid.")

    await advance(client, 0.5)
    middle = await status(client, alice, final["id"])
    assert middle["state"] == "in_progress"
    assert 0 < middle["progress_percent"] < 100
    await advance(client, 0.6)
    assert (await status(client, alice, final["id"]))["state"] == "succeeded"

    posted = await tweet(client, alice, "clip", media={"media_ids": [final["id"]]})
    assert posted.status_code == 201, posted.text
    [post] = await emulator_posts(client)
    assert post["media"][0]["type"] == "video"
    assert post["media"][0]["sha256"] == hashlib.sha256(MP4).hexdigest()


async def test_video_that_is_not_a_video_fails_processing(
    client: httpx.AsyncClient, alice: User
) -> None:
    final = await chunked_video(client, alice, b"not really an mp4 file at all")
    await advance(client, 2)
    info = await status(client, alice, final["id"])
    assert info["state"] == "failed"
    assert info["error"]["name"] == "InvalidMedia"
    assert_invalid(
        await tweet(client, alice, "x", media={"media_ids": [final["id"]]}),
        "Your media IDs are invalid.",
    )


async def test_dedicated_upload_endpoints(client: httpx.AsyncClient, alice: User) -> None:
    init = await client.post(
        f"{UPLOAD}/initialize",
        headers=alice.auth,
        json={
            "media_type": "video/mp4",
            "total_bytes": len(MP4),
            "media_category": "amplify_video",
        },
    )
    media_id = init.json()["data"]["id"]
    appended = await client.post(
        f"{UPLOAD}/{media_id}/append",
        headers=alice.auth,
        data={"segment_index": "0"},
        files={"media": ("blob", MP4, "application/octet-stream")},
    )
    assert appended.status_code == 200
    assert "expires_at" in appended.json()["data"]
    final = await client.post(f"{UPLOAD}/{media_id}/finalize", headers=alice.auth)
    assert final.json()["data"]["processing_info"]["state"] == "pending"
    # Finalizing again answers the same media, so a lost FINALIZE answer can be retried.
    again = await client.post(f"{UPLOAD}/{media_id}/finalize", headers=alice.auth)
    assert again.json()["data"]["id"] == media_id


async def test_upload_errors(client: httpx.AsyncClient, alice: User) -> None:
    init = await client.post(
        UPLOAD,
        headers=alice.auth,
        params={"command": "INIT", "media_type": "video/mp4", "total_bytes": 100},
    )
    media_id = init.json()["data"]["id"]
    await client.post(
        UPLOAD,
        headers=alice.auth,
        data={"command": "APPEND", "media_id": media_id, "segment_index": "0"},
        files={"media": ("blob", b"x" * 60, "application/octet-stream")},
    )
    short = await client.post(
        UPLOAD, headers=alice.auth, params={"command": "FINALIZE", "media_id": media_id}
    )
    assert_invalid(short, "Segments do not add up to provided total file size.")

    huge = await client.post(
        UPLOAD,
        headers=alice.auth,
        params={"command": "INIT", "media_type": "image/png", "total_bytes": 6 * 1024 * 1024},
    )
    assert_invalid(huge, "File size exceeds 5242880 bytes.")

    bob = await new_user(client, "bob")
    bobs = await upload_image(client, bob)
    assert_invalid(
        await tweet(client, alice, "x", media={"media_ids": [bobs]}), "Your media IDs are invalid."
    )
    unknown_status = await client.get(
        UPLOAD, headers=alice.auth, params={"command": "STATUS", "media_id": bobs}
    )
    assert unknown_status.status_code == 400


async def test_media_ids_expire(client: httpx.AsyncClient, alice: User) -> None:
    media_id = await upload_image(client, alice)
    await advance(client, 86400)
    assert_invalid(
        await tweet(client, alice, "late", media={"media_ids": [media_id]}),
        "Your media IDs are invalid.",
    )


async def test_four_photos_but_not_photos_and_video(client: httpx.AsyncClient, alice: User) -> None:
    photos = [await upload_image(client, alice, PNG_1x1 + bytes([i])) for i in range(5)]
    assert (await tweet(client, alice, "four", media={"media_ids": photos[:4]})).status_code == 201
    assert_invalid(
        await tweet(client, alice, "five", media={"media_ids": photos}),
        "$.media.media_ids: there must be between 1 and 4 items in the array",
    )
    video = await chunked_video(client, alice)
    await advance(client, 2)
    assert_invalid(
        await tweet(client, alice, "mixed", media={"media_ids": [photos[0], video["id"]]}),
        "Your media IDs are invalid.",
    )


# -- timelines ------------------------------------------------------------------------------------


async def test_user_tweets_paginate_newest_first(client: httpx.AsyncClient, alice: User) -> None:
    ids = [(await tweet(client, alice, f"n{i}")).json()["data"]["id"] for i in range(7)]
    newest_first = ids[::-1]
    url = f"/x/2/users/{alice.id}/tweets"

    first = (await client.get(url, headers=alice.auth, params={"max_results": 5})).json()
    assert [t["id"] for t in first["data"]] == newest_first[:5]
    assert first["data"][0].keys() == {"id", "text", "edit_history_tweet_ids"}
    meta = first["meta"]
    assert meta["result_count"] == 5
    assert meta["newest_id"] == newest_first[0]
    assert meta["oldest_id"] == newest_first[4]
    assert "previous_token" not in meta

    second = (
        await client.get(
            url,
            headers=alice.auth,
            params={"max_results": 5, "pagination_token": meta["next_token"]},
        )
    ).json()
    assert [t["id"] for t in second["data"]] == newest_first[5:]
    assert "next_token" not in second["meta"]
    back = (
        await client.get(
            url,
            headers=alice.auth,
            params={"max_results": 5, "pagination_token": second["meta"]["previous_token"]},
        )
    ).json()
    assert [t["id"] for t in back["data"]] == newest_first[:5]

    since = (await client.get(url, headers=alice.auth, params={"since_id": ids[4]})).json()
    assert [t["id"] for t in since["data"]] == [ids[6], ids[5]]
    nothing = (await client.get(url, headers=alice.auth, params={"since_id": ids[6]})).json()
    assert nothing == {"meta": {"result_count": 0}}


async def test_user_tweets_parameters(client: httpx.AsyncClient, alice: User) -> None:
    root = (await tweet(client, alice, "root")).json()["data"]["id"]
    await tweet(client, alice, "reply", reply={"in_reply_to_tweet_id": root})
    url = f"/x/2/users/{alice.id}/tweets"
    no_replies = (await client.get(url, headers=alice.auth, params={"exclude": "replies"})).json()
    assert [t["id"] for t in no_replies["data"]] == [root]
    assert_invalid(
        await client.get(url, headers=alice.auth, params={"max_results": 4}),
        "The `max_results` query parameter value [4] is not between 5 and 100",
    )
    assert_invalid(
        await client.get(url, headers=alice.auth, params={"tweet.fields": "bogus"}),
        "The `tweet.fields` query parameter value [bogus] is not one of "
        "[attachments,author_id,conversation_id,created_at,display_text_range,edit_controls,"
        "edit_history_tweet_ids,entities,id,in_reply_to_user_id,lang,possibly_sensitive,"
        "public_metrics,referenced_tweets,reply_settings,text]",
    )
    unknown = await client.get("/x/2/users/42/tweets", headers=alice.auth)
    assert unknown.json()["errors"][0]["detail"] == "Could not find user with id: [42]."


async def test_user_tweets_expand_media(client: httpx.AsyncClient, alice: User) -> None:
    media_id = await upload_image(client, alice)
    await tweet(client, alice, "pic", media={"media_ids": [media_id]})
    body = (
        await client.get(
            f"/x/2/users/{alice.id}/tweets",
            headers=alice.auth,
            params={
                "tweet.fields": "attachments,created_at",
                "expansions": "attachments.media_keys,author_id",
                "media.fields": "url,width,height",
            },
        )
    ).json()
    assert body["data"][0]["attachments"] == {"media_keys": [f"3_{media_id}"]}
    [media] = body["includes"]["media"]
    assert media["type"] == "photo"
    assert media["url"].endswith(f"/x/media-files/{media_id}")
    assert body["includes"]["users"][0]["username"] == "alice"


# -- rate limits and faults -----------------------------------------------------------------------


async def test_tweet_rate_limit_per_user() -> None:
    async with make_client(x_tweet_rate_limit=2) as client:
        alice = await new_user(client, "alice")
        responses = [await tweet(client, alice, f"t{i}") for i in range(3)]
        assert [r.status_code for r in responses] == [201, 201, 429]
        assert [r.headers["x-rate-limit-remaining"] for r in responses] == ["1", "0", "0"]
        assert responses[2].json() == {
            "title": "Too Many Requests",
            "detail": "Too Many Requests",
            "type": "about:blank",
            "status": 429,
        }
        assert responses[2].headers["x-rate-limit-limit"] == "2"
        # Reads have their own budget, and a new 15-minute window starts afresh.
        assert (await client.get("/x/2/users/me", headers=alice.auth)).status_code == 200
        await advance(client, 900)
        assert (await tweet(client, alice, "later")).status_code == 201


async def test_status_fault_answers_a_problem_without_posting(
    client: httpx.AsyncClient, alice: User
) -> None:
    await add_fault(client, status=503, path="/2/tweets", method="POST")
    response = await tweet(client, alice, "x")
    assert response.status_code == 503
    assert response.json() == {
        "title": "Service Unavailable",
        "detail": "Service Unavailable",
        "type": "about:blank",
        "status": 503,
    }
    assert await emulator_posts(client) == []


async def test_429_fault_carries_x_rate_limit_headers(
    client: httpx.AsyncClient, alice: User
) -> None:
    await add_fault(client, status=429, retry_after=60, count=1, method="POST")
    response = await tweet(client, alice, "x")
    assert response.status_code == 429
    assert response.headers["x-rate-limit-remaining"] == "0"
    assert response.headers["x-rate-limit-limit"] == "100"
    assert int(response.headers["x-rate-limit-reset"]) >= 60
    assert response.json()["title"] == "Too Many Requests"
    assert (await tweet(client, alice, "x")).status_code == 201


async def test_after_phase_fault_creates_the_tweet_and_a_blind_retry_is_a_duplicate(
    client: httpx.AsyncClient, alice: User
) -> None:
    await add_fault(client, status=500, phase="after", method="POST", path="/2/tweets", count=1)
    lost = await tweet(client, alice, "did it post?")
    assert lost.status_code == 500
    [post] = await emulator_posts(client)
    assert post["text"] == "did it post?"
    # X has no idempotency key: retrying the same text is refused as duplicate content, and
    # the timeline is how a client finds the Tweet it created.
    retry = await tweet(client, alice, "did it post?")
    assert retry.json() == DUPLICATE
    timeline = await client.get(f"/x/2/users/{alice.id}/tweets", headers=alice.auth)
    assert [t["id"] for t in timeline.json()["data"]] == [post["id"]]


async def test_unknown_route(client: httpx.AsyncClient, alice: User) -> None:
    response = await client.get("/x/2/nothing/here", headers=alice.auth)
    assert response.status_code == 404
    assert response.json() == {
        "errors": [{"message": "Sorry, that page does not exist", "code": 34}]
    }


async def test_control_posts_shape(client: httpx.AsyncClient, alice: User) -> None:
    await tweet(client, alice, "shape")
    [post] = await emulator_posts(client, account="alice")
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
    assert post["platform"] == "x"
    assert post["deleted"] is False


# -- OAuth 2.0 Authorization Code with PKCE -------------------------------------------------------

AUTHORIZE = "/x/i/oauth2/authorize"
TOKEN = "/x/2/oauth2/token"
REDIRECT = "https://herald.example/callback"
VERIFIER = "v" * 43 + "-verifier"
CLIENT_AUTH = httpx.BasicAuth("herald-emulator-client", "herald-emulator-client-secret")


def challenge_of(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


async def authorize_code(
    client: httpx.AsyncClient, username: str, verifier: str = VERIFIER, **extra: str
) -> str:
    params = {
        "response_type": "code",
        "client_id": "herald-emulator-client",
        "redirect_uri": REDIRECT,
        "scope": "tweet.read tweet.write users.read media.write offline.access",
        "state": "st4te",
        "code_challenge": challenge_of(verifier),
        "code_challenge_method": "S256",
        "emulator_username": username,
        **extra,
    }
    response = await client.get(AUTHORIZE, params=params)
    assert response.status_code == 302, response.text
    location = httpx.URL(response.headers["location"])
    assert str(location).startswith(REDIRECT)
    assert location.params["state"] == "st4te"
    code: str = location.params["code"]
    return code


async def token_request(
    client: httpx.AsyncClient, auth: httpx.BasicAuth | None = CLIENT_AUTH, **form: str
) -> httpx.Response:
    if auth is None:
        return await client.post(TOKEN, data=form)
    return await client.post(TOKEN, data=form, auth=auth)


async def test_oauth_code_token_call_refresh_rotation(
    client: httpx.AsyncClient, alice: User
) -> None:
    code = await authorize_code(client, alice.username)
    issued = await token_request(
        client,
        grant_type="authorization_code",
        code=code,
        redirect_uri=REDIRECT,
        code_verifier=VERIFIER,
    )
    assert issued.status_code == 200, issued.text
    tokens = issued.json()
    assert set(tokens) == {"token_type", "expires_in", "access_token", "scope", "refresh_token"}
    assert tokens["token_type"] == "bearer"
    assert tokens["expires_in"] > 0
    assert tokens["scope"].split() == [
        "tweet.read",
        "tweet.write",
        "users.read",
        "media.write",
        "offline.access",
    ]
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    me = await client.get("/x/2/users/me", headers=bearer)
    assert me.status_code == 200, me.text
    assert me.json()["data"]["id"] == alice.id
    posted = await client.post(TWEETS, json={"text": "with an OAuth token"}, headers=bearer)
    assert posted.status_code == 201, posted.text

    refreshed = await token_request(
        client, grant_type="refresh_token", refresh_token=tokens["refresh_token"]
    )
    assert refreshed.status_code == 200, refreshed.text
    renewed = refreshed.json()
    assert renewed["access_token"] != tokens["access_token"]
    assert renewed["refresh_token"] != tokens["refresh_token"]
    again = await client.get(
        "/x/2/users/me", headers={"Authorization": f"Bearer {renewed['access_token']}"}
    )
    assert again.json()["data"]["username"] == "alice"

    # Rotation: the old refresh token is spent.
    stale = await token_request(
        client, grant_type="refresh_token", refresh_token=tokens["refresh_token"]
    )
    assert stale.status_code == 400
    assert stale.json() == {
        "error": "invalid_request",
        "error_description": "Value passed for the token was invalid.",
    }


async def test_oauth_public_client_names_its_id_in_the_form(
    client: httpx.AsyncClient, alice: User
) -> None:
    code = await authorize_code(client, alice.username)
    issued = await token_request(
        client,
        auth=None,
        grant_type="authorization_code",
        code=code,
        redirect_uri=REDIRECT,
        code_verifier=VERIFIER,
        client_id="herald-emulator-client",
    )
    assert issued.status_code == 200, issued.text


async def test_oauth_pkce_mismatch_and_replayed_code_are_refused(
    client: httpx.AsyncClient, alice: User
) -> None:
    code = await authorize_code(client, alice.username)
    wrong = await token_request(
        client,
        grant_type="authorization_code",
        code=code,
        redirect_uri=REDIRECT,
        code_verifier="not-the-verifier-" + "x" * 30,
    )
    assert wrong.status_code == 400
    assert wrong.json()["error"] == "invalid_request"
    assert wrong.json()["error_description"] == "Value passed for the code verifier was invalid."

    code = await authorize_code(client, alice.username)
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "code_verifier": VERIFIER,
    }
    first = await token_request(client, auth=CLIENT_AUTH, **form)
    assert first.status_code == 200, first.text
    replayed = await token_request(client, auth=CLIENT_AUTH, **form)
    assert replayed.status_code == 400
    assert replayed.json() == {
        "error": "invalid_request",
        "error_description": "Value passed for the authorization code was invalid.",
    }


async def test_oauth_client_authentication_and_request_checks(
    client: httpx.AsyncClient, alice: User
) -> None:
    code = await authorize_code(client, alice.username)
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "code_verifier": VERIFIER,
    }
    anonymous = await token_request(client, auth=None, **form)
    assert anonymous.status_code == 401
    assert anonymous.json() == {
        "error": "unauthorized_client",
        "error_description": "Missing valid authorization header",
    }
    bad_secret = await token_request(
        client, auth=httpx.BasicAuth("herald-emulator-client", "wrong"), **form
    )
    assert bad_secret.status_code == 401
    assert bad_secret.json()["error"] == "unauthorized_client"
    grant_type = await token_request(client, grant_type="password")
    assert grant_type.status_code == 400
    assert grant_type.json()["error_description"] == "Value passed for the grant type was invalid."

    # PKCE is required; an unknown scope is sent back to the redirect URI.
    no_pkce = await client.get(
        AUTHORIZE,
        params={
            "response_type": "code",
            "client_id": "herald-emulator-client",
            "redirect_uri": REDIRECT,
            "scope": "tweet.read",
            "state": "s",
        },
    )
    assert no_pkce.status_code == 400
    bad_scope = await client.get(
        AUTHORIZE,
        params={
            "response_type": "code",
            "client_id": "herald-emulator-client",
            "redirect_uri": REDIRECT,
            "scope": "tweet.read everything",
            "state": "s",
            "code_challenge": challenge_of(VERIFIER),
            "code_challenge_method": "S256",
        },
    )
    assert bad_scope.status_code == 302
    back = httpx.URL(bad_scope.headers["location"])
    assert back.params["error"] == "invalid_scope"
    assert back.params["state"] == "s"


async def test_oauth_without_offline_access_issues_no_refresh_token(
    client: httpx.AsyncClient, alice: User
) -> None:
    code = await authorize_code(client, alice.username, scope="tweet.read users.read")
    issued = await token_request(
        client,
        grant_type="authorization_code",
        code=code,
        redirect_uri=REDIRECT,
        code_verifier=VERIFIER,
    )
    assert issued.status_code == 200, issued.text
    assert "refresh_token" not in issued.json()


async def test_a_rate_window_begins_with_its_first_request(
    client: httpx.AsyncClient, alice: User
) -> None:
    first = await tweet(client, alice, "one")
    reset = int(first.headers["x-rate-limit-reset"])
    await advance(client, 600)
    second = await tweet(client, alice, "two")
    # The same window: it ends 15 minutes after the first request, not at a clock multiple.
    assert int(second.headers["x-rate-limit-reset"]) == reset
    assert second.headers["x-rate-limit-remaining"] == "98"
    await advance(client, 301)
    third = await tweet(client, alice, "three")
    assert third.headers["x-rate-limit-remaining"] == "99"
    assert int(third.headers["x-rate-limit-reset"]) - reset in (901, 902)
