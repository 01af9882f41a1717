"""X media upload v2 (docs.x.com "Media upload", "Chunked media upload").

Both generations of the v2 API are served:

* ``POST /2/media/upload`` with ``command=INIT|APPEND|FINALIZE`` (parameters in the query,
  a form or JSON; the chunk as the multipart part ``media``) and
  ``GET /2/media/upload?command=STATUS&media_id=…``;
* the dedicated ``POST /2/media/upload/initialize``, ``/{id}/append`` and ``/{id}/finalize``;
* a one-shot ``POST /2/media/upload`` with ``media`` and ``media_category`` (small images).

Images are ready when finalized. Videos and animated GIFs then process for
``processing_s``: ``processing_info.state`` goes pending → in_progress → succeeded, or
failed (with ``error``) when the bytes are not a video container the emulator recognises.
A media id may be attached to Tweets by its owner until it expires (24 hours).
"""

from __future__ import annotations

import base64
import binascii
import math
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request, Response

from emulator.forms import MalformedBody, Params, read_params
from emulator.media_meta import image_dimensions, sniff_mime
from emulator.state import Account, EmulatorState, MediaItem, state_of
from emulator.x_common import PLATFORM, Me, invalid_request, next_id

MB = 1024 * 1024
# media_category → (X media type, size limit)
CATEGORIES = {
    "tweet_image": ("photo", 5 * MB),
    "tweet_gif": ("animated_gif", 15 * MB),
    "tweet_video": ("video", 512 * MB),
    "amplify_video": ("video", 512 * MB),
    "dm_image": ("photo", 5 * MB),
    "dm_gif": ("animated_gif", 15 * MB),
    "dm_video": ("video", 512 * MB),
}
IMAGE_TYPES = (
    "image/jpeg",
    "image/pjpeg",
    "image/png",
    "image/gif",
    "image/webp",
    "image/bmp",
    "image/tiff",
)
VIDEO_TYPES = ("video/mp4", "video/quicktime", "video/webm", "video/mp2t")
MEDIA_KEY_PREFIX = {"photo": "3", "video": "7", "animated_gif": "16"}
NOT_FINALIZED = timedelta(days=36500)  # "ready" only once finalized and processed

router = APIRouter()


def _default_category(media_type: str) -> str:
    if media_type.startswith("video/"):
        return "tweet_video"
    if media_type == "image/gif":
        return "tweet_gif"
    return "tweet_image"


async def _params(request: Request) -> Params:
    try:
        return await read_params(request)
    except MalformedBody as exc:
        raise invalid_request("Request body is not valid for its Content-Type.") from exc


def _chunk(params: Params) -> bytes | None:
    """The media bytes: a multipart file part, or base64 in ``media`` / ``media_data``."""
    upload = params.files.get("media")
    if upload is not None:
        return upload.data
    encoded = params.get_str("media") or params.get_str("media_data")
    if encoded is None:
        return None
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise invalid_request("$.media: is not valid base64", {"media": ["<invalid>"]}) from exc


def _owned_media(state: EmulatorState, me: Account, media_id: str | None) -> MediaItem:
    item = state.media_item(PLATFORM, media_id) if media_id else None
    if item is None or item.account_id != me.id or _expired(state, item):
        raise invalid_request(
            f"The `media_id` value [{media_id}] does not identify an upload of yours that is "
            "still open.",
            {"media_id": [str(media_id)]},
        )
    return item


def _expired(state: EmulatorState, item: MediaItem) -> bool:
    return bool(state.now() >= item.meta["expires_at"])


def _expires_after(state: EmulatorState, item: MediaItem) -> int:
    return max(0, int((item.meta["expires_at"] - state.now()).total_seconds()))


def _start(
    state: EmulatorState, me: Account, media_type: str | None, total: Any, category: str | None
) -> MediaItem:
    """INIT: validates the announced upload and opens a session for it."""
    if not media_type:
        raise invalid_request("$.media_type: is missing but it is required", {"media_type": []})
    if media_type not in IMAGE_TYPES + VIDEO_TYPES:
        raise invalid_request(
            f"$.media_type: does not have a value in the enumeration "
            f"[{', '.join(IMAGE_TYPES + VIDEO_TYPES)}]",
            {"media_type": [media_type]},
        )
    category = category or _default_category(media_type)
    if category not in CATEGORIES:
        raise invalid_request(
            f"$.media_category: does not have a value in the enumeration [{', '.join(CATEGORIES)}]",
            {"media_category": [category]},
        )
    # A GIF uploaded as tweet_image is a still photo; as tweet_gif, an animated GIF.
    kind, limit = CATEGORIES[category]
    if (kind == "video") != media_type.startswith("video/"):
        raise invalid_request(
            f"The media_category [{category}] does not accept media_type [{media_type}].",
            {"media_category": [category], "media_type": [media_type]},
        )
    try:
        total_bytes = int(total)
    except (TypeError, ValueError) as exc:
        raise invalid_request(
            "$.total_bytes: is missing but it is required", {"total_bytes": [str(total)]}
        ) from exc
    if total_bytes <= 0:
        raise invalid_request(
            "$.total_bytes: must have a minimum value of 1", {"total_bytes": [str(total)]}
        )
    if total_bytes > limit:
        raise invalid_request(
            f"File size exceeds {limit} bytes.", {"total_bytes": [str(total_bytes)]}
        )
    now = state.now()
    media_id = next_id(state)
    item = MediaItem(
        platform=PLATFORM,
        id=media_id,
        account_id=me.id,
        type=kind,
        mime_type=media_type,
        data=b"",
        description=None,
        created_at=now,
        ready_at=now + NOT_FINALIZED,
        meta={
            "media_key": f"{MEDIA_KEY_PREFIX[kind]}_{media_id}",
            "category": category,
            "total_bytes": total_bytes,
            "segments": {},
            "finalized": False,
            "failed": False,
            "expires_at": now + timedelta(seconds=state.settings.x_media_expiry_s),
        },
    )
    state.media[media_id] = item
    return item


