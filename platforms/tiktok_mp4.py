"""A video's duration from its MP4 / QuickTime header (the ``mvhd`` box), without decoding.

TikTok refuses videos longer than the creator's ``max_video_post_duration_sec``; the adapter
reads the duration from the bytes it is about to upload: the top-level box headers (a few
small ranged reads, wherever ``moov`` sits: before or after a media box of gigabytes), then
``moov`` alone. None when it cannot tell (WebM, or a damaged file): TikTok then judges the file
itself.
"""

from __future__ import annotations

import struct

from platforms.content import MediaContent

# Top-level boxes looked at before giving up (ftyp, free, mdat, moov, udta ... are a handful),
# and the largest moov read (an hour of video has a few megabytes of sample tables).
MAX_TOP_BOXES = 64
MAX_MOOV_BYTES = 32 * 1024 * 1024


def _boxes(data: bytes, start: int, end: int) -> list[tuple[bytes, int, int]]:
    """(type, payload start, box end) of the boxes between start and end."""
    found = []
    offset = start
    while offset + 8 <= end:
        size, kind = struct.unpack(">I4s", data[offset : offset + 8])
        header = 8
        if size == 1:
            if offset + 16 > end:
                break
            (size,) = struct.unpack(">Q", data[offset + 8 : offset + 16])
            header = 16
        elif size == 0:
            size = end - offset
        if size < header or offset + size > end:
            break
        found.append((kind, offset + header, offset + size))
        offset += size
    return found


def _mvhd_duration_s(moov: bytes) -> float | None:
    for inner, payload, inner_end in _boxes(moov, 0, len(moov)):
        if inner != b"mvhd" or inner_end - payload < 20:
            continue
        version = moov[payload]
        if version == 1 and inner_end - payload >= 32:
            timescale, duration = struct.unpack(">IQ", moov[payload + 20 : payload + 32])
        else:
            timescale, duration = struct.unpack(">II", moov[payload + 12 : payload + 20])
        return duration / timescale if timescale else None
    return None


async def mp4_duration_s(content: MediaContent) -> float | None:
    offset, size = 0, content.size
    for _ in range(MAX_TOP_BOXES):
        if offset + 8 > size:
            return None
        header = await content.read(offset, min(offset + 16, size))
        box_size, kind = struct.unpack(">I4s", header[:8])
        header_size = 16 if box_size == 1 else 8
        if box_size == 1:
            if len(header) < 16:
                return None
            (box_size,) = struct.unpack(">Q", header[8:16])
        elif box_size == 0:
            box_size = size - offset
        if box_size < header_size or offset + box_size > size:
            return None
        if kind == b"moov":
            if box_size > MAX_MOOV_BYTES:
                return None
            return _mvhd_duration_s(await content.read(offset + header_size, offset + box_size))
        offset += box_size
    return None
