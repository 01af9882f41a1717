"""Mirror content filters: types, hashtags to include and to exclude."""

from __future__ import annotations

from datetime import UTC, datetime

from herald.mirroring import filter_reason
from platforms.base import SourcePost


def _post(kind: str = "text", *tags: str) -> SourcePost:
    return SourcePost(id="1", created_at=datetime.now(UTC), text="t", kind=kind, hashtags=tags)


def test_types_and_hashtags() -> None:
    settings = {
        "content_filters": {
            "types": {"text": True, "image": False},
            "hashtags": {"include": ["#News", "launch"], "exclude": ["draft"]},
        }
    }
    assert filter_reason(settings, _post("text", "news")) is None
    assert filter_reason(settings, _post("video", "launch")) is None  # types not named pass
    assert "image" in str(filter_reason(settings, _post("image", "news")))
    assert "required" in str(filter_reason(settings, _post("text", "other")))
    assert "excluded" in str(filter_reason(settings, _post("text", "news", "draft")))
    assert filter_reason({}, _post("quote")) is None
