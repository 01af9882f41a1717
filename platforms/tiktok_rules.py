"""TikTok's publishing rules that need no I/O: Herald's options, media mix and text limits.

Options (seed 003): ``privacy_level`` (required for direct posts: PUBLIC_TO_EVERYONE,
MUTUAL_FOLLOW_FRIENDS, FOLLOWER_OF_CREATOR or SELF_ONLY), ``disable_comment``,
``disable_duet``, ``disable_stitch``, ``brand_content_toggle`` (a paid partnership; TikTok does
not allow it to be private), ``brand_organic_toggle``, ``publish_mode`` (``direct`` or
``inbox``); also ``title`` (photo posts' title), ``video_cover_timestamp_ms`` and
``photo_cover_index``. Lengths are counted in UTF-16 runes, as TikTok counts them.
"""

from __future__ import annotations

from typing import Any

from platforms.base import MediaItem, PublishRequest, ValidationProblem

PRIVACY_LEVELS = ("PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "FOLLOWER_OF_CREATOR", "SELF_ONLY")
PUBLISH_MODES = ("direct", "inbox")
BOOLEAN_OPTIONS = (
    "disable_comment",
    "disable_duet",
    "disable_stitch",
    "brand_content_toggle",
    "brand_organic_toggle",
)
MAX_VIDEO_TITLE = 2200
MAX_PHOTO_TITLE = 90
MAX_PHOTO_DESCRIPTION = 4000
MAX_PHOTOS = 35


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def publish_mode(options: dict[str, Any]) -> str:
    mode = options.get("publish_mode") or "direct"
    return str(mode)


def is_video(item: MediaItem) -> bool:
    return item.mime_type.startswith("video/")


def _problem(code: str, message: str, path: str) -> ValidationProblem:
    return ValidationProblem(code, message, path)


def _media_problems(media: list[MediaItem]) -> list[ValidationProblem]:
    if not media:
        return [_problem("media_required", "TikTok posts need a video or photos", "media_ids")]
    videos = [m for m in media if is_video(m)]
    others = [m for m in media if not is_video(m) and not m.mime_type.startswith("image/")]
    problems = []
    if others:
        problems.append(
            _problem("unsupported_media", "TikTok takes videos and photos only", "media_ids")
        )
    if videos and len(media) > 1:
        problems.append(
            _problem(
                "video_with_other_media",
                "A TikTok video post holds exactly one video and nothing else",
                "media_ids",
            )
        )
    if not videos and len(media) > MAX_PHOTOS:
        problems.append(
            _problem(
                "too_many_media",
                f"TikTok photo posts hold at most {MAX_PHOTOS} photos",
                "media_ids",
            )
        )
    return problems


def _text_problems(request: PublishRequest, photo: bool) -> list[ValidationProblem]:
    problems = []
    length = utf16_length(request.text)
    limit = MAX_PHOTO_DESCRIPTION if photo else MAX_VIDEO_TITLE
    if length > limit:
        what = "photo post descriptions" if photo else "video captions"
        problems.append(
            _problem(
                "text_too_long",
                f"{length} characters (UTF-16); TikTok allows {limit} in {what}",
                "content",
            )
        )
    title = request.options.get("title")
    if title is not None:
        if not isinstance(title, str):
            problems.append(_problem("invalid_option", "title must be text", "options.title"))
        elif photo and utf16_length(title) > MAX_PHOTO_TITLE:
            problems.append(
                _problem(
                    "title_too_long",
                    f"TikTok photo titles hold at most {MAX_PHOTO_TITLE} characters",
                    "options.title",
                )
            )
    return problems


def _option_problems(request: PublishRequest, photo: bool) -> list[ValidationProblem]:
    options = request.options
    problems = []
    mode = publish_mode(options)
    if mode not in PUBLISH_MODES:
        problems.append(
            _problem(
                "invalid_option", "publish_mode must be direct or inbox", "options.publish_mode"
            )
        )
    privacy = options.get("privacy_level")
    if privacy is None and mode == "direct":
        problems.append(
            _problem(
                "privacy_level_required",
                "TikTok direct posts need options.privacy_level; choose one of "
                + ", ".join(PRIVACY_LEVELS),
                "options.privacy_level",
            )
        )
    elif privacy is not None and privacy not in PRIVACY_LEVELS:
        problems.append(
            _problem(
                "invalid_option",
                f"privacy_level must be one of {', '.join(PRIVACY_LEVELS)}",
                "options.privacy_level",
            )
        )
    for name in BOOLEAN_OPTIONS:
        if name in options and not isinstance(options[name], bool):
            problems.append(
                _problem("invalid_option", f"{name} must be true or false", f"options.{name}")
            )
    if options.get("brand_content_toggle") is True and privacy == "SELF_ONLY":
        problems.append(
            _problem(
                "branded_content_private",
                "Branded content (brand_content_toggle) cannot be posted with privacy SELF_ONLY",
                "options.brand_content_toggle",
            )
        )
    for name, allowed in (
        ("video_cover_timestamp_ms", not photo),
        ("photo_cover_index", photo),
    ):
        value = options.get(name)
        if value is None or not allowed:
            continue
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            problems.append(
                _problem("invalid_option", f"{name} must be a whole number", f"options.{name}")
            )
        elif name == "photo_cover_index" and value >= len(request.media):
            problems.append(
                _problem(
                    "invalid_option", "photo_cover_index is past the last photo", f"options.{name}"
                )
            )
    if request.thread:
        problems.append(
            _problem("threads_unsupported", "TikTok posts cannot have threads", "options.thread")
        )
    if request.first_comment:
        problems.append(
            _problem(
                "first_comment_unsupported",
                "TikTok's API cannot comment on a post",
                "options.first_comment",
            )
        )
    return problems


def validate(request: PublishRequest) -> list[ValidationProblem]:
    photo = bool(request.media) and not any(is_video(m) for m in request.media)
    return [
        *_media_problems(request.media),
        *_text_problems(request, photo),
        *_option_problems(request, photo),
    ]
