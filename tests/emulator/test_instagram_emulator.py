"""The emulator's Instagram API (under /instagram), driven in-process over ASGI; media URLs are
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

from tests.emulator.clients import make_client
from tests.support.media_files import jpeg, mp4, png
from tests.support.servers import free_port, serve_in_thread

API = "/instagram/v26.0"
CLIENT_ID = "herald-emulator-client"
CLIENT_SECRET = "herald-emulator-client-secret"
FILES: dict[str, tuple[bytes, str]] = {
    "photo.jpg": (jpeg(), "image/jpeg"),
    "photo.png": (png(), "image/png"),
    "clip.mp4": (mp4(0.5), "video/mp4"),
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
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(processing_s=0.3) as c:
        yield c


@pytest.fixture
async def alice(client: httpx.AsyncClient) -> User:
    response = await client.post(
        "/_emulator/accounts", json={"platform": "instagram", "username": "alice"}
    )
    return User(response.json()["id"], response.json()["token"])


def graph_error(response: httpx.Response) -> dict[str, Any]:
    error: dict[str, Any] = response.json()["error"]
    assert {"message", "type", "code", "fbtrace_id"} <= set(error)
    return error


async def container(client: httpx.AsyncClient, user: User, **data: str) -> str:
    response = await client.post(f"{API}/{user.id}/media", data=data, headers=user.auth)
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


async def wait(client: httpx.AsyncClient, user: User, container_id: str) -> dict[str, Any]:
    for _ in range(100):
        answer = await client.get(
            f"{API}/{container_id}", params={"fields": "status_code"}, headers=user.auth
        )
        body: dict[str, Any] = answer.json()
        if body["status_code"] != "IN_PROGRESS":
            return body
        await asyncio.sleep(0.05)
    raise AssertionError("still IN_PROGRESS")


async def test_image_container_is_fetched_then_published_once(
    client: httpx.AsyncClient, alice: User, files_url: str
) -> None:
    made = await container(client, alice, image_url=f"{files_url}/photo.jpg", caption="hi #x")
    assert (await wait(client, alice, made))["status_code"] == "FINISHED"
    published = await client.post(
        f"{API}/{alice.id}/media_publish", data={"creation_id": made}, headers=alice.auth
    )
    assert published.status_code == 200, published.text
    media_id = published.json()["id"]
    again = await client.post(
        f"{API}/{alice.id}/media_publish", data={"creation_id": made}, headers=alice.auth
    )
    assert graph_error(again)["code"] == 9004
    listed = await client.get(f"{API}/{alice.id}/media", headers=alice.auth)
    assert [m["caption"] for m in listed.json()["data"]] == ["hi #x"]
    comment = await client.post(
        f"{API}/{media_id}/comments", data={"message": "first"}, headers=alice.auth
    )
    assert comment.status_code == 200, comment.text
    limit = await client.get(f"{API}/{alice.id}/content_publishing_limit", headers=alice.auth)
    assert limit.json()["data"][0] == {"quota_usage": 1, "config": {"quota_total": 100}}
    refused = await client.delete(f"{API}/{media_id}", headers=alice.auth)
    assert graph_error(refused)["code"] == 3


async def test_png_and_missing_files_end_in_error(
    client: httpx.AsyncClient, alice: User, files_url: str
) -> None:
    png_container = await container(client, alice, image_url=f"{files_url}/photo.png")
    assert (await wait(client, alice, png_container))["status_code"] == "ERROR"
    gone = await container(client, alice, image_url=f"{files_url}/nothing.jpg")
    assert (await wait(client, alice, gone))["status_code"] == "ERROR"
    early = await client.post(
        f"{API}/{alice.id}/media_publish", data={"creation_id": gone}, headers=alice.auth
    )
    assert graph_error(early)["code"] == 9007


async def test_carousel_and_reel(client: httpx.AsyncClient, alice: User, files_url: str) -> None:
    children = [
        await container(client, alice, image_url=f"{files_url}/photo.jpg", is_carousel_item="true"),
        await container(
            client,
            alice,
            video_url=f"{files_url}/clip.mp4",
            media_type="VIDEO",
            is_carousel_item="true",
        ),
    ]
    album = await container(
        client, alice, media_type="CAROUSEL", children=",".join(children), caption="album"
    )
    assert (await wait(client, alice, album))["status_code"] == "FINISHED"
    reel = await container(
        client, alice, video_url=f"{files_url}/clip.mp4", media_type="REELS", caption="reel"
    )
    assert (await wait(client, alice, reel))["status_code"] == "FINISHED"
    for creation in (album, reel):
        answer = await client.post(
            f"{API}/{alice.id}/media_publish", data={"creation_id": creation}, headers=alice.auth
        )
        assert answer.status_code == 200, answer.text
    listed = (await client.get(f"{API}/{alice.id}/media", headers=alice.auth)).json()["data"]
    assert [m["media_type"] for m in listed] == ["VIDEO", "CAROUSEL_ALBUM"]
    one_child = await client.post(
        f"{API}/{alice.id}/media",
        data={"media_type": "CAROUSEL", "children": children[0]},
        headers=alice.auth,
    )
    assert graph_error(one_child)["code"] == 100


async def test_bad_token_and_faults(client: httpx.AsyncClient, alice: User) -> None:
    refused = await client.get(f"{API}/me", headers={"Authorization": "Bearer nope"})
    assert graph_error(refused)["code"] == 190
    me = await client.get(f"{API}/me", params={"fields": "user_id,username"}, headers=alice.auth)
    assert me.json()["user_id"] == alice.id
    await client.post("/_emulator/faults", json={"platform": "instagram", "status": 429})
    limited = await client.get(f"{API}/me", headers=alice.auth)
    assert graph_error(limited)["code"] == 4


async def test_oauth_short_long_and_refresh(client: httpx.AsyncClient) -> None:
    window = await client.get(
        "/instagram/oauth/authorize",
        params={
            "client_id": CLIENT_ID,
            "redirect_uri": "https://herald.example/cb",
            "response_type": "code",
            "scope": "instagram_business_basic",
            "state": "s",
        },
    )
    assert window.status_code == 302
    query = parse_qs(urlsplit(window.headers["location"]).query)
    exchange = {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "grant_type": "authorization_code",
        "redirect_uri": "https://herald.example/cb",
        "code": query["code"][0],
    }
    short = await client.post("/instagram/oauth/access_token", data=exchange)
    assert short.status_code == 200, short.text
    replay = await client.post("/instagram/oauth/access_token", data=exchange)
    assert graph_error(replay)["code"] == 100
    long = await client.get(
        "/instagram/access_token",
        params={
            "grant_type": "ig_exchange_token",
            "client_secret": CLIENT_SECRET,
            "access_token": short.json()["access_token"],
        },
    )
    assert long.json()["expires_in"] == 60 * 86400
    renewed = await client.get(
        "/instagram/refresh_access_token",
        params={"grant_type": "ig_refresh_token", "access_token": long.json()["access_token"]},
    )
    assert renewed.status_code == 200, renewed.text
    wrong_secret = await client.get(
        "/instagram/access_token",
        params={"grant_type": "ig_exchange_token", "client_secret": "x", "access_token": "y"},
    )
    assert graph_error(wrong_secret)["code"] == 101