def _append(state: EmulatorState, item: MediaItem, segment: Any, data: bytes | None) -> None:
    if item.meta["finalized"]:
        raise invalid_request("This upload has already been finalized.", {"media_id": [item.id]})
    try:
        index = int(segment)
    except (TypeError, ValueError) as exc:
        raise invalid_request(
            "$.segment_index: is missing but it is required", {"segment_index": [str(segment)]}
        ) from exc
    if not 0 <= index <= 999:
        raise invalid_request(
            "$.segment_index: must have a value between 0 and 999", {"segment_index": [str(index)]}
        )
    if data is None:
        raise invalid_request("$.media: is missing but it is required", {"media": []})
    # A retried APPEND replaces its segment, so a lost answer can simply be sent again.
    item.meta["segments"][index] = data


def _finish(state: EmulatorState, item: MediaItem) -> None:
    """FINALIZE: assembles the segments and starts processing (videos and GIFs)."""
    if item.meta["finalized"]:
        return  # finalizing twice answers the current state again
    segments: dict[int, bytes] = item.meta["segments"]
    data = b"".join(segments[i] for i in sorted(segments))
    if sorted(segments) != list(range(len(segments))) or len(data) != item.meta["total_bytes"]:
        raise invalid_request(
            "Segments do not add up to provided total file size.", {"media_id": [item.id]}
        )
    sniffed = sniff_mime(data)
    now = state.now()
    if item.type != "video" and not (sniffed or "").startswith("image/"):
        raise invalid_request("media type unrecognized.", {"media_id": [item.id]})
    item.data = data
    item.meta["segments"] = {}
    item.meta["finalized"] = True
    item.meta["finalized_at"] = now
    if item.type == "photo":
        item.ready_at = now
        if sniffed:
            item.mime_type = sniffed
    else:
        item.ready_at = now + timedelta(seconds=state.settings.processing_s)
        if item.type == "video":
            item.meta["failed"] = not (sniffed or "").startswith("video/")
    dimensions = image_dimensions(data)
    if dimensions:
        item.meta["width"], item.meta["height"] = dimensions


def processing_info(state: EmulatorState, item: MediaItem) -> dict[str, Any] | None:
    if item.type == "photo" or not item.meta["finalized"]:
        return None
    now = state.now()
    total = (item.ready_at - item.meta["finalized_at"]).total_seconds()
    elapsed = (now - item.meta["finalized_at"]).total_seconds()
    fraction = 1.0 if total <= 0 else min(1.0, elapsed / total)
    if fraction >= 1.0:
        if item.meta["failed"]:
            return {
                "state": "failed",
                "progress_percent": 100,
                "error": {"code": 1, "name": "InvalidMedia", "message": "Unsupported video format"},
            }
        return {"state": "succeeded", "progress_percent": 100}
    remaining = max(1, math.ceil(total - elapsed))
    if fraction < 0.2:
        return {"state": "pending", "check_after_secs": remaining, "progress_percent": 0}
    return {
        "state": "in_progress",
        "check_after_secs": remaining,
        "progress_percent": int(fraction * 100),
    }


def media_usable(state: EmulatorState, item: MediaItem) -> bool:
    info = processing_info(state, item)
    return (
        item.meta["finalized"]
        and not _expired(state, item)
        and (info is None or info["state"] == "succeeded")
    )


def _upload_json(state: EmulatorState, item: MediaItem) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": item.id,
        "media_key": item.meta["media_key"],
        "expires_after_secs": _expires_after(state, item),
    }
    if item.meta["finalized"]:
        data["size"] = item.size
        if item.type == "photo":
            image: dict[str, Any] = {"image_type": item.mime_type}
            if "width" in item.meta:
                image.update({"w": item.meta["width"], "h": item.meta["height"]})
            data["image"] = image
        else:
            data["video"] = {"video_type": "video/mp4" if item.type == "video" else "image/gif"}
        info = processing_info(state, item)
        if info is not None:
            data["processing_info"] = info
    return data


