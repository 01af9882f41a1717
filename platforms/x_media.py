"""Media upload through X API v2 (docs.x.com "Media upload", chunked quickstart).

``POST /2/media/upload/initialize`` (JSON: media_type, total_bytes, media_category) opens an
upload; ``POST /2/media/upload/{id}/append`` sends each chunk as the multipart part ``media``
with its ``segment_index``; ``POST /2/media/upload/{id}/finalize`` closes it. Videos and GIFs
then process: ``processing_info.state`` is polled with ``GET /2/media/upload?command=STATUS``
after ``check_after_secs`` while pending or in_progress; failed is a refusal. Alt text goes
through ``POST /2/media/metadata``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from platforms.base import AccountContext, MediaItem, Rejected, Transient
from platforms.x_http import XApi

CHUNK = 4 * 1024 * 1024  # under the 5 MB per-APPEND limit
PROCESSING_LIMIT_S = 300.0
MAX_ALT_TEXT = 1000


def category_of(item: MediaItem) -> str:
    if item.mime_type.startswith("video/"):
        return "tweet_video"
    if item.mime_type == "image/gif":
        return "tweet_gif"
    return "tweet_image"


def is_single_only(item: MediaItem) -> bool:
    """Videos and (animated) GIFs go alone on a Tweet."""
    return category_of(item) != "tweet_image"


async def upload(api: XApi, account: AccountContext, item: MediaItem) -> str:
    started = await api.call(
        account,
        "POST",
        "/2/media/upload/initialize",
        json={
            "media_type": item.mime_type,
            "total_bytes": item.size,
            "media_category": category_of(item),
        },
    )
    media_id = str(started["data"]["id"])
    for index, offset in enumerate(range(0, item.size, CHUNK)):
        # One segment in memory at a time: the video itself stays in storage.
        segment = await item.content.read(offset, min(offset + CHUNK, item.size))
        await api.call(
            account,
            "POST",
            f"/2/media/upload/{media_id}/append",
            data={"segment_index": str(index)},
            files={"media": (item.filename, segment, item.mime_type)},
        )
    finished = await api.call(account, "POST", f"/2/media/upload/{media_id}/finalize")
    await _wait_for_processing(api, account, media_id, finished.get("data") or {})
    if item.description:
        await api.call(
            account,
            "POST",
            "/2/media/metadata",
            json={
                "id": media_id,
                "metadata": {"alt_text": {"text": item.description[:MAX_ALT_TEXT]}},
            },
        )
    return media_id


async def _wait_for_processing(
    api: XApi, account: AccountContext, media_id: str, data: dict[str, Any]
) -> None:
    waited = 0.0
    while True:
        info = data.get("processing_info") or {}
        state = info.get("state")
        if state in (None, "succeeded"):
            return
        if state == "failed":
            error = info.get("error") or {}
            raise Rejected(
                str(error.get("message") or "X could not process the media"),
                code=str(error.get("name") or error.get("code") or "media_failed"),
            )
        if waited >= PROCESSING_LIMIT_S:
            raise Transient(f"X is still processing media {media_id}")
        delay = float(info.get("check_after_secs") or 1)
        delay = min(max(delay, 0.5), PROCESSING_LIMIT_S - waited)
        await asyncio.sleep(delay)
        waited += delay
        answer = await api.call(
            account,
            "GET",
            "/2/media/upload",
            params={"command": "STATUS", "media_id": media_id},
        )
        data = answer.get("data") or {}
