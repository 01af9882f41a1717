"""X's content rules, checked before anything is sent: weighted length per Tweet (the post and
each thread part), up to 4 images or one video / animated GIF alone, accepted media types."""

from __future__ import annotations

from platforms.base import PublishRequest, ValidationProblem
from platforms.x_media import is_single_only
from platforms.x_text import MAX_WEIGHTED_LENGTH, weighted_length

MAX_IMAGES = 4
THREAD_LIMIT = 25  # X's own composer stops at 25 Tweets per thread
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
VIDEO_TYPES = frozenset({"video/mp4", "video/quicktime"})


def _length_problems(text: str, path: str) -> list[ValidationProblem]:
    length = weighted_length(text)
    if length <= MAX_WEIGHTED_LENGTH:
        return []
    return [
        ValidationProblem(
            "text_too_long",
            f"{length} weighted characters (links count 23, CJK and emoji 2); X allows "
            f"{MAX_WEIGHTED_LENGTH}",
            path,
        )
    ]


def validate_request(request: PublishRequest) -> list[ValidationProblem]:
    problems: list[ValidationProblem] = []
    if not request.text.strip() and not request.media:
        problems.append(ValidationProblem("empty", "X needs text or media", "content"))
    problems += _length_problems(request.text, "content")
    for index, item in enumerate(request.media):
        if item.mime_type not in IMAGE_TYPES | VIDEO_TYPES:
            problems.append(
                ValidationProblem(
                    "unsupported_media",
                    f"{item.mime_type} is not accepted: X takes JPEG, PNG, GIF or WEBP images "
                    "and MP4 or MOV videos",
                    f"media_ids.{index}",
                )
            )
    if len(request.media) > 1 and any(is_single_only(m) for m in request.media):
        problems.append(
            ValidationProblem(
                "video_with_other_media",
                "X takes one video or animated GIF alone, not with other media",
                "media_ids",
            )
        )
    elif len(request.media) > MAX_IMAGES:
        problems.append(
            ValidationProblem(
                "too_many_media", f"X allows {MAX_IMAGES} images per post", "media_ids"
            )
        )
    raw_parts = request.options.get("thread")
    if isinstance(raw_parts, list):
        if len(raw_parts) + 1 > THREAD_LIMIT:
            problems.append(
                ValidationProblem(
                    "thread_too_long",
                    f"{len(raw_parts) + 1} posts; X threads hold {THREAD_LIMIT}",
                    "options.thread",
                )
            )
        for index, part in enumerate(raw_parts):
            text = part.get("text") if isinstance(part, dict) else part
            if isinstance(text, str):
                problems += _length_problems(text, f"options.thread.{index}")
    return problems
