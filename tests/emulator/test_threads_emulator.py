"""The emulator's Threads API (under /threads), driven in-process over ASGI; media URLs are
served by a small file server on a real port, which the emulator downloads from."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import FastAPI, Response

from emulator.threads_common import threads_length
from tests.emulator.clients import make_client
from tests.support.media_files import jpeg, mp4, png
from tests.support.servers import free_port, serve_in_thread

API = "/threads/v1.0"
CLIENT_ID = "herald-emulator-client"
CLIENT_SECRET = "herald-emulator-client-secret"
FILES: dict[str, tuple[bytes, str]] = {
    "photo.png": (png(), "image/png"),
    "photo.jpg": (jpeg(), "image/jpeg"),
    "clip.mp4": (mp4(0.5), "video/mp4"),
    "notes.txt": (b"not an image at all", "text/plain"),
}


@pytest.fixture(scope="module")
def files_url() -> Iterator[str]:
    app = FastAPI()

    @app.get("/files/{name}")
    async def serve(name: str) -> Response:
        if name not in FILES:
            return Response(status_code=404)
        data, mime = FILES[name]
        return Response(data, media_type=mime)

    with serve_in_thread(app, free_port()) as url:
        yield f"{url}/files"


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
        "/_emulator/accounts", json={"platform": "threads", "username": username}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    return User(body["id"], body["username"], body["token"])


@pytest.fixture
async def alice(client: httpx.AsyncClient) -> User:
    return await new_user(client, "alice")


async def container(client: httpx.AsyncClient, user: User, **params: Any) -> httpx.Response:
    return await client.post(f"{API}/{user.id}/threads", data=params, headers=user.auth)


async def wait_status(
    client: httpx.AsyncClient, user: User, container_id: str, timeout_s: float = 5.0
) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        response = await client.get(
            f"{API}/{container_id}", params={"fields": "status,error_message"}, headers=user.auth
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        if body["status"] != "IN_PROGRESS" or asyncio.get_running_loop().time() > deadline:
            return body
        await asyncio.sleep(0.05)


async def publish(client: httpx.AsyncClient, user: User, creation_id: str) -> httpx.Response:
    return await client.post(
        f"{API}/{user.id}/threads_publish", data={"creation_id": creation_id}, headers=user.auth
    )


async def post_text(client: httpx.AsyncClient, user: User, text: str, **extra: Any) -> str:
    created = await container(client, user, media_type="TEXT", text=text, **extra)
    assert created.status_code == 200, created.text
    published = await publish(client, user, created.json()["id"])
    assert published.status_code == 200, published.text
    media_id: str = published.json()["id"]
    return media_id


def graph_error(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}, body
    error: dict[str, Any] = body["error"]
    assert {"message", "type", "code", "fbtrace_id"} <= set(error), error
    return error


async def test_text_post_is_published_in_two_steps_and_reads_back(
    client: httpx.AsyncClient, alice: User
) -> None:
    created = await container(client, alice, media_type="TEXT", text="Hello Threads")
    assert created.status_code == 200
    container_id = created.json()["id"]
    assert (await wait_status(client, alice, container_id))["status"] == "FINISHED"
    published = await publish(client, alice, container_id)
    media_id = published.json()["id"]
    assert media_id != container_id

    read = await client.get(
        f"{API}/{media_id}",
        params={"fields": "id,text,permalink,timestamp,media_type,username,owner"},
        headers=alice.auth,
    )
    body = read.json()
    assert body["text"] == "Hello Threads"
    assert body["media_type"] == "TEXT_POST"
    assert body["permalink"].startswith("https://www.threads.net/@alice/post/")
    assert body["owner"] == {"id": alice.id}
    assert body["timestamp"].endswith("+0000")
    # Only the id unless more fields are asked for.
    bare = await client.get(f"{API}/{media_id}", headers=alice.auth)
    assert bare.json() == {"id": media_id}
    # The container now says it was published; publishing it again is refused.
    assert (await wait_status(client, alice, container_id))["status"] == "PUBLISHED"
    again = await publish(client, alice, container_id)
    assert again.status_code == 400
    posts = (await client.get("/_emulator/posts", params={"platform": "threads"})).json()["data"]
    assert [p["text"] for p in posts] == ["Hello Threads"]


async def test_me_and_the_me_alias(client: httpx.AsyncClient, alice: User) -> None:
    me = await client.get(
        f"{API}/me",
        params={"fields": "id,username,name,threads_profile_picture_url"},
        headers=alice.auth,
    )
    assert me.json()["id"] == alice.id
    assert me.json()["username"] == "alice"
    assert me.json()["threads_profile_picture_url"].startswith("https://")
    # The token may also travel as access_token, and /me/threads stands for /{id}/threads.
    created = await client.post(
        f"{API}/me/threads",
        params={"access_token": alice.token, "media_type": "TEXT", "text": "via query"},
    )
    assert created.status_code == 200, created.text
    unknown = await client.get(f"{API}/me", params={"fields": "id,shoe_size"}, headers=alice.auth)
    assert unknown.status_code == 400
    assert "nonexisting field (shoe_size)" in graph_error(unknown)["message"]


async def test_tokens_are_checked(client: httpx.AsyncClient, alice: User) -> None:
    bad = await client.get(f"{API}/me", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 400
    error = graph_error(bad)
    assert (error["code"], error["type"]) == (190, "OAuthException")
    missing = await client.get(f"{API}/me")
    assert graph_error(missing)["code"] == 2500
    # Another user's id in the path is not served.
    bob = await new_user(client, "bob")
    other = await client.post(
        f"{API}/{bob.id}/threads", data={"media_type": "TEXT", "text": "x"}, headers=alice.auth
    )
    assert graph_error(other)["error_subcode"] == 33


async def test_text_limit_counts_emoji_as_utf8_bytes(
    client: httpx.AsyncClient, alice: User
) -> None:
    assert threads_length("a😀") == 5
    assert (await container(client, alice, media_type="TEXT", text="x" * 500)).status_code == 200
    too_long = await container(client, alice, media_type="TEXT", text="x" * 497 + "😀")
    assert too_long.status_code == 400
    assert "500 characters" in graph_error(too_long)["error_user_msg"]
    links = " ".join(f"https://example.com/{i}" for i in range(6))
    too_many = await container(client, alice, media_type="TEXT", text=links)
    assert graph_error(too_many)["message"] == "THREADS_API__LINK_LIMIT_EXCEEDED"
    empty = await container(client, alice, media_type="TEXT", text=" ")
    assert empty.status_code == 400
    bad_type = await container(client, alice, media_type="POLL", text="x")
    assert graph_error(bad_type)["code"] == 100


async def test_image_is_downloaded_and_finishes(
    client: httpx.AsyncClient, alice: User, files_url: str
) -> None:
    created = await container(
        client, alice, media_type="IMAGE", image_url=f"{files_url}/photo.png", text="pic"
    )
    container_id = created.json()["id"]
    assert (await wait_status(client, alice, container_id))["status"] == "FINISHED"
    media_id = (await publish(client, alice, container_id)).json()["id"]
    read = await client.get(
        f"{API}/{media_id}", params={"fields": "media_type,media_url"}, headers=alice.auth
    )
    assert read.json()["media_type"] == "IMAGE"
    served = await client.get(urlsplit(read.json()["media_url"]).path)
    assert served.content == FILES["photo.png"][0]
    posts = (await client.get("/_emulator/posts", params={"platform": "threads"})).json()["data"]
    assert posts[0]["media"][0]["mime_type"] == "image/png"


async def test_failed_downloads_and_wrong_bytes_end_in_error(
    client: httpx.AsyncClient, alice: User, files_url: str
) -> None:
    missing = await container(
        client, alice, media_type="IMAGE", image_url=f"{files_url}/nothing.png"
    )
    status = await wait_status(client, alice, missing.json()["id"])
    assert status == {
        "id": missing.json()["id"],
        "status": "ERROR",
        "error_message": "FAILED_DOWNLOADING_IMAGE",
    }
    not_video = await container(
        client, alice, media_type="VIDEO", video_url=f"{files_url}/notes.txt"
    )
    status = await wait_status(client, alice, not_video.json()["id"])
    assert status["error_message"] == "FAILED_PROCESSING_VIDEO"
    refused = await publish(client, alice, not_video.json()["id"])
    assert refused.status_code == 400
    no_url = await container(client, alice, media_type="IMAGE")
    assert "image_url" in graph_error(no_url)["error_user_msg"]


async def test_video_processes_before_it_can_be_published(
    client: httpx.AsyncClient, alice: User, files_url: str
) -> None:
    created = await container(
        client, alice, media_type="VIDEO", video_url=f"{files_url}/clip.mp4", text="clip"
    )
    container_id = created.json()["id"]
    early = await publish(client, alice, container_id)
    assert graph_error(early)["code"] == 9007
    assert (await wait_status(client, alice, container_id))["status"] == "FINISHED"
    assert (await publish(client, alice, container_id)).status_code == 200


async def test_carousel_of_two_to_twenty_items(
    client: httpx.AsyncClient, alice: User, files_url: str
) -> None:
    children = []
    for name, kind in (("photo.png", "IMAGE"), ("photo.jpg", "IMAGE"), ("clip.mp4", "VIDEO")):
        key = "image_url" if kind == "IMAGE" else "video_url"
        item = await container(
            client, alice, media_type=kind, is_carousel_item="true", **{key: f"{files_url}/{name}"}
        )
        children.append(item.json()["id"])
    lone = await container(
        client, alice, media_type="CAROUSEL", children=children[0], text="one is not enough"
    )
    assert "between 2 and 20" in graph_error(lone)["error_user_msg"]
    carousel = await container(
        client, alice, media_type="CAROUSEL", children=",".join(children), text="album"
    )
    carousel_id = carousel.json()["id"]
    # An item cannot be published on its own.
    assert (await publish(client, alice, children[0])).status_code == 400
    assert (await wait_status(client, alice, carousel_id))["status"] == "FINISHED"
    media_id = (await publish(client, alice, carousel_id)).json()["id"]
    read = await client.get(
        f"{API}/{media_id}", params={"fields": "media_type,children,text"}, headers=alice.auth
    )
    assert read.json()["media_type"] == "CAROUSEL_ALBUM"
    assert len(read.json()["children"]["data"]) == 3
    reused = await container(client, alice, media_type="CAROUSEL", children=",".join(children[:2]))
    assert reused.status_code == 400


async def test_replies_form_a_thread_and_count_in_insights(
    client: httpx.AsyncClient, alice: User
) -> None:
    root = await post_text(client, alice, "part 1")
    reply = await post_text(client, alice, "part 2", reply_to_id=root)
    await post_text(client, alice, "part 3", reply_to_id=reply)
    read = await client.get(
        f"{API}/{reply}",
        params={"fields": "is_reply,replied_to,root_post,text"},
        headers=alice.auth,
    )
    assert read.json()["replied_to"] == {"id": root}
    assert read.json()["root_post"] == {"id": root}
    insights = await client.get(
        f"{API}/{root}/insights", params={"metric": "views,likes,replies"}, headers=alice.auth
    )
    values = {m["name"]: m["values"][0]["value"] for m in insights.json()["data"]}
    assert values == {"views": 0, "likes": 0, "replies": 2}
    # Replies are not in the user's threads, but in /replies.
    threads = await client.get(f"{API}/me/threads", params={"fields": "text"}, headers=alice.auth)
    assert [t["text"] for t in threads.json()["data"]] == ["part 1"]
    replies = await client.get(f"{API}/me/replies", params={"fields": "text"}, headers=alice.auth)
    assert [t["text"] for t in replies.json()["data"]] == ["part 3", "part 2"]
    gone = await container(client, alice, media_type="TEXT", text="x", reply_to_id="123")
    assert gone.status_code == 400


async def test_list_is_newest_first_with_cursors_and_time_bounds(
    client: httpx.AsyncClient, alice: User
) -> None:
    ids = [await post_text(client, alice, f"post {i}") for i in range(5)]
    first = await client.get(
        f"{API}/me/threads", params={"fields": "id,text", "limit": 2}, headers=alice.auth
    )
    body = first.json()
    assert [p["id"] for p in body["data"]] == [ids[4], ids[3]]
    assert "next" in body["paging"] and "previous" not in body["paging"]
    after = parse_qs(urlsplit(body["paging"]["next"]).query)["after"][0]
    second = await client.get(
        f"{API}/me/threads",
        params={"fields": "id", "limit": 2, "after": after},
        headers=alice.auth,
    )
    assert [p["id"] for p in second.json()["data"]] == [ids[2], ids[1]]
    before = second.json()["paging"]["cursors"]["before"]
    newer = await client.get(
        f"{API}/me/threads", params={"limit": 10, "before": before}, headers=alice.auth
    )
    assert [p["id"] for p in newer.json()["data"]] == [ids[4], ids[3]]
    await client.post("/_emulator/clock", json={"seconds": 3600})
    later = await post_text(client, alice, "later")
    now = await client.get(f"{API}/me", headers=alice.auth)
    assert now.status_code == 200
    since = await client.get(
        f"{API}/me/threads",
        params={"since": "now", "fields": "id"},
        headers=alice.auth,
    )
    assert since.status_code == 400  # strtotime words are not understood by the emulator
    recent = await client.get(f"{API}/me/threads", params={"fields": "id"}, headers=alice.auth)
    assert recent.json()["data"][0]["id"] == later


async def test_delete_removes_the_post(client: httpx.AsyncClient, alice: User) -> None:
    media_id = await post_text(client, alice, "short-lived")
    deleted = await client.delete(f"{API}/{media_id}", headers=alice.auth)
    assert deleted.json() == {"success": True, "deleted_id": media_id}
    again = await client.delete(f"{API}/{media_id}", headers=alice.auth)
    error = graph_error(again)
    assert (error["code"], error["error_subcode"]) == (100, 33)
    bob = await new_user(client, "bob")
    other = await post_text(client, bob, "bob's")
    assert (await client.delete(f"{API}/{other}", headers=alice.auth)).status_code == 400


async def test_publishing_quota_and_limit_endpoint() -> None:
    async with make_client(threads_post_quota=2) as client:
        alice = await new_user(client, "alice")
        await post_text(client, alice, "one")
        await post_text(client, alice, "two")
        third = await container(client, alice, media_type="TEXT", text="three")
        refused = await publish(client, alice, third.json()["id"])
        assert graph_error(refused)["code"] == 4
        limit = await client.get(f"{API}/{alice.id}/threads_publishing_limit", headers=alice.auth)
        assert limit.json() == {
            "data": [{"quota_usage": 2, "config": {"quota_total": 2, "quota_duration": 86400}}]
        }
        await client.post("/_emulator/clock", json={"seconds": 86401})
        # The day passed: the quota is back, but the unpublished container expired.
        assert (await wait_status(client, alice, third.json()["id"]))["status"] == "EXPIRED"
        assert (await post_text(client, alice, "three")).isdigit()


async def test_call_budget_and_deletion_limit() -> None:
    async with make_client(threads_call_limit=3) as client:
        alice = await new_user(client, "alice")
        for _ in range(3):
            assert (await client.get(f"{API}/me", headers=alice.auth)).status_code == 200
        throttled = await client.get(f"{API}/me", headers=alice.auth)
        error = graph_error(throttled)
        assert (error["code"], error["is_transient"]) == (4, True)
        assert "call_count" in throttled.headers["x-app-usage"]
    async with make_client(threads_delete_quota=1) as client:
        alice = await new_user(client, "alice")
        first, second = [await post_text(client, alice, t) for t in ("a", "b")]
        assert (await client.delete(f"{API}/{first}", headers=alice.auth)).status_code == 200
        refused = await client.delete(f"{API}/{second}", headers=alice.auth)
        assert graph_error(refused)["code"] == 4


async def test_faults_speak_graph(client: httpx.AsyncClient, alice: User) -> None:
    await client.post(
        "/_emulator/faults",
        json={"platform": "threads", "status": 429, "retry_after": 7, "count": 1},
    )
    limited = await client.get(f"{API}/me", headers=alice.auth)
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "7"
    assert graph_error(limited)["code"] == 4
    await client.post("/_emulator/faults", json={"platform": "threads", "status": 503, "count": 1})
    unavailable = await client.get(f"{API}/me", headers=alice.auth)
    assert graph_error(unavailable)["is_transient"] is True
    unknown = await client.get(f"{API}/me/shoes/left", headers=alice.auth)
    assert graph_error(unknown)["code"] == 2500


async def authorize(client: httpx.AsyncClient, **params: str) -> httpx.Response:
    query = {
        "client_id": CLIENT_ID,
        "redirect_uri": "https://herald.example/callback",
        "scope": "threads_basic,threads_content_publish",
        "response_type": "code",
        "state": "s-1",
        **params,
    }
    return await client.get("/threads/oauth/authorize", params=query)


def code_of(response: httpx.Response) -> str:
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.endswith("#_")
    query = parse_qs(urlsplit(location).query)
    assert query["state"] == ["s-1"]
    return query["code"][0]


async def exchange(client: httpx.AsyncClient, code: str, **extra: str) -> httpx.Response:
    form = {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "code": code,
        "grant_type": "authorization_code",
        "redirect_uri": "https://herald.example/callback",
        **extra,
    }
    return await client.post("/threads/oauth/access_token", data=form)


async def test_oauth_code_short_long_and_refreshed_tokens(
    client: httpx.AsyncClient, alice: User
) -> None:
    code = code_of(await authorize(client, emulator_username="alice", code_challenge="ignored"))
    short = await exchange(client, code)
    assert short.status_code == 200, short.text
    assert short.json()["user_id"] == int(alice.id)
    assert "refresh_token" not in short.json()
    replay = await exchange(client, code)
    assert graph_error(replay)["error_subcode"] == 36009

    long_lived = await client.get(
        "/threads/access_token",
        params={
            "grant_type": "th_exchange_token",
            "client_secret": CLIENT_SECRET,
            "access_token": short.json()["access_token"],
        },
    )
    assert long_lived.json()["token_type"] == "bearer"
    assert long_lived.json()["expires_in"] == 60 * 86400
    token = long_lived.json()["access_token"]
    me = await client.get(f"{API}/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["id"] == alice.id

    refresh = {"grant_type": "th_refresh_token", "access_token": token}
    young = await client.get("/threads/refresh_access_token", params=refresh)
    assert young.json()["access_token"] == token  # less than 24 hours old: unchanged
    short_refresh = await client.get(
        "/threads/refresh_access_token",
        params={**refresh, "access_token": short.json()["access_token"]},
    )
    assert graph_error(short_refresh)["code"] == 190
    await client.post("/_emulator/clock", json={"seconds": 86400 + 60})
    renewed = await client.get("/threads/refresh_access_token", params=refresh)
    new_token = renewed.json()["access_token"]
    assert new_token != token
    assert renewed.json()["expires_in"] == 60 * 86400
    # The short-lived token expired after an hour; the long-lived ones still work.
    expired = await client.get(
        f"{API}/me", headers={"Authorization": f"Bearer {short.json()['access_token']}"}
    )
    assert graph_error(expired)["code"] == 190
    fresh = await client.get(f"{API}/me", headers={"Authorization": f"Bearer {new_token}"})
    assert fresh.status_code == 200
    # Revoking the app's grants ends every issued token.
    await client.post("/_emulator/accounts/threads/alice/revoke")
    revoked = await client.get("/threads/refresh_access_token", params=refresh)
    assert graph_error(revoked)["code"] == 190


async def test_oauth_refusals(client: httpx.AsyncClient) -> None:
    denied = await authorize(client, emulator_username="nobody")
    assert denied.status_code == 302
    assert parse_qs(urlsplit(denied.headers["location"]).query)["error"] == ["access_denied"]
    no_scope = await authorize(client, scope="")
    assert "error=invalid_scope" in no_scope.headers["location"]
    unknown_client = await authorize(client, client_id="someone-else")
    assert "error=invalid_client" in unknown_client.headers["location"]

    code = code_of(await authorize(client))
    wrong_secret = await exchange(client, code, client_secret="wrong")
    assert graph_error(wrong_secret)["message"] == "Error validating client secret."
    code = code_of(await authorize(client))
    other_uri = await exchange(client, code, redirect_uri="https://elsewhere.example/cb")
    assert graph_error(other_uri)["error_subcode"] == 36008
    bad_exchange = await client.get(
        "/threads/access_token",
        params={"grant_type": "th_exchange_token", "client_secret": "wrong", "access_token": "x"},
    )
    assert graph_error(bad_exchange)["code"] == 1
