"""Mirror rules: which source posts pass a mirror's content filters, and which of their
media the copies carry (pure)."""

from __future__ import annotations

from typing import Any

from platforms.base import SourceMedia, SourcePost


def filter_reason(settings: dict[str, Any], post: SourcePost) -> str | None:
    """None when the post passes; otherwise why it is filtered out."""
    filters = settings.get("content_filters") or {}
    types = filters.get("types") or {}
    if types.get(post.kind) is False:
        return f"{post.kind} posts are filtered out"
    hashtags = filters.get("hashtags") or {}
    tags = {t.lower().lstrip("#") for t in post.hashtags}
    include = {str(t).lower().lstrip("#") for t in hashtags.get("include") or []}
    exclude = {str(t).lower().lstrip("#") for t in hashtags.get("exclude") or []}
    if include and not tags & include:
        return "none of the required hashtags: " + ", ".join(sorted(include))
    blocked = tags & exclude
    if blocked:
        return "an excluded hashtag: " + ", ".join(sorted(blocked))
    if not post.text.strip() and not carried_media(settings, post):
        return "no text, and none of its media is carried (content_filters.media)"
    return None


def carried_media(settings: dict[str, Any], post: SourcePost) -> list[SourceMedia]:
    """The post's images and videos the copies carry, in the post's order: the kinds
    `content_filters.media` does not switch off (both are carried unless it does). Other files
    (audio) are never carried: Herald's media library takes images and video only."""
    filters = (settings.get("content_filters") or {}).get("media") or {}
    return [m for m in post.media if m.kind != "other" and filters.get(m.kind) is not False]
