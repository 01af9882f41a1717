"""LinkedIn's content rules for `validate` (pure): commentary length, media mix and count,
no threads.

Posts API: commentary up to 3000 characters (counted here as UTF-16 units of the escaped
"little" text, so escapes LinkedIn will see count too); one image, 2 to 20 images as a
multiImage post, or one video alone; images JPEG, PNG or GIF, videos MP4. Media is never
required. A first comment is plain text (not "little") of at most 1250 characters.
"""

from __future__ import annotations

from platforms.base import PublishRequest, ValidationProblem
from platforms.linkedin_text import MAX_COMMENTARY, commentary_length, utf16_length

MAX_IMAGES = 20
MAX_COMMENT = 1250
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif"})
VIDEO_TYPES = frozenset({"video/mp4"})
# Member posts: anyone, or 1st-degree connections only.
VISIBILITIES = frozenset({"PUBLIC", "CONNECTIONS"})


def validate_request(request: PublishRequest) -> list[ValidationProblem]:
    problems: list[ValidationProblem] = []
    if not request.text.strip() and not request.media:
        problems.append(ValidationProblem("empty", "LinkedIn needs text or media", "content"))
    length = commentary_length(request.text)
    if length > MAX_COMMENTARY:
        problems.append(
            ValidationProblem(
                "text_too_long",
                f"{length} characters (reserved characters count with their escape); "
                f"LinkedIn allows {MAX_COMMENTARY}",
                "content",
            )
        )
    problems += _media_problems(request)
    comment = request.first_comment
    if comment and utf16_length(comment) > MAX_COMMENT:
        problems.append(
            ValidationProblem(
                "text_too_long",
                f"{utf16_length(comment)} characters; LinkedIn comments take {MAX_COMMENT}",
                "options.first_comment",
            )
        )
    visibility = request.options.get("visibility")
    if visibility is not None and visibility not in VISIBILITIES:
        problems.append(
            ValidationProblem(
                "invalid_option",
                f"visibility must be one of {', '.join(sorted(VISIBILITIES))}",
                "options.visibility",
            )
        )
    if request.options.get("thread"):
        problems.append(
            ValidationProblem(
                "unsupported_option",
                "LinkedIn has no threads; use options.first_comment for a comment under the post",
                "options.thread",
            )
        )
    return problems


def _media_problems(request: PublishRequest) -> list[ValidationProblem]:
    problems: list[ValidationProblem] = []
    videos = [item for item in request.media if item.mime_type.startswith("video/")]
    for index, item in enumerate(request.media):
        if item.mime_type not in IMAGE_TYPES | VIDEO_TYPES:
            problems.append(
                ValidationProblem(
                    "unsupported_media",
                    f"{item.mime_type} is not accepted: LinkedIn takes JPEG, PNG or GIF images "
                    "and MP4 videos",
                    f"media_ids.{index}",
                )
            )
    if videos and len(request.media) > 1:
        problems.append(
            ValidationProblem(
                "video_with_other_media",
                "LinkedIn takes one video alone, not with other videos or images",
                "media_ids",
            )
        )
    if len(request.media) > MAX_IMAGES:
        problems.append(
            ValidationProblem(
                "too_many_media", f"LinkedIn takes at most {MAX_IMAGES} images", "media_ids"
            )
        )
    return problems
