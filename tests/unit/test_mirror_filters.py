"""Mirror content filters: types, hashtags to include and to exclude, media kinds to carry."""

from __future__ import annotations

from datetime import UTC, datetime

from herald.mirroring import carried_media, filter_reason
from platforms.base import SourceMedia, SourcePost


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


def test_media_kinds_to_carry() -> None:
    photo = SourceMedia("https://pds.example/a", "image/jpeg", "a cat")
    clip = SourceMedia("https://pds.example/b", "video/*")
    song = SourceMedia("https://pds.example/c", "audio/mpeg")
    post = SourcePost(
        id="1", created_at=datetime.now(UTC), text="t", kind="image", media=(photo, clip, song)
    )
    assert carried_media({}, post) == [photo, clip]  # audio never: the library takes none
    no_video = {"content_filters": {"media": {"video": False}}}
    assert carried_media(no_video, post) == [photo]
    # A post left with neither text nor media is not copied, and says why.
    bare = SourcePost(id="2", created_at=datetime.now(UTC), text=" ", kind="video", media=(clip,))
    assert filter_reason({}, bare) is None
    assert "media" in str(filter_reason(no_video, bare))
