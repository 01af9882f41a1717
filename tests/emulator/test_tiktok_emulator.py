"""The emulated TikTok API directly: creator info, direct and inbox video uploads in chunks,
photo posts pulled over real HTTP, status, the Display API, Login Kit OAuth, errors and limits."""

from __future__ import annotations

import asyncio
import base64
import hashlib
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import FastAPI, Response

from emulator.oauth import CLIENT_ID, CLIENT_SECRET
from tests.emulator.clients import make_client
from tests.support.media_files import jpeg, mp4
from tests.support.servers import free_port, serve_in_thread

TOKEN = "emulator-tiktok-sandbox-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
MB = 1024 * 1024
DIRECT = "/tiktok/v2/post/publish/video/init/"
INBOX = "/tiktok/v2/post/publish/inbox/video/init/"
STATUS = "/tiktok/v2/post/publish/status/fetch/"


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(processing_s=0.2) as http:
        yield http


@pytest.fixture(scope="module")
def files_url() -> Iterator[str]:
    """A real HTTP server with two JPEGs and an MP4, for PULL_FROM_URL."""
    app = FastAPI()
    blobs = {"a.jpg": jpeg(), "b.jpg": jpeg(80, 60), "v.mp4": mp4(1.0)}

    @app.get("/files/{name}")
    async def serve(name: str) -> Response:
        if name not in blobs:
            return Response(status_code=404)
        return Response(blobs[name], media_type="application/octet-stream")

    with serve_in_thread(app, free_port()) as url:
        yield url


def _post_info(**extra: Any) -> dict[str, Any]:
    return {"title": "Hello #tiktok", "privacy_level": "PUBLIC_TO_EVERYONE", **extra}


def _file_source(size: int, chunk: int | None = None) -> dict[str, Any]:
    chunk = chunk or size
    return {
        "source": "FILE_UPLOAD",
        "video_size": size,
        "chunk_size": chunk,
        "total_chunk_count": size // chunk,
    }


async def _status(client: httpx.AsyncClient, publish_id: str) -> dict[str, Any]:
    answer = await client.post(STATUS, json={"publish_id": publish_id}, headers=AUTH)
    assert answer.status_code == 200, answer.text
    assert answer.json()["error"]["code"] == "ok"
    data: dict[str, Any] = answer.json()["data"]
    return data


async def _wait(client: httpx.AsyncClient, publish_id: str) -> dict[str, Any]:
    for _ in range(100):
        data = await _status(client, publish_id)
        if data["status"] in ("PUBLISH_COMPLETE", "SEND_TO_USER_INBOX", "FAILED"):
            return data
        await asyncio.sleep(0.05)
    raise AssertionError(f"{publish_id} never finished")


async def _put(
    client: httpx.AsyncClient, url: str, data: bytes, first: int, total: int
) -> httpx.Response:
    parts = urlsplit(url)
    return await client.put(
        f"{parts.path}?{parts.query}",
        content=data,
        headers={
            "Content-Type": "video/mp4",
            "Content-Range": f"bytes {first}-{first + len(data) - 1}/{total}",
        },
    )


async def test_creator_info_lists_the_privacy_options(client: httpx.AsyncClient) -> None:
    answer = await client.post("/tiktok/v2/post/publish/creator_info/query/", headers=AUTH)
    assert answer.status_code == 200
    body = answer.json()
    assert body["error"]["code"] == "ok" and body["error"]["log_id"]
    data = body["data"]
    assert data["creator_username"] == "herald_sandbox"
    assert data["privacy_level_options"] == [
        "PUBLIC_TO_EVERYONE",
        "MUTUAL_FOLLOW_FRIENDS",
        "SELF_ONLY",
    ]
    assert data["max_video_post_duration_sec"] == 300
    assert data["comment_disabled"] is False


async def test_a_bad_token_is_access_token_invalid(client: httpx.AsyncClient) -> None:
    answer = await client.post(
        "/tiktok/v2/post/publish/creator_info/query/",
        headers={"Authorization": "Bearer nope"},
    )
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "access_token_invalid"
    assert (await client.get("/tiktok/v2/user/info/?fields=open_id")).status_code == 401


