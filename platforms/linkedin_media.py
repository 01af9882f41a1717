"""Uploading images and videos to LinkedIn (Images API, Videos API) before a post names them.

Images: ``initializeUpload`` → ``PUT`` the bytes to ``uploadUrl`` → wait for AVAILABLE.
Videos: ``initializeUpload`` with the size → ``PUT`` each byte range of
``uploadInstructions`` (each answers an ETag) → ``finalizeUpload`` with the ETags in order →
wait for AVAILABLE.
"""

from __future__ import annotations

import asyncio
from typing import Any

from platforms.base import AccountContext, MediaItem, Rejected, Transient
from platforms.linkedin_http import LinkedInApi, encoded

POLL_FIRST_S = 0.25
POLL_MAX_S = 5.0
IMAGE_LIMIT_S = 60.0
VIDEO_LIMIT_S = 600.0


def is_video(item: MediaItem) -> bool:
    return item.mime_type.startswith("video/")


async def upload(api: LinkedInApi, account: AccountContext, owner: str, item: MediaItem) -> str:
    if is_video(item):
        return await _upload_video(api, account, owner, item)
    return await _upload_image(api, account, owner, item)


async def _upload_image(
    api: LinkedInApi, account: AccountContext, owner: str, item: MediaItem
) -> str:
    started = await api.json(
        account,
        "POST",
        "/rest/images?action=initializeUpload",
        json={"initializeUploadRequest": {"owner": owner}},
    )
    value = started["value"]
    urn = str(value["image"])
    await api.send(
        "PUT",
        str(value["uploadUrl"]),
        content=item.content.body(),
        headers={
            "Authorization": f"Bearer {account.credentials['access_token']}",
            "Content-Type": "application/octet-stream",
            "Content-Length": str(item.size),
        },
    )
    await _wait_available(api, account, f"/rest/images/{encoded(urn)}", urn, IMAGE_LIMIT_S)
    return urn


async def _upload_video(
    api: LinkedInApi, account: AccountContext, owner: str, item: MediaItem
) -> str:
    started = await api.json(
        account,
        "POST",
        "/rest/videos?action=initializeUpload",
        json={
            "initializeUploadRequest": {
                "owner": owner,
                "fileSizeBytes": item.size,
                "uploadCaptions": False,
                "uploadThumbnail": False,
            }
        },
    )
    value = started["value"]
    urn = str(value["video"])
    etags: list[str] = []
    for part in value.get("uploadInstructions") or []:
        first, last = int(part["firstByte"]), int(part["lastByte"])
        answer = await api.send(
            "PUT",
            str(part["uploadUrl"]),
            content=item.content.body(first, last + 1),
            headers={
                "Content-Type": "application/octet-stream",
                "Content-Length": str(last + 1 - first),
            },
        )
        etag = answer.headers.get("etag")
        if not etag:
            raise Transient(f"LinkedIn answered no ETag for part {len(etags)} of {urn}")
        etags.append(etag)
    await api.json(
        account,
        "POST",
        "/rest/videos?action=finalizeUpload",
        json={
            "finalizeUploadRequest": {
                "video": urn,
                "uploadToken": value.get("uploadToken") or "",
                "uploadedPartIds": etags,
            }
        },
    )
    await _wait_available(api, account, f"/rest/videos/{encoded(urn)}", urn, VIDEO_LIMIT_S)
    return urn


async def _wait_available(
    api: LinkedInApi, account: AccountContext, path: str, urn: str, limit_s: float
) -> None:
    delay = POLL_FIRST_S
    waited = 0.0
    while True:
        found: dict[str, Any] = await api.json(account, "GET", path)
        status = found.get("status")
        if status == "AVAILABLE":
            return
        if status == "PROCESSING_FAILED":
            reason = found.get("processingFailureReason") or "PROCESSING_FAILED"
            raise Rejected(f"LinkedIn could not process {urn}: {reason}", code=str(reason))
        if waited >= limit_s:
            raise Transient(f"LinkedIn is still processing {urn} ({status})")
        await asyncio.sleep(delay)
        waited += delay
        delay = min(delay * 2, POLL_MAX_S)
