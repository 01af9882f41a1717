"""TikTok Content Posting API: creator info, video and photo init, chunked upload, status.

Follows developers.tiktok.com: "Query Creator Info", "Direct Post", "Upload" (inbox),
"Photo Post", "Media Transfer Guide" and "Get Post Status".

- ``POST /v2/post/publish/video/init/`` (direct post) and ``/v2/post/publish/inbox/video/init/``
  (upload to the creator's inbox) answer ``{publish_id, upload_url}`` for ``FILE_UPLOAD`` and
  ``{publish_id}`` for ``PULL_FROM_URL``;
- the upload URL takes ``PUT`` chunks in order with ``Content-Range: bytes a-b/total`` and
  the chunk's ``Content-Length``: 206 while chunks remain, 201 for the last one; chunk rules as
  the transfer guide states them. Each chunk is read as it arrives into a running SHA-256 and
  byte count (a video may be 4 GB): the emulator keeps no uploaded video, only its first bytes
  (to check its container), its size and its hash, which ``/_emulator/posts`` reports;
- ``POST /v2/post/publish/content/init/`` posts photos (PULL_FROM_URL only); the emulator
  really fetches each URL over HTTP;
- ``POST /v2/post/publish/status/fetch/``: PROCESSING_UPLOAD / PROCESSING_DOWNLOAD, then
  PUBLISH_COMPLETE (direct) or SEND_TO_USER_INBOX (inbox), or FAILED with ``fail_reason``.
  A direct post becomes an emulator post (``/_emulator/posts``) when it is complete.

Deviations: no moderation delay beyond ``processing_s``; ``publicaly_available_post_id`` is
given for PUBLIC_TO_EVERYONE posts only; URL ownership (``url_ownership_unverified``) and
scopes are not checked; only the container type of a video is checked, not its codec, frame
rate or duration; the daily caps are counted per account over a sliding 24 hours; an uploaded video's
bytes are not kept, so its media file answers 404.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from emulator.media_meta import sniff_mime
from emulator.state import Account, EmulatorState, MediaItem, Post, state_of
from emulator.tiktok_common import (
    PLATFORM,
    Me,
    invalid,
    json_object,
    ok,
    tiktok_error,
    utf16_length,
)

router = APIRouter()

MB = 1024 * 1024
MIN_CHUNK = 5 * MB
MAX_CHUNK = 64 * MB
MAX_FINAL_CHUNK = 128 * MB
MAX_CHUNKS = 1000
MAX_VIDEO_BYTES = 4096 * MB
MAX_VIDEO_TITLE = 2200
MAX_PHOTO_TITLE = 90
MAX_PHOTO_DESCRIPTION = 4000
MAX_PHOTOS = 35
PUBLIC_OPTIONS = ("PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "SELF_ONLY")
PRIVACY_LEVELS = ("PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "FOLLOWER_OF_CREATOR", "SELF_ONLY")
VIDEO_TYPES = ("video/mp4", "video/quicktime", "video/webm")
PHOTO_TYPES = ("image/jpeg", "image/webp")
PULL_TIMEOUT_S = 30.0
_RANGE = re.compile(r"\Abytes (\d+)-(\d+)/(\d+)\Z")
# What is kept of an uploaded video: enough to tell its container.
HEAD_BYTES = 64


@dataclass
class Received:
    """What arrived of a chunked upload: its length, a running SHA-256 and its first bytes,
    never the file itself."""

    size: int = 0
    head: bytes = b""
    digest: Any = field(default_factory=hashlib.sha256)


@dataclass
class Publish:
    """One init call and everything that follows it."""

    id: str
    account_id: str
    kind: str  # video | photo
    direct: bool  # False: to the creator's inbox
    source: str  # FILE_UPLOAD | PULL_FROM_URL
    post_info: dict[str, Any]
    created_at: datetime
    video_size: int = 0
    chunk_size: int = 0
    total_chunks: int = 0
    upload_token: str = ""
    received: Received = field(default_factory=Received)
    chunks_received: int = 0
    urls: list[str] = field(default_factory=list)
    photo_cover_index: int = 0
    downloaded: list[bytes] = field(default_factory=list)
    transferred: bool = False  # every byte is here (uploaded or pulled)
    ready_at: datetime | None = None
    fail_reason: str | None = None
    post_id: str | None = None
    done: bool = False


def publishes(state: EmulatorState) -> dict[str, Publish]:
    found: dict[str, Publish] = state.scratch(PLATFORM).setdefault("publishes", {})
    return found


def _background(state: EmulatorState, coroutine: Any) -> None:
    """Keeps a reference to the task so it is not collected before it finishes."""
    tasks: set[asyncio.Task[None]] = state.scratch(PLATFORM).setdefault("tasks", set())
    task = asyncio.get_running_loop().create_task(coroutine)
    tasks.add(task)
    task.add_done_callback(tasks.discard)


# -- creator info --------------------------------------------------------------------------------


def creator_info(request: Request, me: Account) -> dict[str, Any]:
    settings = state_of(request).settings
    base = str(request.base_url).rstrip("/")
    return {
        "creator_avatar_url": f"{base}/{PLATFORM}/avatars/{me.id}.jpeg",
        "creator_username": me.username,
        "creator_nickname": me.display_name,
        "privacy_level_options": list(PUBLIC_OPTIONS),
        "comment_disabled": False,
        "duet_disabled": False,
        "stitch_disabled": False,
        "max_video_post_duration_sec": settings.tiktok_max_video_post_duration_sec,
    }


@router.post("/v2/post/publish/creator_info/query/")
async def query_creator_info(request: Request, me: Me) -> dict[str, Any]:
    return ok(state_of(request), creator_info(request, me))


# -- init ---------------------------------------------------------------------------------------


def _bool(state: EmulatorState, info: dict[str, Any], name: str) -> None:
    if name in info and not isinstance(info[name], bool):
        raise invalid(state, f"{name} must be a boolean.", "invalid_param")


def _check_caps(state: EmulatorState, me: Account, direct: bool) -> None:
    """Direct posts and pending inbox shares are capped per creator per 24 hours."""
    since = state.now() - timedelta(days=1)
    recent = [
        p
        for p in publishes(state).values()
        if p.account_id == me.id and p.direct == direct and p.created_at > since
    ]
    if direct and len(recent) >= state.settings.tiktok_daily_post_cap:
        raise tiktok_error(
            state,
            403,
            "spam_risk_too_many_posts",
            "The daily post cap from the API is reached for the current user.",
        )
    if not direct and len(recent) >= state.settings.tiktok_pending_share_cap:
        raise tiktok_error(
            state,
            403,
            "spam_risk_too_many_pending_share",
            "The daily upload cap from the API is reached for the current user.",
        )


def _check_post_info(state: EmulatorState, info: dict[str, Any], max_title: int) -> None:
    title = info.get("title", "")
    if not isinstance(title, str):
        raise invalid(state, "title must be a string.", "invalid_param")
    if utf16_length(title) > max_title:
        raise invalid(state, f"The title is longer than {max_title} UTF-16 runes.", "invalid_param")
    for name in (
        "disable_comment",
        "disable_duet",
        "disable_stitch",
        "brand_content_toggle",
        "brand_organic_toggle",
        "is_aigc",
        "auto_add_music",
    ):
        _bool(state, info, name)
    privacy = info.get("privacy_level")
    if privacy not in PUBLIC_OPTIONS:
        raise tiktok_error(
            state,
            403,
            "privacy_level_option_mismatch",
            f"privacy_level {privacy!r} is not one of the creator's privacy_level_options "
            f"{list(PUBLIC_OPTIONS)}.",
        )
    if info.get("brand_content_toggle") is True and privacy == "SELF_ONLY":
        raise invalid(
            state, "Branded content cannot be posted with privacy SELF_ONLY.", "invalid_param"
        )


def _video_source(state: EmulatorState, source_info: Any) -> dict[str, Any]:
    if not isinstance(source_info, dict):
        raise invalid(state, "source_info is required.", "invalid_param")
    source = source_info.get("source")
    if source == "PULL_FROM_URL":
        url = source_info.get("video_url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise invalid(state, "video_url must be an http(s) URL.", "invalid_param")
        return {"source": source, "urls": [url]}
    if source != "FILE_UPLOAD":
        raise invalid(state, "source must be FILE_UPLOAD or PULL_FROM_URL.", "invalid_param")
    size, chunk, count = (
        source_info.get("video_size"),
        source_info.get("chunk_size"),
        source_info.get("total_chunk_count"),
    )
    for name, value in (("video_size", size), ("chunk_size", chunk), ("total_chunk_count", count)):
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise invalid(state, f"{name} must be a positive integer.", "invalid_param")
    assert isinstance(size, int) and isinstance(chunk, int) and isinstance(count, int)
    if size > MAX_VIDEO_BYTES:
        raise invalid(state, "The video is larger than 4 GB.", "invalid_param")
    if size < MIN_CHUNK and chunk != size:
        raise invalid(
            state,
            "A video smaller than 5 MB must be uploaded whole: chunk_size must equal video_size.",
            "invalid_param",
        )
    if size >= MIN_CHUNK and not MIN_CHUNK <= chunk <= MAX_CHUNK:
        raise invalid(state, "chunk_size must be between 5 MB and 64 MB.", "invalid_param")
    if chunk > size:
        raise invalid(state, "chunk_size is larger than video_size.", "invalid_param")
    expected = size // chunk
    if count != expected or not 1 <= count <= MAX_CHUNKS:
        raise invalid(
            state,
            f"total_chunk_count must be video_size / chunk_size rounded down ({expected}), "
            f"between 1 and {MAX_CHUNKS}.",
            "invalid_param",
        )
    if size - (count - 1) * chunk > MAX_FINAL_CHUNK:
        raise invalid(state, "The final chunk would be larger than 128 MB.", "invalid_param")
    return {"source": source, "video_size": size, "chunk_size": chunk, "total_chunks": count}


def _new_publish_id(state: EmulatorState, prefix: str) -> str:
    return f"{prefix}~v2-1.{state.ids.next()}"


def _start_video(
    request: Request, me: Account, body: dict[str, Any], direct: bool
) -> dict[str, Any]:
    state = state_of(request)
    info: dict[str, Any] = {}
    if direct:
        raw = body.get("post_info")
        if not isinstance(raw, dict):
            raise invalid(state, "post_info is required for a direct post.", "invalid_param")
        info = raw
        _check_post_info(state, info, MAX_VIDEO_TITLE)
        cover = info.get("video_cover_timestamp_ms")
        if cover is not None and (not isinstance(cover, int) or cover < 0):
            raise invalid(
                state, "video_cover_timestamp_ms must be a non-negative integer.", "invalid_param"
            )
    source = _video_source(state, body.get("source_info"))
    _check_caps(state, me, direct)
    pull = source["source"] == "PULL_FROM_URL"
    publish = Publish(
        id=_new_publish_id(state, "v_pub_url" if pull else "v_pub_file"),
        account_id=me.id,
        kind="video",
        direct=direct,
        source=source["source"],
        post_info=dict(info),
        created_at=state.now(),
        video_size=source.get("video_size", 0),
        chunk_size=source.get("chunk_size", 0),
        total_chunks=source.get("total_chunks", 0),
        upload_token=secrets.token_urlsafe(16),
        urls=source.get("urls", []),
    )
    publishes(state)[publish.id] = publish
    if pull:
        _background(state, _pull(state, publish))
        return {"publish_id": publish.id}
    base = str(request.base_url).rstrip("/")
    upload_url = (
        f"{base}/{PLATFORM}/upload/video/?upload_id={publish.id.rsplit('.', 1)[1]}"
        f"&upload_token={publish.upload_token}"
    )
    return {"publish_id": publish.id, "upload_url": upload_url}


@router.post("/v2/post/publish/video/init/")
async def direct_video_init(request: Request, me: Me) -> dict[str, Any]:
    body = await json_object(request)
    return ok(state_of(request), _start_video(request, me, body, direct=True))


@router.post("/v2/post/publish/inbox/video/init/")
async def inbox_video_init(request: Request, me: Me) -> dict[str, Any]:
    body = await json_object(request)
    return ok(state_of(request), _start_video(request, me, body, direct=False))


@router.post("/v2/post/publish/content/init/")
async def content_init(request: Request, me: Me) -> dict[str, Any]:
    state = state_of(request)
    body = await json_object(request)
    if body.get("media_type") != "PHOTO":
        raise invalid(state, "media_type must be PHOTO.", "invalid_param")
    mode = body.get("post_mode")
    if mode not in ("DIRECT_POST", "MEDIA_UPLOAD"):
        raise invalid(state, "post_mode must be DIRECT_POST or MEDIA_UPLOAD.", "invalid_param")
    direct = mode == "DIRECT_POST"
    info = body.get("post_info")
    if not isinstance(info, dict):
        raise invalid(state, "post_info is required.", "invalid_param")
    description = info.get("description", "")
    if not isinstance(description, str) or utf16_length(description) > MAX_PHOTO_DESCRIPTION:
        raise invalid(
            state,
            f"description must be a string of at most {MAX_PHOTO_DESCRIPTION} UTF-16 runes.",
            "invalid_param",
        )
    if direct:
        _check_post_info(state, info, MAX_PHOTO_TITLE)
    else:
        title = info.get("title", "")
        if not isinstance(title, str) or utf16_length(title) > MAX_PHOTO_TITLE:
            raise invalid(state, "The title is longer than 90 UTF-16 runes.", "invalid_param")
    source = body.get("source_info")
    if not isinstance(source, dict) or source.get("source") != "PULL_FROM_URL":
        raise invalid(state, "Photos can only be sent with source PULL_FROM_URL.", "invalid_param")
    images = source.get("photo_images")
    if (
        not isinstance(images, list)
        or not 1 <= len(images) <= MAX_PHOTOS
        or not all(isinstance(u, str) and u.startswith(("http://", "https://")) for u in images)
    ):
        raise invalid(
            state, f"photo_images must hold 1 to {MAX_PHOTOS} http(s) URLs.", "invalid_param"
        )
    cover = source.get("photo_cover_index", 0)
    if not isinstance(cover, int) or isinstance(cover, bool) or not 0 <= cover < len(images):
        raise invalid(state, "photo_cover_index is out of range.", "invalid_param")
    _check_caps(state, me, direct)
    publish = Publish(
        id=_new_publish_id(state, "p_pub_url"),
        account_id=me.id,
        kind="photo",
        direct=direct,
        source="PULL_FROM_URL",
        post_info=dict(info),
        created_at=state.now(),
        urls=list(images),
        photo_cover_index=cover,
    )
    publishes(state)[publish.id] = publish
    _background(state, _pull(state, publish))
    return ok(state, {"publish_id": publish.id})


# -- transfer -----------------------------------------------------------------------------------


def _chunk_length(publish: Publish, index: int) -> int:
    if index == publish.total_chunks - 1:
        return publish.video_size - index * publish.chunk_size
    return publish.chunk_size


def _upload_error(state: EmulatorState, status: int, message: str) -> JSONResponse:
    error = tiktok_error(state, status, "invalid_file_upload" if status < 500 else "internal_error")
    error.body["error"]["message"] = message
    return JSONResponse(error.body, status_code=status)


@router.put("/upload/video/")
async def upload_chunk(request: Request) -> Response:
    """One chunk, in order. 206 while more are expected, 201 when the video is complete;
    400 for a malformed request, 404 for an unknown upload, 416 for a range out of order."""
    state = state_of(request)
    upload_id = request.query_params.get("upload_id", "")
    token = request.query_params.get("upload_token", "")
    publish = next(
        (
            p
            for p in publishes(state).values()
            if p.source == "FILE_UPLOAD" and p.id.rsplit(".", 1)[1] == upload_id
        ),
        None,
    )
    if publish is None or not secrets.compare_digest(publish.upload_token, token):
        return _upload_error(state, 404, "The upload URL is invalid.")
    if publish.transferred:
        return _upload_error(state, 416, "Every chunk of this video was already uploaded.")
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in VIDEO_TYPES:
        return _upload_error(
            state, 400, "Content-Type must be video/mp4, video/quicktime or video/webm."
        )
    match = _RANGE.match(request.headers.get("content-range", "").strip())
    if match is None:
        return _upload_error(state, 400, "Content-Range must be 'bytes {first}-{last}/{total}'.")
    first, last, total = (int(g) for g in match.groups())
    index = publish.chunks_received
    received = publish.received
    expected = _chunk_length(publish, index)
    if total != publish.video_size:
        return _upload_error(state, 400, "The total size does not match video_size.")
    if request.headers.get("content-length") != str(last - first + 1):
        return _upload_error(state, 400, "Content-Length must be the byte size of this chunk.")
    if last < first or first != received.size or last - first + 1 != expected:
        return _upload_error(
            state,
            416,
            f"Expected chunk {index + 1} of {publish.total_chunks}: bytes "
            f"{received.size}-{received.size + expected - 1}.",
        )
    # Hashed as it streams in, into a copy: a chunk cut short changes nothing.
    digest, head, length = received.digest.copy(), received.head, 0
    async for piece in request.stream():
        digest.update(piece)
        if len(head) < HEAD_BYTES:
            head += piece[: HEAD_BYTES - len(head)]
        length += len(piece)
    if length != expected:
        return _upload_error(state, 400, "Content-Range does not match the body's length.")
    publish.received = Received(received.size + length, head, digest)
    publish.chunks_received += 1
    if publish.chunks_received < publish.total_chunks:
        return Response(status_code=206)
    publish.transferred = True
    mime = sniff_mime(publish.received.head)
    if mime not in VIDEO_TYPES:
        publish.fail_reason = "file_format_check_failed"
    else:
        _processing(state, publish)
    return Response(status_code=201)


def _processing(state: EmulatorState, publish: Publish) -> None:
    """Every byte is here: processing (and moderation) take ``processing_s``."""
    publish.ready_at = state.now() + timedelta(seconds=state.settings.processing_s)
    _background(state, _finish_later(state, publish))


async def _finish_later(state: EmulatorState, publish: Publish) -> None:
    # The loop's monotonic clock and the wall clock drift apart by a little, so wait until
    # the emulator clock itself says the processing is over.
    assert publish.ready_at is not None
    while not publish.done and publishes(state).get(publish.id) is publish:
        remaining = (publish.ready_at - state.now()).total_seconds()
        if remaining <= 0:
            settle(state, publish)
            return
        await asyncio.sleep(remaining + 0.01)


async def _pull(state: EmulatorState, publish: Publish) -> None:
    """PULL_FROM_URL: TikTok downloads the media itself."""
    reason = "photo_pull_failed" if publish.kind == "photo" else "video_pull_failed"
    accepted = PHOTO_TYPES if publish.kind == "photo" else VIDEO_TYPES
    downloaded: list[bytes] = []
    try:
        async with httpx.AsyncClient(timeout=PULL_TIMEOUT_S, follow_redirects=True) as http:
            for url in publish.urls:
                response = await http.get(url)
                if response.status_code != 200:
                    publish.fail_reason = reason
                    return
                downloaded.append(response.content)
    except httpx.HTTPError:
        publish.fail_reason = reason
        return
    if any(sniff_mime(d) not in accepted for d in downloaded):
        publish.fail_reason = "file_format_check_failed"
        return
    publish.downloaded = downloaded
    publish.transferred = True
    _processing(state, publish)


# -- status -------------------------------------------------------------------------------------


def settle(state: EmulatorState, publish: Publish) -> None:
    """Finishes a processed publish once: a direct post becomes a post on the profile."""
    if publish.done or publish.fail_reason or publish.ready_at is None:
        return
    if state.now() < publish.ready_at or publishes(state).get(publish.id) is not publish:
        return  # still processing, or the emulator was reset meanwhile
    publish.done = True
    if not publish.direct:
        return
    media_ids = [item.id for item in _media_of(state, publish)]
    info = publish.post_info
    text = info.get("title", "") if publish.kind == "video" else info.get("description", "")
    post = Post(
        platform=PLATFORM,
        id=state.ids.next(),
        account_id=publish.account_id,
        text=str(text),
        media_ids=media_ids,
        created_at=publish.ready_at,
        options={**info, "media_type": publish.kind.upper(), "publish_id": publish.id},
    )
    state.add_post(post)
    publish.post_id = post.id


def _media_of(state: EmulatorState, publish: Publish) -> list[MediaItem]:
    """The post's media: an uploaded video by its size and hash, pulled media whole."""
    assert publish.ready_at is not None
    received = publish.received
    blobs: list[tuple[bytes, str | None, int | None]] = (
        [(received.head, received.digest.hexdigest(), received.size)]
        if publish.source == "FILE_UPLOAD"
        else [(blob, None, None) for blob in publish.downloaded]
    )
    items = []
    for blob, digest, size in blobs:
        item = MediaItem(
            platform=PLATFORM,
            id=state.ids.next(),
            account_id=publish.account_id,
            type=publish.kind,
            mime_type=sniff_mime(blob) or "application/octet-stream",
            data=b"" if digest else blob,
            description=None,
            created_at=publish.created_at,
            ready_at=publish.ready_at,
            received_sha256=digest,
            received_size=size,
        )
        state.media[item.id] = item
        items.append(item)
    return items