async def test_a_direct_post_uploads_in_one_chunk_and_is_published(
    client: httpx.AsyncClient,
) -> None:
    video = mp4(1.0)
    init = await client.post(
        DIRECT,
        json={"post_info": _post_info(disable_duet=True), "source_info": _file_source(len(video))},
        headers=AUTH,
    )
    assert init.status_code == 200, init.text
    data = init.json()["data"]
    assert data["publish_id"].startswith("v_pub_file~")
    assert (await _status(client, data["publish_id"]))["status"] == "PROCESSING_UPLOAD"

    put = await _put(client, data["upload_url"], video, 0, len(video))
    assert put.status_code == 201, put.text
    done = await _wait(client, data["publish_id"])
    assert done["status"] == "PUBLISH_COMPLETE"
    assert done["uploaded_bytes"] == len(video)
    [post_id] = done["publicaly_available_post_id"]

    posts = (await client.get("/_emulator/posts", params={"platform": "tiktok"})).json()["data"]
    [post] = posts
    assert post["id"] == str(post_id)
    assert post["text"] == "Hello #tiktok"
    assert post["media"][0]["sha256"] == hashlib.sha256(video).hexdigest()


async def test_a_post_appears_once_processed_even_if_nobody_asks(
    client: httpx.AsyncClient,
) -> None:
    video = mp4(1.0)
    init = await client.post(
        DIRECT,
        json={"post_info": _post_info(), "source_info": _file_source(len(video))},
        headers=AUTH,
    )
    data = init.json()["data"]
    assert (await _put(client, data["upload_url"], video, 0, len(video))).status_code == 201
    assert (await client.get("/_emulator/posts?platform=tiktok")).json()["data"] == []
    await asyncio.sleep(0.5)  # processing_s is 0.2 here
    assert len((await client.get("/_emulator/posts?platform=tiktok")).json()["data"]) == 1


async def test_chunks_follow_the_transfer_rules(client: httpx.AsyncClient) -> None:
    # 12 MB in 5 MB chunks: two chunks, the final one carrying the trailing 2 MB (7 MB).
    video = mp4(1.0)
    video = video + b"\x00" * (12 * MB - len(video))
    size = len(video)
    init = await client.post(
        DIRECT,
        json={"post_info": _post_info(), "source_info": _file_source(size, 5 * MB)},
        headers=AUTH,
    )
    assert init.status_code == 200, init.text
    url = init.json()["data"]["upload_url"]

    out_of_order = await _put(client, url, video[5 * MB :], 5 * MB, size)
    assert out_of_order.status_code == 416
    wrong_total = await _put(client, url, video[: 5 * MB], 0, size + 1)
    assert wrong_total.status_code == 400
    first = await _put(client, url, video[: 5 * MB], 0, size)
    assert first.status_code == 206
    last = await _put(client, url, video[5 * MB :], 5 * MB, size)
    assert last.status_code == 201
    assert (await _wait(client, init.json()["data"]["publish_id"]))["status"] == (
        "PUBLISH_COMPLETE"
    )


