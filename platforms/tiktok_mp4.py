"""A video's duration from its MP4 / QuickTime header (the ``mvhd`` box), without decoding.

TikTok refuses videos longer than the creator's ``max_video_post_duration_sec``; the adapter
reads the duration from the bytes it is about to upload. None when it cannot tell (WebM, or a
damaged file): TikTok then judges the file itself.
"""

from __future__ import annotations

import struct

_CONTAINERS = frozenset({b"moov"})


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


def mp4_duration_s(data: bytes) -> float | None:
    for kind, start, end in _boxes(data, 0, len(data)):
        if kind not in _CONTAINERS:
            continue
        for inner, payload, inner_end in _boxes(data, start, end):
            if inner != b"mvhd" or inner_end - payload < 20:
                continue
            version = data[payload]
            if version == 1 and inner_end - payload >= 32:
                timescale, duration = struct.unpack(">IQ", data[payload + 20 : payload + 32])
            else:
                timescale, duration = struct.unpack(">II", data[payload + 12 : payload + 20])
            return duration / timescale if timescale else None
    return None