def status_of(state: EmulatorState, publish: Publish) -> dict[str, Any]:
    settle(state, publish)
    data: dict[str, Any] = {}
    if publish.fail_reason:
        data["status"] = "FAILED"
        data["fail_reason"] = publish.fail_reason
    elif publish.done:
        data["status"] = "PUBLISH_COMPLETE" if publish.direct else "SEND_TO_USER_INBOX"
    elif publish.source == "PULL_FROM_URL":
        data["status"] = "PROCESSING_DOWNLOAD"
    else:
        data["status"] = "PROCESSING_UPLOAD"
    public = publish.post_info.get("privacy_level") == "PUBLIC_TO_EVERYONE"
    data["publicaly_available_post_id"] = (
        [int(publish.post_id)] if publish.post_id and public else []
    )
    if publish.source == "FILE_UPLOAD":
        data["uploaded_bytes"] = publish.received.size
    else:
        data["downloaded_bytes"] = sum(len(d) for d in publish.downloaded)
    return data


@router.post("/v2/post/publish/status/fetch/")
async def fetch_status(request: Request, me: Me) -> dict[str, Any]:
    state = state_of(request)
    body = await json_object(request)
    publish_id = body.get("publish_id")
    publish = publishes(state).get(publish_id) if isinstance(publish_id, str) else None
    if publish is None or publish.account_id != me.id:
        raise invalid(state, f"publish_id {publish_id!r} does not exist.", "invalid_params")
    return ok(state, status_of(state, publish))


@router.get("/media-files/{media_id}")
async def media_file(request: Request, media_id: str) -> Response:
    item = state_of(request).media_item(PLATFORM, media_id)
    if item is None or item.discarded or item.received_sha256 is not None:
        return Response(status_code=404)  # gone, or an uploaded video (not kept)
    return Response(item.data, media_type=item.mime_type)
