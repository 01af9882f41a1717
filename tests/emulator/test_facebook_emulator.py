"""The emulator's Facebook Pages Graph API (under /facebook/v26.0), driven in-process over ASGI."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.emulator.clients import make_client
from tests.support.media_files import jpeg, mp4

API = "/facebook/v26.0"
CLIENT_ID = "herald-emulator-client"
CLIENT_SECRET = "herald-emulator-client-secret"
REDIRECT = "https://herald.example/callback"


@dataclass
class User:
    id: str
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with make_client() as c:
        yield c


@pytest.fixture
async def alice(client: httpx.AsyncClient) -> User:
    response = await client.post(
        "/_emulator/accounts", json={"platform": "facebook", "username": "alice"}
    )
    assert response.status_code == 200, response.text
    return User(response.json()["id"], response.json()["token"])


def graph_error(response: httpx.Response) -> dict[str, Any]:
    error: dict[str, Any] = response.json()["error"]
    assert {"message", "type", "code", "fbtrace_id"} <= set(error)
    return error


async def feed_post(client: httpx.AsyncClient, user: User, **data: str) -> str:
    response = await client.post(f"{API}/{user.id}/feed", data=data, headers=user.auth)
    assert response.status_code == 200, response.text
    post_id = str(response.json()["id"])
    assert post_id.startswith(f"{user.id}_")
    return post_id


async def test_me_accounts_hands_out_a_page_token_that_publishes(
    client: httpx.AsyncClient, alice: User
) -> None:
    me = await client.get(f"{API}/me", headers=alice.auth)
    assert me.json() == {"id": alice.id, "name": "alice"}
    pages = (await client.get(f"{API}/me/accounts", headers=alice.auth)).json()["data"]
    assert [p["id"] for p in pages] == [alice.id]
    page = User(alice.id, pages[0]["access_token"])
    assert page.token != alice.token
    post_id = await feed_post(client, page, message="as the Page", link="https://example.org")
    read = await client.get(f"{API}/{post_id}", headers=page.auth)
    assert read.json()["message"] == "as the Page"
    assert read.json()["permalink_url"].startswith("https://www.facebook.com/")
    described = await client.get(
        f"{API}/{alice.id}", params={"fields": "id,name,picture"}, headers=page.auth
    )
    assert described.json()["name"] == "alice"
    assert "url" in described.json()["picture"]["data"]


async def test_token_refusals_are_code_190(client: httpx.AsyncClient, alice: User) -> None:
    refused = await client.post(
        f"{API}/{alice.id}/feed", data={"message": "hi"}, headers={"Authorization": "Bearer nope"}
    )
    assert refused.status_code == 400
    assert graph_error(refused)["code"] == 190
    assert "invalid_token" in refused.headers["www-authenticate"]
    missing = await client.get(f"{API}/me")
    assert graph_error(missing)["code"] == 2500


async def test_someone_elses_page_is_not_found(client: httpx.AsyncClient, alice: User) -> None:
    other = await client.post(
        "/_emulator/accounts", json={"platform": "facebook", "username": "bob"}
    )
    refused = await client.post(
        f"{API}/{other.json()['id']}/feed", data={"message": "hi"}, headers=alice.auth
    )
    error = graph_error(refused)
    assert (error["code"], error["error_subcode"]) == (100, 33)


async def test_empty_and_duplicate_posts_are_refused(
    client: httpx.AsyncClient, alice: User
) -> None:
    empty = await client.post(f"{API}/{alice.id}/feed", data={}, headers=alice.auth)
    assert graph_error(empty)["code"] == 100
    await feed_post(client, alice, message="once")
    again = await client.post(
        f"{API}/{alice.id}/feed", data={"message": "once"}, headers=alice.auth
    )
    assert graph_error(again)["code"] == 506


async def test_photo_posts_single_and_multi(client: httpx.AsyncClient, alice: User) -> None:
    files = {"source": ("a.jpg", jpeg(), "image/jpeg")}
    single = await client.post(
        f"{API}/{alice.id}/photos", data={"message": "one"}, files=files, headers=alice.auth
    )
    assert single.status_code == 200, single.text
    assert single.json()["post_id"].startswith(f"{alice.id}_")
    fbids = []
    for _ in range(2):
        unpublished = await client.post(
            f"{API}/{alice.id}/photos", data={"published": "false"}, files=files, headers=alice.auth
        )
        assert "post_id" not in unpublished.json()
        fbids.append(unpublished.json()["id"])
    attached = {f"attached_media[{i}]": json.dumps({"media_fbid": f}) for i, f in enumerate(fbids)}
    post_id = await feed_post(client, alice, message="two", **attached)
    posts = (await client.get("/_emulator/posts", params={"platform": "facebook"})).json()
    mine = next(p for p in posts["data"] if p["id"] == post_id)
    assert len(mine["media"]) == 2
    reused = await client.post(
        f"{API}/{alice.id}/feed",
        data={"message": "again", "attached_media[0]": json.dumps({"media_fbid": fbids[0]})},
        headers=alice.auth,
    )
    assert graph_error(reused)["code"] == 100
    not_an_image = await client.post(
        f"{API}/{alice.id}/photos",
        files={"source": ("x.txt", b"plain text", "text/plain")},
        headers=alice.auth,
    )
    assert graph_error(not_an_image)["code"] == 324


async def test_video_comment_delete_and_feed_paging(client: httpx.AsyncClient, alice: User) -> None:
    video = await client.post(
        f"{API}/{alice.id}/videos",
        data={"description": "a clip"},
        files={"source": ("c.mp4", mp4(0.5), "video/mp4")},
        headers=alice.auth,
    )
    assert video.status_code == 200, video.text
    video_id = video.json()["id"]
    comment = await client.post(
        f"{API}/{video_id}/comments", data={"message": "first!"}, headers=alice.auth
    )
    assert comment.status_code == 200, comment.text
    comments = await client.get(f"{API}/{video_id}/comments", headers=alice.auth)
    assert [c["message"] for c in comments.json()["data"]] == ["first!"]
    ids = [await feed_post(client, alice, message=f"post {i}") for i in range(3)]
    first = await client.get(f"{API}/{alice.id}/posts", params={"limit": 2}, headers=alice.auth)
    page = first.json()
    assert [p["id"] for p in page["data"]] == [ids[2], ids[1]]
    assert "next" in page["paging"]
    rest = await client.get(
        f"{API}/{alice.id}/posts",
        params={"limit": 2, "after": page["paging"]["cursors"]["after"]},
        headers=alice.auth,
    )
    assert [p["message"] for p in rest.json()["data"]] == ["post 0", "a clip"]
    assert "next" not in rest.json()["paging"]
    deleted = await client.delete(f"{API}/{ids[2]}", headers=alice.auth)
    assert deleted.json() == {"success": True}
    gone = await client.delete(f"{API}/{ids[2]}", headers=alice.auth)
    assert graph_error(gone)["error_subcode"] == 33
    assert (await client.delete(f"{API}/{video_id}", headers=alice.auth)).status_code == 200


async def test_faults_speak_graph_with_usage_headers(
    client: httpx.AsyncClient, alice: User
) -> None:
    await client.post(
        "/_emulator/faults",
        json={"platform": "facebook", "status": 429, "retry_after": 120, "count": 1},
    )
    limited = await client.get(f"{API}/me", headers=alice.auth)
    assert limited.status_code == 429
    assert graph_error(limited)["code"] == 4
    usage = json.loads(limited.headers["x-business-use-case-usage"])
    assert usage["0"][0]["estimated_time_to_regain_access"] == 2
    assert "call_count" in json.loads(limited.headers["x-app-usage"])
    await client.post("/_emulator/faults", json={"platform": "facebook", "status": 503, "count": 1})
    unavailable = await client.get(f"{API}/me", headers=alice.auth)
    assert graph_error(unavailable)["code"] == 2


def _code(response: httpx.Response) -> tuple[str, str]:
    assert response.status_code == 302, response.text
    query = parse_qs(urlsplit(response.headers["location"]).query)
    return query["code"][0], query["state"][0]


async def test_login_code_short_then_long_lived_token(client: httpx.AsyncClient) -> None:
    dialog = await client.get(
        f"{API}/dialog/oauth",
        params={"client_id": CLIENT_ID, "redirect_uri": REDIRECT, "state": "s1", "scope": "x"},
    )
    code, state = _code(dialog)
    assert state == "s1"
    exchange = {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "redirect_uri": REDIRECT,
        "code": code,
    }
    short = await client.get(f"{API}/oauth/access_token", params=exchange)
    assert short.status_code == 200, short.text
    assert short.json()["token_type"] == "bearer"
    replayed = await client.get(f"{API}/oauth/access_token", params=exchange)
    assert graph_error(replayed)["code"] == 100
    long = await client.get(
        f"{API}/oauth/access_token",
        params={
            "grant_type": "fb_exchange_token",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "fb_exchange_token": short.json()["access_token"],
        },
    )
    assert long.status_code == 200, long.text
    assert long.json()["expires_in"] > short.json()["expires_in"]
    me = await client.get(
        f"{API}/me", headers={"Authorization": f"Bearer {long.json()['access_token']}"}
    )
    assert me.json()["name"] == "Herald Sandbox (Facebook)"
    bad_secret = await client.get(
        f"{API}/oauth/access_token",
        params={**exchange, "client_secret": "wrong", "code": "x"},
    )
    assert graph_error(bad_secret)["code"] == 1


async def test_wrong_redirect_uri_is_refused(client: httpx.AsyncClient) -> None:
    code, _ = _code(
        await client.get(
            f"{API}/dialog/oauth",
            params={"client_id": CLIENT_ID, "redirect_uri": REDIRECT, "state": "s"},
        )
    )
    refused = await client.get(
        f"{API}/oauth/access_token",
        params={
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "redirect_uri": "https://elsewhere.example/cb",
            "code": code,
        },
    )
    assert graph_error(refused)["code"] == 100
