"""Mirror rules: which source posts pass a mirror's content filters (pure)."""

from __future__ import annotations

from typing import Any

from platforms.base import SourcePost


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
    return None