@router.post("/2/media/upload")
async def media_upload(request: Request, me: Me) -> dict[str, Any]:
    state = state_of(request)
    params = await _params(request)
    command = (params.get_str("command") or "").upper()
    if command == "INIT":
        item = _start(
            state,
            me,
            params.get_str("media_type"),
            params.get("total_bytes"),
            params.get_str("media_category"),
        )
        return {"data": _upload_json(state, item)}
    if command == "APPEND":
        item = _owned_media(state, me, params.get_str("media_id"))
        _append(state, item, params.get("segment_index"), _chunk(params))
        return {"data": {"expires_at": int(item.meta["expires_at"].timestamp())}}
    if command == "FINALIZE":
        item = _owned_media(state, me, params.get_str("media_id"))
        _finish(state, item)
        return {"data": _upload_json(state, item)}
    if command:
        raise invalid_request(
            "$.command: does not have a value in the enumeration [INIT, APPEND, FINALIZE]",
            {"command": [command]},
        )
    # One shot: the whole file at once.
    data = _chunk(params)
    if data is None:
        raise invalid_request("$.media: is missing but it is required", {"media": []})
    category = params.get_str("media_category")
    if category is None:
        raise invalid_request(
            "$.media_category: is missing but it is required", {"media_category": []}
        )
    upload = params.files.get("media")
    declared = upload.content_type if upload is not None else "application/octet-stream"
    media_type = params.get_str("media_type") or sniff_mime(data) or declared
    item = _start(state, me, media_type, len(data), category)
    _append(state, item, 0, data)
    _finish(state, item)
    return {"data": _upload_json(state, item)}


@router.get("/2/media/upload")
async def media_status(request: Request, me: Me) -> dict[str, Any]:
    state = state_of(request)
    command = request.query_params.get("command", "STATUS")
    if command != "STATUS":
        raise invalid_request(
            "$.command: does not have a value in the enumeration [STATUS]", {"command": [command]}
        )
    media_id = request.query_params.get("media_id")
    if not media_id:
        raise invalid_request("$.media_id: is missing but it is required", {"media_id": []})
    item = _owned_media(state, me, media_id)
    if not item.meta["finalized"]:
        raise invalid_request("This upload has not been finalized yet.", {"media_id": [media_id]})
    data = _upload_json(state, item)
    data.setdefault("processing_info", {"state": "succeeded", "progress_percent": 100})
    return {"data": data}


@router.post("/2/media/upload/initialize")
async def media_initialize(request: Request, me: Me) -> dict[str, Any]:
    state = state_of(request)
    params = await _params(request)
    item = _start(
        state,
        me,
        params.get_str("media_type"),
        params.get("total_bytes"),
        params.get_str("media_category"),
    )
    return {"data": _upload_json(state, item)}


@router.post("/2/media/upload/{media_id}/append")
async def media_append(request: Request, media_id: str, me: Me) -> dict[str, Any]:
    state = state_of(request)
    params = await _params(request)
    item = _owned_media(state, me, media_id)
    _append(state, item, params.get("segment_index"), _chunk(params))
    return {"data": {"expires_at": int(item.meta["expires_at"].timestamp())}}


@router.post("/2/media/upload/{media_id}/finalize")
async def media_finalize(request: Request, media_id: str, me: Me) -> dict[str, Any]:
    state = state_of(request)
    item = _owned_media(state, me, media_id)
    _finish(state, item)
    return {"data": _upload_json(state, item)}


@router.post("/2/media/metadata")
async def media_metadata(request: Request, me: Me) -> dict[str, Any]:
    """Alt text: ``{"id": "<media id>", "metadata": {"alt_text": {"text": "…"}}}``."""
    state = state_of(request)
    params = await _params(request)
    media_id = params.get_str("id")
    metadata = params.get("metadata")
    item = _owned_media(state, me, media_id)
    alt = metadata.get("alt_text") if isinstance(metadata, dict) else None
    text = alt.get("text") if isinstance(alt, dict) else None
    if not isinstance(text, str):
        raise invalid_request(
            "$.metadata.alt_text.text: is missing but it is required", {"metadata": []}
        )
    if len(text) > 1000:
        raise invalid_request(
            "$.metadata.alt_text.text: may only be 1000 characters long", {"metadata": [text[:20]]}
        )
    item.description = text
    return {"data": {"id": item.id, "associated_metadata": {"alt_text": {"text": text}}}}


@router.get("/media-files/{media_id}")
async def media_file(request: Request, media_id: str) -> Response:
    """Where the emulator serves uploaded bytes (pbs.twimg.com / video.twimg.com stand-in)."""
    state = state_of(request)
    item = state.media_item(PLATFORM, media_id)
    if item is None or not item.meta.get("finalized") or not item.processed(state.now()):
        return Response(status_code=404)
    return Response(content=item.data, media_type=item.mime_type)
