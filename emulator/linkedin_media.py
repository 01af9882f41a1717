"""LinkedIn Images and Videos APIs (learn.microsoft.com "Images API", "Videos API").

- ``POST /rest/images?action=initializeUpload {"initializeUploadRequest": {"owner"}}`` →
  ``{"value": {"uploadUrlExpiresAt", "uploadUrl", "image"}}``; ``PUT`` the bytes to
  ``uploadUrl`` (201); ``GET /rest/images/{urn}`` reports ``status`` WAITING_UPLOAD →
  AVAILABLE (PROCESSING_FAILED when the bytes are no image).
- ``POST /rest/videos?action=initializeUpload {"initializeUploadRequest": {"owner",
  "fileSizeBytes", "uploadCaptions", "uploadThumbnail"}}`` → ``uploadInstructions``: one
  ``{"uploadUrl", "firstByte", "lastByte"}`` per 4 MiB part; each ``PUT`` answers an ``ETag``;
  ``POST /rest/videos?action=finalizeUpload {"finalizeUploadRequest": {"video",
  "uploadToken", "uploadedPartIds"}}`` takes the ETags in order; the video is PROCESSING for
  ``processing_s`` and then AVAILABLE.

Deviations: upload URLs live under the emulator (``/linkedin/dms-uploads/...``) instead of
www.linkedin.com and need no Authorization header; no captions or thumbnails; uploads do not
expire; any uploaded bytes count as a video.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request, Response

from emulator.linkedin_common import (
    PLATFORM,
    Member,
    Versioned,
    epoch_ms,
    forbidden,
    input_error,
    missing_field,
    next_id,
    not_found,
    person_urn,
    rest_error,
)
from emulator.media_meta import image_dimensions, sniff_mime
from emulator.state import Account, EmulatorState, MediaItem, state_of

PART_SIZE = 4 * 1024 * 1024
MAX_VIDEO_BYTES = 5 * 1024 * 1024 * 1024
UPLOAD_URL_TTL = timedelta(days=1)

router = APIRouter()


def media_status(state: EmulatorState, item: MediaItem) -> str:
    if not item.meta.get("uploaded"):
        return "WAITING_UPLOAD"
    if item.meta.get("failed"):
        return "PROCESSING_FAILED"
    return "AVAILABLE" if item.processed(state.now()) else "PROCESSING"


def _uploads(state: EmulatorState) -> dict[str, dict[str, Any]]:
    uploads: dict[str, dict[str, Any]] = state.scratch(PLATFORM).setdefault("uploads", {})
    return uploads


def _owner(body: Any, account: Account) -> dict[str, Any]:
    request = body.get("initializeUploadRequest") if isinstance(body, dict) else None
    if not isinstance(request, dict) or not isinstance(request.get("owner"), str):
        raise missing_field("/initializeUploadRequest/owner")
    if request["owner"] != person_urn(account):
        raise forbidden(f"Not enough permissions to upload media as {request['owner']}")
    return request


def _new_media(state: EmulatorState, account: Account, kind: str) -> MediaItem:
    prefix = "D4E10AQ" if kind == "image" else "D4E05AQ"
    now = state.now()
    item = MediaItem(
        platform=PLATFORM,
        id=f"urn:li:{kind}:{prefix}{next_id(state)}",
        account_id=account.id,
        type=kind,
        mime_type="application/octet-stream",
        data=b"",
        description=None,
        created_at=now,
        ready_at=now,
        meta={"uploaded": False},
    )
    state.media[item.id] = item
    return item


def _upload_url(request: Request, key: str, part: int | None = None) -> str:
    base = str(request.base_url).rstrip("/")
    suffix = f"?part={part}" if part is not None else ""
    return f"{base}/{PLATFORM}/dms-uploads/{key}{suffix}"


@router.post("/rest/images", dependencies=[Versioned])
async def images_action(request: Request, account: Member, action: str | None = None) -> Any:
    state = state_of(request)
    if action != "initializeUpload":
        raise rest_error(400, "ILLEGAL_ARGUMENT", f"Unknown action {action!r} on images")
    _owner(await request.json(), account)
    item = _new_media(state, account, "image")
    key = secrets.token_urlsafe(18)
    _uploads(state)[key] = {"media": item.id}
    return {
        "value": {
            "uploadUrlExpiresAt": epoch_ms(state.now() + UPLOAD_URL_TTL),
            "uploadUrl": _upload_url(request, key),
            "image": item.id,
        }
    }


@router.post("/rest/videos", dependencies=[Versioned])
async def videos_action(request: Request, account: Member, action: str | None = None) -> Any:
    state = state_of(request)
    body = await request.json()
    if action == "initializeUpload":
        return _initialize_video(request, state, account, body)
    if action == "finalizeUpload":
        return _finalize_video(state, account, body)
    raise rest_error(400, "ILLEGAL_ARGUMENT", f"Unknown action {action!r} on videos")


def _initialize_video(
    request: Request, state: EmulatorState, account: Account, body: Any
) -> dict[str, Any]:
    init = _owner(body, account)
    size = init.get("fileSizeBytes")
    if not isinstance(size, int) or size <= 0:
        raise missing_field("/initializeUploadRequest/fileSizeBytes")
    if size > MAX_VIDEO_BYTES:
        raise input_error(
            f"File size {size} exceeds the maximum of {MAX_VIDEO_BYTES} bytes",
            "FILE_SIZE_TOO_LARGE",
            "Video file size is too large",
            status=400,
        )
    item = _new_media(state, account, "video")
    key = secrets.token_urlsafe(18)
    ranges = [(start, min(start + PART_SIZE, size) - 1) for start in range(0, size, PART_SIZE)]
    token = secrets.token_urlsafe(12) if len(ranges) > 1 else ""
    item.meta.update({"size": size, "ranges": ranges, "parts": {}, "upload_token": token})
    _uploads(state)[key] = {"media": item.id}
    return {
        "value": {
            "uploadUrlsExpireAt": epoch_ms(state.now() + UPLOAD_URL_TTL),
            "video": item.id,
            "uploadInstructions": [
                {"uploadUrl": _upload_url(request, key, index), "firstByte": a, "lastByte": b}
                for index, (a, b) in enumerate(ranges)
            ],
            "uploadToken": token,
        }
    }


def _finalize_video(state: EmulatorState, account: Account, body: Any) -> dict[str, Any]:
    final = body.get("finalizeUploadRequest") if isinstance(body, dict) else None
    if not isinstance(final, dict) or not isinstance(final.get("video"), str):
        raise missing_field("/finalizeUploadRequest/video")
    item = state.media_item(PLATFORM, final["video"])
    if item is None or item.type != "video":
        raise not_found(f"Video {final['video']}")
    if item.account_id != account.id:
        raise forbidden(
            "Accessing this video resource is forbidden. Please check your permissions for "
            "this resource"
        )
    parts: dict[int, tuple[str, bytes]] = item.meta["parts"]
    expected = [parts[i][0] if i in parts else None for i in range(len(item.meta["ranges"]))]
    if (final.get("uploadToken") or "") != item.meta["upload_token"] or final.get(
        "uploadedPartIds"
    ) != expected:
        raise input_error(
            "The uploaded parts do not match the upload instructions",
            "INVALID_UPLOAD",
            "uploadedPartIds must list every part's ETag in order",
            status=400,
        )
    item.data = b"".join(parts[i][1] for i in range(len(expected)))
    item.mime_type = sniff_mime(item.data) or "video/mp4"
    now = state.now()
    item.ready_at = now + timedelta(seconds=state.settings.processing_s)
    item.meta["uploaded"] = True
    return {}


@router.put("/dms-uploads/{key}")
async def upload_bytes(request: Request, key: str, part: int | None = None) -> Response:
    state = state_of(request)
    upload = _uploads(state).get(key)
    item = state.media_item(PLATFORM, upload["media"]) if upload else None
    if item is None:
        return Response(status_code=404)
    data = await request.body()
    if item.type == "image":
        if item.meta.get("uploaded"):
            return Response(status_code=409)
        item.data = data
        item.mime_type = sniff_mime(data) or "application/octet-stream"
        item.meta["uploaded"] = True
        dimensions = image_dimensions(data)
        item.meta["failed"] = not item.mime_type.startswith("image/")
        if dimensions:
            item.meta["width"], item.meta["height"] = dimensions
        item.ready_at = state.now()
        return Response(status_code=201)
    ranges: list[tuple[int, int]] = item.meta["ranges"]
    if part is None or not 0 <= part < len(ranges):
        return Response(status_code=400)
    first, last = ranges[part]
    if len(data) != last - first + 1:
        return Response(status_code=400)
    etag = hashlib.md5(data, usedforsecurity=False).hexdigest()
    item.meta["parts"][part] = (etag, data)
    return Response(status_code=200, headers={"ETag": etag})


def _media_json(request: Request, state: EmulatorState, item: MediaItem) -> dict[str, Any]:
    status = media_status(state, item)
    answer: dict[str, Any] = {
        "owner": f"urn:li:person:{item.account_id}",
        "id": item.id,
        "status": status,
    }
    if status == "AVAILABLE":
        base = str(request.base_url).rstrip("/")
        answer["downloadUrl"] = f"{base}/{PLATFORM}/media-files/{item.id}"
        answer["downloadUrlExpiresAt"] = epoch_ms(state.now() + UPLOAD_URL_TTL)
    if "width" in item.meta:
        answer["aspectRatioWidth"] = float(item.meta["width"])
        answer["aspectRatioHeight"] = float(item.meta["height"])
    return answer


@router.get("/rest/images/{urn}", dependencies=[Versioned])
async def get_image(request: Request, urn: str, _account: Member) -> dict[str, Any]:
    state = state_of(request)
    item = state.media_item(PLATFORM, urn)
    if item is None or item.type != "image":
        raise not_found(f"Image {urn}")
    return _media_json(request, state, item)


@router.get("/rest/videos/{urn}", dependencies=[Versioned])
async def get_video(request: Request, urn: str, _account: Member) -> dict[str, Any]:
    state = state_of(request)
    item = state.media_item(PLATFORM, urn)
    if item is None or item.type != "video":
        raise not_found(f"Video {urn}")
    return _media_json(request, state, item)


@router.get("/media-files/{urn}")
async def media_file(request: Request, urn: str) -> Response:
    state = state_of(request)
    item = state.media_item(PLATFORM, urn)
    if item is None or media_status(state, item) != "AVAILABLE" or item.discarded:
        return Response(status_code=404)
    return Response(item.data, media_type=item.mime_type)
