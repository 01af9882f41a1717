"""The rest of the media API (#19), end to end on both databases: bulk video upload URLs,
registering a file at a public URL, validation, and multipart uploads."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.test_media import MediaClient
from tests.support.media_files import mp4, png
from tests.support.stack import Stack, Tenant

CLIP = mp4(seconds=1.0)


@pytest.fixture(scope="module")
def files(file_server_port: int) -> Iterator[str]:
    """Files at public-looking URLs (the suite's file server host, allowed for imports)."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import RedirectResponse, Response
    from starlette.routing import Route

    from tests.support.servers import serve_in_thread

    async def picture(_: Request) -> Response:
        return Response(png(30, 20), media_type="image/png")

    async def clip(_: Request) -> Response:
        return Response(CLIP, media_type="video/mp4")

    async def text(_: Request) -> Response:
        return Response(b"not a picture at all", media_type="image/png")

    async def slow(_: Request) -> Response:
        await asyncio.sleep(2)
        return Response(png(8, 8), media_type="image/png")

    async def sneaky(_: Request) -> Response:
        return RedirectResponse("http://127.0.0.1:9/secret")

    routes = [
        Route("/pic.png", picture),
        Route("/clip.mp4", clip),
        Route("/fake.png", text),
        Route("/slow.png", slow),
        Route("/sneaky", sneaky),
    ]
    with serve_in_thread(Starlette(routes=routes), file_server_port):
        yield f"http://localhost:{file_server_port}"


@contextlib.contextmanager
def register_wait(stack: Stack, seconds: float) -> Iterator[None]:
    original = stack.resources.settings
    stack.resources.settings = original.model_copy(update={"media_register_wait_s": seconds})
    try:
        yield
    finally:
        stack.resources.settings = original


async def wait_for_media(stack: Stack, tenant: Tenant, media_id: str) -> dict[str, Any]:
    for _ in range(150):
        media: dict[str, Any] = (
            await stack.api.get(f"/v1/media/{media_id}", headers=tenant.headers)
        ).json()
        if media["status"] != "pending":
            return media
        await asyncio.sleep(0.1)
    raise AssertionError(f"media {media_id} stayed pending for 15 s")


def _file(tenant: Tenant, filename: str, mime: str, size: int) -> dict[str, Any]:
    return {"brand_id": str(tenant.brand_id), "filename": filename, "mime_type": mime, "size": size}


async def test_bulk_video_upload_urls_start_one_upload_per_video(stack: Stack) -> None:
    tenant = await stack.new_tenant()
    clip = mp4(seconds=1.0)
    files = [
        _file(tenant, "clip.mp4", "video/mp4", len(clip)),
        _file(tenant, "pic.png", "image/png", len(png())),
        _file(tenant, "huge.mp4", "video/mp4", 5 * 1024**3),
        {"filename": "no-brand.mp4", "mime_type": "video/mp4", "size": 10},
    ]
    response = await stack.api.post(
        "/v1/media/bulk-video-upload-urls", json={"files": files}, headers=tenant.headers
    )
    assert response.status_code == 207, response.text
    results = response.json()["results"]
    assert [r["status"] for r in results] == [201, 400, 413, 400]
    assert results[1]["error"]["path"] == "mime_type"
    assert results[3]["error"]["path"] == "brand_id"

    upload = results[0]["upload"]
    assert upload["method"] == "PUT"
    assert (await MediaClient(stack.api, tenant, None).put(upload, clip)).status_code == 200
    done = await stack.api.post(f"/v1/media/{upload['media_id']}/complete", headers=tenant.headers)
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "ready" and done.json()["mime_type"] == "video/mp4"

    listed = (await stack.api.get("/v1/media", headers=tenant.headers)).json()["data"]
    assert [m["id"] for m in listed] == [upload["media_id"]]  # refused files left no rows

    empty = await stack.api.post(
        "/v1/media/bulk-video-upload-urls", json={"files": []}, headers=tenant.headers
    )
    assert empty.status_code == 400 and empty.json()["error"]["code"] == "VALIDATION_ERROR"


async def test_register_answers_with_the_media_once_fetched_and_checked(
    stack: Stack, files: str
) -> None:
    tenant = await stack.new_tenant()
    register = {"brand_id": str(tenant.brand_id), "url": f"{files}/clip.mp4"}
    video = await stack.api.post("/v1/media/register", json=register, headers=tenant.headers)
    assert video.status_code == 201, video.text
    assert video.json()["status"] == "ready" and video.json()["mime_type"] == "video/mp4"
    assert video.json()["filename"] == "clip.mp4" and video.json()["size"] == len(CLIP)
    assert video.json()["url"]

    # The bytes decide, as for an import: a "PNG" that is text fails, with the reason.
    fake = await stack.api.post(
        "/v1/media/register", json={**register, "url": f"{files}/fake.png"}, headers=tenant.headers
    )
    assert fake.status_code == 201, fake.text
    assert fake.json()["status"] == "failed" and "neither" in fake.json()["failure_reason"]

    # A redirect to an internal address is refused by the same guard as imports.
    sneaky = await stack.api.post(
        "/v1/media/register", json={**register, "url": f"{files}/sneaky"}, headers=tenant.headers
    )
    assert sneaky.json()["status"] == "failed"
    assert "internal address" in sneaky.json()["failure_reason"]

    with register_wait(stack, 0.3):
        slow = await stack.api.post(
            "/v1/media/register",
            json={**register, "url": f"{files}/slow.png"},
            headers=tenant.headers,
        )
    assert slow.status_code == 202, slow.text
    assert slow.json()["status"] == "pending"
    settled = await wait_for_media(stack, tenant, slow.json()["id"])
    assert settled["status"] == "ready" and (settled["width"], settled["height"]) == (8, 8)


@pytest.mark.parametrize(
    "body",
    [
        {"url": "http://169.254.169.254/latest"},
        {"url": "http://10.1.2.3/a.png"},
        {"url": "ftp://example.com/a.png"},
        {"url": "not a url"},
        {"url": "https://example.com/a.png", "unknown": 1},
        {"url": "https://example.com/a.png", "brand_id": "00000000-0000-0000-0000-000000000000"},
    ],
)
async def test_register_refuses_bad_input_before_storing_anything(
    stack: Stack, body: dict[str, Any]
) -> None:
    tenant = await stack.new_tenant()
    response = await stack.api.post(
        "/v1/media/register",
        json={"brand_id": str(tenant.brand_id), **body},
        headers=tenant.headers,
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    listed = (await stack.api.get("/v1/media", headers=tenant.headers)).json()["data"]
    assert listed == []


async def _validated(stack: Stack, tenant: Tenant, answer: dict[str, Any]) -> dict[str, Any]:
    for _ in range(150):
        polled = await stack.api.get(
            f"/v1/media/validations/{answer['id']}", headers=tenant.headers
        )
        assert polled.status_code == 200, polled.text
        if polled.json()["status"] == "completed":
            result: dict[str, Any] = polled.json()
            return result
        await asyncio.sleep(0.1)
    raise AssertionError(f"validation {answer['id']} stayed pending for 15 s")


async def test_validation_checks_the_stored_bytes_again_for_each_platform(stack: Stack) -> None:
    tenant = await stack.new_tenant()
    client = MediaClient(stack.api, tenant, None)
    picture = await client.upload("pic.png", "image/png", png(120, 80))
    video = await client.upload("clip.mp4", "video/mp4", CLIP)
    broken = await client.upload("notes.png", "image/png", b"just text")
    assert broken["status"] == "failed"

    one = await stack.api.post(f"/v1/media/{picture['id']}/validate", headers=tenant.headers)
    assert one.status_code == 202, one.text
    assert one.json()["status"] == "pending" and one.json()["results"] == []
    assert one.headers["location"] == f"/v1/media/validations/{one.json()['id']}"
    done = await _validated(stack, tenant, one.json())
    [verdict] = done["results"]
    assert verdict["media_id"] == picture["id"] and verdict["problem"] is None
    assert verdict["platforms"]["mastodon"] == {"ok": True, "problems": []}
    assert verdict["platforms"]["instagram"]["ok"] is False  # JPEG only there
    assert done["completed_at"] is not None

    # The bytes change behind Herald's back (a bucket edited by hand): the next validation
    # judges what is stored now, and the media's suitability follows.
    from herald.storage.local import LocalStorage

    storage = stack.resources.storage
    assert isinstance(storage, LocalStorage)
    storage.path_of(f"{tenant.workspace_id}/{picture['id']}").write_bytes(png(400, 100))
    ids = [picture["id"], video["id"], broken["id"], picture["id"]]
    bulk = await stack.api.post(
        "/v1/media/bulk-validate", json={"media_ids": ids}, headers=tenant.headers
    )
    assert bulk.status_code == 202, bulk.text
    assert bulk.json()["media_ids"] == ids[:3]  # each file once
    results = {r["media_id"]: r for r in (await _validated(stack, tenant, bulk.json()))["results"]}
    assert "aspect ratio 4.00" in " ".join(
        results[picture["id"]]["platforms"]["instagram"]["problems"]
    )
    assert results[video["id"]]["platforms"]["tiktok"]["ok"] is False  # under 3 s
    assert results[video["id"]]["platforms"]["mastodon"]["ok"] is True
    assert results[broken["id"]]["platforms"] == {}
    assert results[broken["id"]]["problem"] == "the media is failed, not ready"
    media = (await stack.api.get(f"/v1/media/{picture['id']}", headers=tenant.headers)).json()
    assert media["suitability"] == results[picture["id"]]["platforms"]

    # Deleted bytes are named, not a crash of the workflow.
    storage.path_of(f"{tenant.workspace_id}/{video['id']}").unlink()
    gone = await stack.api.post(f"/v1/media/{video['id']}/validate", headers=tenant.headers)
    [lost] = (await _validated(stack, tenant, gone.json()))["results"]
    assert lost["problem"] == "its stored bytes cannot be used: the stored file is gone"


async def test_validation_requests_are_scoped_and_checked(stack: Stack) -> None:
    tenant = await stack.new_tenant()
    other = await stack.new_tenant()
    picture = await MediaClient(stack.api, tenant, None).upload("pic.png", "image/png", png())
    import uuid

    unknown = str(uuid.uuid4())
    missing = await stack.api.post(f"/v1/media/{unknown}/validate", headers=tenant.headers)
    assert missing.status_code == 404
    foreign = await stack.api.post(f"/v1/media/{picture['id']}/validate", headers=other.headers)
    assert foreign.status_code == 404
    bulk = await stack.api.post(
        "/v1/media/bulk-validate",
        json={"media_ids": [picture["id"], unknown]},
        headers=tenant.headers,
    )
    assert bulk.status_code == 400
    assert bulk.json()["error"]["details"][0]["path"] == "media_ids.1"
    for bad in ({"media_ids": []}, {"media_ids": ["nope"]}, {}):
        refused = await stack.api.post("/v1/media/bulk-validate", json=bad, headers=tenant.headers)
        assert refused.status_code == 400, refused.text
    mine = await stack.api.post(f"/v1/media/{picture['id']}/validate", headers=tenant.headers)
    await _validated(stack, tenant, mine.json())
    peek = await stack.api.get(f"/v1/media/validations/{mine.json()['id']}", headers=other.headers)
    assert peek.status_code == 404


async def _form_upload(
    stack: Stack, tenant: Tenant, name: str, data: bytes, mime: str, brand: str | None = None
) -> Any:
    return await stack.api.post(
        "/v1/media",
        data={"brand_id": brand or str(tenant.brand_id)},
        files={"file": (name, data, mime)},
        headers=tenant.headers,
    )


async def test_multipart_upload_of_a_small_file(stack: Stack) -> None:
    tenant = await stack.new_tenant()
    picture = png(50, 40)
    uploaded = await _form_upload(stack, tenant, "pic.png", picture, "image/png")
    assert uploaded.status_code == 201, uploaded.text
    media = uploaded.json()
    assert media["status"] == "ready" and (media["width"], media["height"]) == (50, 40)
    assert media["filename"] == "pic.png" and media["size"] == len(picture)
    assert media["suitability"]["mastodon"]["ok"] is True
    from urllib.parse import urlsplit

    url = urlsplit(media["url"])
    assert (await stack.api.get(f"{url.path}?{url.query}")).content == picture

    video = await _form_upload(stack, tenant, "clip.mp4", CLIP, "video/mp4")
    assert video.json()["status"] == "ready" and video.json()["mime_type"] == "video/mp4"

    # The bytes decide the type, as for presigned uploads: text called a PNG fails.
    fake = await _form_upload(stack, tenant, "fake.png", b"<html>hello</html>", "image/png")
    assert fake.status_code == 201 and fake.json()["status"] == "failed"
    assert "neither" in fake.json()["failure_reason"]
    # A JPEG sent as a PNG is stored as what it is.
    from tests.support.media_files import jpeg

    relabelled = await _form_upload(stack, tenant, "photo.png", jpeg(), "image/png")
    assert relabelled.json()["mime_type"] == "image/jpeg"

    # A posted file publishes like an uploaded one.
    created = await stack.api.post(
        "/v1/posts",
        json={
            "content": "form upload",
            "media_ids": [media["id"]],
            "publish_now": True,
            "targets": [{"account_id": str(tenant.accounts["mastodon"])}],
        },
        headers=tenant.headers,
    )
    assert created.status_code == 201, created.text
    post = await stack.wait_for_post(tenant, created.json()["id"])
    assert post["status"] == "published", post["targets"][0]["error"]


async def test_multipart_upload_refuses_bad_input_with_400_and_large_files_with_413(
    stack: Stack,
) -> None:
    tenant = await stack.new_tenant()
    before = (await stack.api.get("/v1/media", headers=tenant.headers)).json()["data"]
    cases = [
        await _form_upload(stack, tenant, "a.txt", b"hello", "text/plain"),
        await _form_upload(stack, tenant, "a.png", b"", "image/png"),
        await _form_upload(stack, tenant, "a.png", png(), "image/png", brand="not-a-uuid"),
        await _form_upload(
            stack, tenant, "a.png", png(), "image/png", brand="00000000-0000-0000-0000-000000000000"
        ),
        await stack.api.post(
            "/v1/media", data={"brand_id": str(tenant.brand_id)}, headers=tenant.headers
        ),
        await stack.api.post("/v1/media", json={"brand_id": "x"}, headers=tenant.headers),
        await stack.api.post(
            "/v1/media",
            data={"brand_id": str(tenant.brand_id), "file": "text, not a file"},
            headers=tenant.headers,
        ),
        await stack.api.post(
            "/v1/media",
            content=b'--b\r\nContent-Disposition: form-data; name="file"\r\n\r\nbroken',
            headers={**tenant.headers, "Content-Type": "multipart/form-data; boundary=b"},
        ),
    ]
    for response in cases:
        assert response.status_code == 400, response.text
        assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    paths = [c.json()["error"]["details"][0]["path"] for c in cases[:4]]
    assert paths == ["file", "file", "brand_id", "brand_id"]

    cap = stack.settings.media_max_form_upload_bytes
    just_over = png() + b"\0" * (cap + 1 - len(png()))
    too_big = await _form_upload(stack, tenant, "big.png", just_over, "image/png")
    assert too_big.status_code == 413, too_big.text
    assert "HERALD_MEDIA_MAX_FORM_UPLOAD_BYTES" in too_big.json()["error"]["message"]

    # Far beyond the cap, streamed without a length: refused once the cap is passed, the
    # rest never read.
    sent = 0

    async def endless() -> Any:
        nonlocal sent
        yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="x.png"\r\n'
        yield b"Content-Type: image/png\r\n\r\n"
        for _ in range(10 * cap // 65536):
            sent += 65536
            yield b"\0" * 65536

    streamed = await stack.api.post(
        "/v1/media",
        content=endless(),
        headers={**tenant.headers, "Content-Type": "multipart/form-data; boundary=b"},
    )
    assert streamed.status_code == 413
    assert sent < 2 * cap, f"{sent} bytes were read of a body refused at {cap}"
    after = (await stack.api.get("/v1/media", headers=tenant.headers)).json()["data"]
    assert [m["id"] for m in after] == [m["id"] for m in before]


async def test_a_multipart_upload_retried_under_its_idempotency_key_is_replayed(
    stack: Stack,
) -> None:
    tenant = await stack.new_tenant()
    picture = png(20, 20)

    async def upload(data: bytes) -> Any:
        # httpx draws a new boundary for every request, as clients do for their retries.
        return await stack.api.post(
            "/v1/media",
            data={"brand_id": str(tenant.brand_id)},
            files={"file": ("pic.png", data, "image/png")},
            headers={**tenant.headers, "Idempotency-Key": "upload-once"},
        )

    first, again = await upload(picture), await upload(picture)
    assert first.status_code == 201, first.text
    assert first.request.headers["content-type"] != again.request.headers["content-type"]
    assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    other = await upload(png(21, 20))
    assert other.status_code == 422 and other.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"