async def test_chunks_are_hashed_as_they_arrive_and_a_short_one_changes_nothing(
    client: httpx.AsyncClient,
) -> None:
    video = mp4(1.0)
    video = video + bytes(range(256)) * ((11 * MB - len(video)) // 256 + 1)
    size = len(video)
    init = await client.post(
        DIRECT,
        json={"post_info": _post_info(), "source_info": _file_source(size, 5 * MB)},
        headers=AUTH,
    )
    data = init.json()["data"]
    parts = urlsplit(data["upload_url"])
    # The range names the whole first chunk; the body (and its Content-Length) is a byte short.
    short = await client.put(
        f"{parts.path}?{parts.query}",
        content=video[: 5 * MB - 1],
        headers={"Content-Type": "video/mp4", "Content-Range": f"bytes 0-{5 * MB - 1}/{size}"},
    )
    assert short.status_code == 400
    assert "Content-Length" in short.json()["error"]["message"]
    assert (await _status(client, data["publish_id"]))["uploaded_bytes"] == 0
    assert (await _put(client, data["upload_url"], video[: 5 * MB], 0, size)).status_code == 206
    assert (await _status(client, data["publish_id"]))["uploaded_bytes"] == 5 * MB
    last = await _put(client, data["upload_url"], video[5 * MB :], 5 * MB, size)
    assert last.status_code == 201
    assert (await _wait(client, data["publish_id"]))["uploaded_bytes"] == size
    [post] = (await client.get("/_emulator/posts", params={"platform": "tiktok"})).json()["data"]
    [media] = post["media"]
    assert (media["size"], media["sha256"]) == (size, hashlib.sha256(video).hexdigest())
    assert media["mime_type"] == "video/mp4"
    # Only the size and the hash were kept, not the video.
    assert (await client.get(urlsplit(media["url"]).path)).status_code == 404


@pytest.mark.parametrize(
    ("size", "chunk", "count"),
    [
        (4 * MB, 2 * MB, 2),  # under 5 MB: one whole chunk
        (70 * MB, 70 * MB, 1),  # chunks above 64 MB
        (20 * MB, 5 * MB, 3),  # count must be size // chunk (4)
    ],
)
async def test_bad_chunk_plans_are_invalid_param(
    client: httpx.AsyncClient, size: int, chunk: int, count: int
) -> None:
    source = {
        "source": "FILE_UPLOAD",
        "video_size": size,
        "chunk_size": chunk,
        "total_chunk_count": count,
    }
    answer = await client.post(
        DIRECT, json={"post_info": _post_info(), "source_info": source}, headers=AUTH
    )
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "invalid_param"


async def test_privacy_level_must_be_one_of_the_creators_options(
    client: httpx.AsyncClient,
) -> None:
    answer = await client.post(
        DIRECT,
        json={
            "post_info": _post_info(privacy_level="FOLLOWER_OF_CREATOR"),
            "source_info": _file_source(1000),
        },
        headers=AUTH,
    )
    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "privacy_level_option_mismatch"
    branded_private = await client.post(
        DIRECT,
        json={
            "post_info": _post_info(privacy_level="SELF_ONLY", brand_content_toggle=True),
            "source_info": _file_source(1000),
        },
        headers=AUTH,
    )
    assert branded_private.status_code == 400
    too_long = await client.post(
        DIRECT,
        json={"post_info": _post_info(title="😀" * 1101), "source_info": _file_source(1000)},
        headers=AUTH,
    )
    assert too_long.status_code == 400  # 2202 UTF-16 runes


async def test_an_inbox_upload_ends_in_the_inbox_not_on_the_profile(
    client: httpx.AsyncClient,
) -> None:
    video = mp4(1.0)
    init = await client.post(INBOX, json={"source_info": _file_source(len(video))}, headers=AUTH)
    assert init.status_code == 200, init.text
    data = init.json()["data"]
    assert (await _put(client, data["upload_url"], video, 0, len(video))).status_code == 201
    done = await _wait(client, data["publish_id"])
    assert done["status"] == "SEND_TO_USER_INBOX"
    assert done["publicaly_available_post_id"] == []
    assert (await client.get("/_emulator/posts?platform=tiktok")).json()["data"] == []


async def test_not_a_video_fails_processing(client: httpx.AsyncClient) -> None:
    blob = b"this is not a video at all"
    init = await client.post(
        DIRECT,
        json={"post_info": _post_info(), "source_info": _file_source(len(blob))},
        headers=AUTH,
    )
    data = init.json()["data"]
    assert (await _put(client, data["upload_url"], blob, 0, len(blob))).status_code == 201
    done = await _wait(client, data["publish_id"])
    assert done == {
        "status": "FAILED",
        "fail_reason": "file_format_check_failed",
        "publicaly_available_post_id": [],
        "uploaded_bytes": len(blob),
    }


async def test_photos_are_pulled_over_http(client: httpx.AsyncClient, files_url: str) -> None:
    body: dict[str, Any] = {
        "media_type": "PHOTO",
        "post_mode": "DIRECT_POST",
        "post_info": {
            "title": "Two photos",
            "description": "A carousel #photo",
            "privacy_level": "PUBLIC_TO_EVERYONE",
            "disable_comment": True,
        },
        "source_info": {
            "source": "PULL_FROM_URL",
            "photo_images": [f"{files_url}/files/a.jpg", f"{files_url}/files/b.jpg"],
            "photo_cover_index": 1,
        },
    }
    init = await client.post("/tiktok/v2/post/publish/content/init/", json=body, headers=AUTH)
    assert init.status_code == 200, init.text
    done = await _wait(client, init.json()["data"]["publish_id"])
    assert done["status"] == "PUBLISH_COMPLETE"
    [post] = (await client.get("/_emulator/posts?platform=tiktok")).json()["data"]
    assert post["text"] == "A carousel #photo"
    assert [m["sha256"] for m in post["media"]] == [
        hashlib.sha256(jpeg()).hexdigest(),
        hashlib.sha256(jpeg(80, 60)).hexdigest(),
    ]

    body["source_info"]["photo_images"] = [f"{files_url}/files/missing.jpg"]
    body["source_info"]["photo_cover_index"] = 0
    missing = await client.post("/tiktok/v2/post/publish/content/init/", json=body, headers=AUTH)
    failed = await _wait(client, missing.json()["data"]["publish_id"])
    assert (failed["status"], failed["fail_reason"]) == ("FAILED", "photo_pull_failed")

    body["source_info"]["photo_images"] = [f"{files_url}/files/a.jpg"] * 36
    too_many = await client.post("/tiktok/v2/post/publish/content/init/", json=body, headers=AUTH)
    assert too_many.status_code == 400


async def test_a_video_can_be_pulled_from_a_url(client: httpx.AsyncClient, files_url: str) -> None:
    init = await client.post(
        DIRECT,
        json={
            "post_info": _post_info(privacy_level="SELF_ONLY"),
            "source_info": {"source": "PULL_FROM_URL", "video_url": f"{files_url}/files/v.mp4"},
        },
        headers=AUTH,
    )
    assert init.status_code == 200, init.text
    assert "upload_url" not in init.json()["data"]
    done = await _wait(client, init.json()["data"]["publish_id"])
    assert done["status"] == "PUBLISH_COMPLETE"
    assert done["publicaly_available_post_id"] == []  # private posts have no public id


async def test_init_is_limited_to_six_per_minute(client: httpx.AsyncClient) -> None:
    body = {"post_info": _post_info(), "source_info": _file_source(1000)}
    for _ in range(6):
        assert (await client.post(DIRECT, json=body, headers=AUTH)).status_code == 200
    limited = await client.post(DIRECT, json=body, headers=AUTH)
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "rate_limit_exceeded"
    # Another endpoint has its own budget.
    assert (await client.post(INBOX, json=body, headers=AUTH)).status_code == 200
    await client.post("/_emulator/clock", json={"seconds": 61})
    assert (await client.post(DIRECT, json=body, headers=AUTH)).status_code == 200


async def test_the_daily_post_cap_is_spam_risk(client: httpx.AsyncClient) -> None:
    body = {"post_info": _post_info(), "source_info": _file_source(1000)}
    for _ in range(15):
        assert (await client.post(DIRECT, json=body, headers=AUTH)).status_code == 200
        await client.post("/_emulator/clock", json={"seconds": 30})
    capped = await client.post(DIRECT, json=body, headers=AUTH)
    assert capped.status_code == 403
    assert capped.json()["error"]["code"] == "spam_risk_too_many_posts"


async def test_faults_answer_in_tiktoks_shape(client: httpx.AsyncClient) -> None:
    fault = {"platform": "tiktok", "status": 429, "retry_after": 3, "path": "/video/init/"}
    assert (await client.post("/_emulator/faults", json=fault)).status_code == 200
    answer = await client.post(DIRECT, json={}, headers=AUTH)
    assert answer.status_code == 429
    assert answer.headers["retry-after"] == "3"
    assert answer.json()["error"]["code"] == "rate_limit_exceeded"
    assert answer.json()["error"]["log_id"]


async def test_user_info_and_video_list(client: httpx.AsyncClient) -> None:
    me = await client.get(
        "/tiktok/v2/user/info/?fields=open_id,union_id,avatar_url,display_name,username",
        headers=AUTH,
    )
    assert me.status_code == 200, me.text
    user = me.json()["data"]["user"]
    assert set(user) == {"open_id", "union_id", "avatar_url", "display_name", "username"}
    assert user["username"] == "herald_sandbox"
    bad = await client.get("/tiktok/v2/user/info/?fields=open_id,password", headers=AUTH)
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "invalid_params"

    video = mp4(1.0)
    for title in ("first", "second"):
        init = await client.post(
            DIRECT,
            json={"post_info": _post_info(title=title), "source_info": _file_source(len(video))},
            headers=AUTH,
        )
        data = init.json()["data"]
        await _put(client, data["upload_url"], video, 0, len(video))
        await _wait(client, data["publish_id"])
    listed = await client.post(
        "/tiktok/v2/video/list/?fields=id,video_description,create_time,share_url",
        json={"max_count": 1},
        headers=AUTH,
    )
    page = listed.json()["data"]
    assert [v["video_description"] for v in page["videos"]] == ["second"]
    assert page["has_more"] is True
    older = await client.post(
        "/tiktok/v2/video/list/?fields=id,video_description",
        json={"max_count": 20, "cursor": page["cursor"]},
        headers=AUTH,
    )
    assert [v["video_description"] for v in older.json()["data"]["videos"]] == ["first"]
    newest_id = page["videos"][0]["id"]
    queried = await client.post(
        "/tiktok/v2/video/query/?fields=id,like_count,view_count",
        json={"filters": {"video_ids": [newest_id, "123"]}},
        headers=AUTH,
    )
    assert queried.json()["data"]["videos"] == [{"id": newest_id, "like_count": 0, "view_count": 0}]


def _challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


async def _authorize(client: httpx.AsyncClient, verifier: str) -> str:
    answer = await client.get(
        "/tiktok/v2/auth/authorize/",
        params={
            "client_key": CLIENT_ID,
            "scope": "user.info.basic,video.publish",
            "redirect_uri": "https://herald.example/callback",
            "state": "s1",
            "response_type": "code",
            "code_challenge": _challenge(verifier),
            "code_challenge_method": "S256",
        },
    )
    assert answer.status_code == 302
    query = parse_qs(urlsplit(answer.headers["location"]).query)
    assert query["state"] == ["s1"]
    assert query["scopes"] == ["user.info.basic,video.publish"]
    return query["code"][0]


def _token_form(code: str, verifier: str) -> dict[str, str]:
    return {
        "client_key": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "code": code,
        "grant_type": "authorization_code",
        "redirect_uri": "https://herald.example/callback",
        "code_verifier": verifier,
    }


async def test_login_kit_authorize_token_refresh(client: httpx.AsyncClient) -> None:
    verifier = "v" * 50
    code = await _authorize(client, verifier)
    token = await client.post("/tiktok/v2/oauth/token/", data=_token_form(code, verifier))
    assert token.status_code == 200, token.text
    grant = token.json()
    assert grant["expires_in"] == 86400
    assert grant["scope"] == "user.info.basic,video.publish"
    assert grant["token_type"] == "Bearer"
    me = await client.get(
        "/tiktok/v2/user/info/?fields=open_id",
        headers={"Authorization": f"Bearer {grant['access_token']}"},
    )
    assert me.json()["data"]["user"]["open_id"] == grant["open_id"]

    replay = await client.post("/tiktok/v2/oauth/token/", data=_token_form(code, verifier))
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"
    assert replay.json()["log_id"]

    refreshed = await client.post(
        "/tiktok/v2/oauth/token/",
        data={
            "client_key": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "grant_type": "refresh_token",
            "refresh_token": grant["refresh_token"],
        },
    )
    assert refreshed.status_code == 200
    assert refreshed.json()["refresh_token"] != grant["refresh_token"]
    again = await client.post(
        "/tiktok/v2/oauth/token/",
        data={
            "client_key": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "grant_type": "refresh_token",
            "refresh_token": grant["refresh_token"],
        },
    )
    assert again.json()["error"] == "invalid_grant"  # refresh tokens rotate


async def test_a_wrong_code_verifier_or_client_is_refused(client: httpx.AsyncClient) -> None:
    code = await _authorize(client, "right" * 10)
    wrong = await client.post("/tiktok/v2/oauth/token/", data=_token_form(code, "wrong" * 10))
    assert wrong.status_code == 400
    assert wrong.json()["error"] == "invalid_grant"
    code = await _authorize(client, "right" * 10)
    form = {**_token_form(code, "right" * 10), "client_secret": "guess"}
    bad_client = await client.post("/tiktok/v2/oauth/token/", data=form)
    assert bad_client.status_code == 401
    assert bad_client.json()["error"] == "invalid_client"


async def test_authorize_refusals(client: httpx.AsyncClient) -> None:
    params = {
        "client_key": CLIENT_ID,
        "scope": "user.info.basic",
        "redirect_uri": "https://herald.example/callback",
        "state": "s2",
        "response_type": "token",
    }
    wrong_type = await client.get("/tiktok/v2/auth/authorize/", params=params)
    assert wrong_type.status_code == 302
    back = parse_qs(urlsplit(wrong_type.headers["location"]).query)
    assert back["error"] == ["unsupported_response_type"]
    assert back["state"] == ["s2"]
    unknown = await client.get(
        "/tiktok/v2/auth/authorize/", params={**params, "client_key": "someone-else"}
    )
    assert unknown.status_code == 401
    assert unknown.json()["error"] == "invalid_client"
