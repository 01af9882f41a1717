"""Threads media containers: created by ``POST /{user}/threads``, published later.

Like the real service the emulator downloads ``image_url`` / ``video_url`` itself, over HTTP,
after answering the container id: the container is ``IN_PROGRESS`` until the bytes arrived
(and, for videos, ``processing_s`` of emulator clock passed), then ``FINISHED``, or ``ERROR``
with an ``error_message`` when the download failed or the bytes are not acceptable media.
A carousel is ``IN_PROGRESS`` while any child is, ``ERROR`` when any child failed. A
container not published within 24 hours is ``EXPIRED``; a published one is ``PUBLISHED``.

Media rules (docs "Media Specifications"): images JPEG or PNG up to 8 MB; videos MP4 or MOV up
to 1 GB. Deviations: video duration, frame rate, bit rate and audio are not inspected; image
failures are reported as ``FAILED_DOWNLOADING_IMAGE`` / ``FAILED_PROCESSING_IMAGE`` (the docs
only itemise video error messages).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx

from emulator.media_meta import image_dimensions, sniff_mime
from emulator.state import EmulatorState, MediaItem
from emulator.threads_common import PLATFORM

MB = 1024 * 1024
IMAGE_TYPES = ("image/jpeg", "image/png")
VIDEO_TYPES = ("video/mp4", "video/quicktime")
MAX_IMAGE_BYTES = 8 * MB
MAX_VIDEO_BYTES = 1024 * MB
FETCH_TIMEOUT_S = 30.0
_TASKS = "fetch_tasks"


@dataclass
class Container:
    id: str
    account_id: str
    media_type: str  # TEXT | IMAGE | VIDEO | CAROUSEL
    text: str
    created_at: datetime
    is_carousel_item: bool = False
    source_url: str | None = None
    children: list[str] = field(default_factory=list)
    reply_to_id: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    fetched: bool = False
    error_message: str | None = None
    media_id: str | None = None  # the downloaded bytes, once fetched
    ready_at: datetime | None = None
    published_id: str | None = None


def containers(state: EmulatorState) -> dict[str, Container]:
    found: dict[str, Container] = state.scratch(PLATFORM).setdefault("containers", {})
    return found


def container_status(state: EmulatorState, container: Container) -> str:
    if container.published_id is not None:
        return "PUBLISHED"
    now = state.now()
    if now - container.created_at >= timedelta(seconds=state.settings.threads_container_ttl_s):
        return "EXPIRED"
    if container.media_type == "TEXT":
        return "FINISHED"
    if container.media_type == "CAROUSEL":
        table = containers(state)
        statuses = [container_status(state, table[c]) for c in container.children if c in table]
        if "ERROR" in statuses or "EXPIRED" in statuses:
            return "ERROR"
        return "IN_PROGRESS" if "IN_PROGRESS" in statuses else "FINISHED"
    if container.error_message is not None:
        return "ERROR"
    if not container.fetched or container.ready_at is None or now < container.ready_at:
        return "IN_PROGRESS"
    return "FINISHED"


def container_error(state: EmulatorState, container: Container) -> str | None:
    if container.media_type == "CAROUSEL":
        table = containers(state)
        for child in container.children:
            if child in table and container_status(state, table[child]) in ("ERROR", "EXPIRED"):
                return table[child].error_message or "UNKNOWN"
        return None
    return container.error_message


def start_fetch(state: EmulatorState, container: Container) -> None:
    """Downloads the container's media in the background; the answer does not wait for it."""
    task = asyncio.get_running_loop().create_task(_fetch(state, container))
    tasks: set[asyncio.Task[None]] = state.scratch(PLATFORM).setdefault(_TASKS, set())
    tasks.add(task)  # keep a reference until done, or the loop may drop the task
    task.add_done_callback(tasks.discard)


async def _fetch(state: EmulatorState, container: Container) -> None:
    video = container.media_type == "VIDEO"
    kind = "VIDEO" if video else "IMAGE"
    limit = MAX_VIDEO_BYTES if video else MAX_IMAGE_BYTES
    assert container.source_url is not None
    try:
        data = await _download(container.source_url, limit)
    except (httpx.HTTPError, _TooLarge, ValueError):
        data = None
    if data is None:
        container.error_message = f"FAILED_DOWNLOADING_{kind}"
        container.fetched = True
        return
    mime = sniff_mime(data)
    if mime not in (VIDEO_TYPES if video else IMAGE_TYPES):
        container.error_message = f"FAILED_PROCESSING_{kind}"
        container.fetched = True
        return
    now = state.now()
    ready = now + timedelta(seconds=state.settings.processing_s) if video else now
    item = MediaItem(
        platform=PLATFORM,
        id=state.ids.next(),
        account_id=container.account_id,
        type=kind.lower(),
        mime_type=mime or "application/octet-stream",
        data=data,
        description=container.options.get("alt_text"),
        created_at=now,
        ready_at=ready,
    )
    dimensions = image_dimensions(data)
    if dimensions:
        item.meta["width"], item.meta["height"] = dimensions
    state.media[item.id] = item
    container.media_id = item.id
    container.ready_at = ready
    container.fetched = True


class _TooLarge(Exception):
    pass


async def _download(url: str, limit: int) -> bytes | None:
    async with (
        httpx.AsyncClient(timeout=FETCH_TIMEOUT_S, follow_redirects=True) as client,
        client.stream("GET", url) as response,
    ):
        if response.status_code != 200:
            return None
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > limit:
                raise _TooLarge(url)
            chunks.append(chunk)
        return b"".join(chunks)


async def settle(state: EmulatorState) -> None:
    """Waits for every download under way (tests and shutdown)."""
    tasks: set[asyncio.Task[None]] = state.scratch(PLATFORM).get(_TASKS, set())
    if tasks:
        await asyncio.gather(*list(tasks), return_exceptions=True)
