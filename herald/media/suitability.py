"""Which platforms can take a media file, and why not, computed once when it is probed.

Limits are the platforms' documented ones for API uploads (single image or video posts).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from herald.media.probe import Probe

MB = 1024 * 1024


@dataclass(frozen=True)
class MediaRules:
    image_types: frozenset[str]
    video_types: frozenset[str]
    max_image_bytes: int
    max_video_bytes: int
    max_video_s: float | None = None
    min_video_s: float | None = None
    # Width / height bounds, when the platform enforces them.
    min_aspect: float | None = None
    max_aspect: float | None = None


JPEG_PNG = frozenset({"image/jpeg", "image/png"})
COMMON_IMAGES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
MP4 = frozenset({"video/mp4"})

RULES: dict[str, MediaRules] = {
    "mastodon": MediaRules(COMMON_IMAGES, MP4 | {"video/webm"}, 16 * MB, 99 * MB),
    "bluesky": MediaRules(COMMON_IMAGES, MP4, 1_000_000, 100 * MB, max_video_s=180),
    "x": MediaRules(COMMON_IMAGES, MP4, 5 * MB, 512 * MB, max_video_s=140, min_video_s=0.5),
    "linkedin": MediaRules(COMMON_IMAGES, MP4, 36 * MB, 500 * MB, max_video_s=900, min_video_s=3),
    "facebook": MediaRules(COMMON_IMAGES, MP4, 10 * MB, 4096 * MB, max_video_s=14_400),
    "instagram": MediaRules(
        frozenset({"image/jpeg"}),
        MP4,
        8 * MB,
        1024 * MB,
        max_video_s=900,
        min_video_s=3,
        min_aspect=4 / 5,
        max_aspect=1.91,
    ),
    "threads": MediaRules(JPEG_PNG, MP4, 8 * MB, 1024 * MB, max_video_s=300),
    "tiktok": MediaRules(
        frozenset({"image/jpeg", "image/webp"}),
        MP4 | {"video/webm"},
        20 * MB,
        4096 * MB,
        max_video_s=600,
        min_video_s=3,
    ),
}


def problems_for(rules: MediaRules, probe: Probe, size: int) -> list[str]:
    problems = []
    kinds, limit = (
        (rules.video_types, rules.max_video_bytes)
        if probe.is_video
        else (rules.image_types, rules.max_image_bytes)
    )
    if probe.mime_type not in kinds:
        problems.append(f"{probe.mime_type} is not accepted")
    if size > limit:
        problems.append(f"{size} bytes is over the {limit}-byte limit")
    if probe.is_video and probe.duration_s is not None:
        if rules.max_video_s is not None and probe.duration_s > rules.max_video_s:
            problems.append(f"{probe.duration_s:.1f} s is longer than {rules.max_video_s:.0f} s")
        if rules.min_video_s is not None and probe.duration_s < rules.min_video_s:
            problems.append(f"{probe.duration_s:.1f} s is shorter than {rules.min_video_s:.1f} s")
    aspect = probe.width / probe.height
    if rules.min_aspect is not None and aspect < rules.min_aspect - 0.01:
        problems.append(f"aspect ratio {aspect:.2f} is narrower than {rules.min_aspect:.2f}")
    if rules.max_aspect is not None and aspect > rules.max_aspect + 0.01:
        problems.append(f"aspect ratio {aspect:.2f} is wider than {rules.max_aspect:.2f}")
    return problems


def suitability(probe: Probe, size: int) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for platform, rules in RULES.items():
        problems = problems_for(rules, probe, size)
        result[platform] = {"ok": not problems, "problems": problems}
    return result
