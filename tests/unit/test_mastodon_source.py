"""What a mirror reads from a Mastodon status: the attachments' original files (not their
previews) with their descriptions, as the kind Mastodon names; audio is not carried."""

from __future__ import annotations

from platforms.base import SourceMedia
from platforms.mastodon import MastodonAdapter


def test_attachments_become_source_media() -> None:
    status = {
        "id": "1",
        "created_at": "2026-01-15T14:00:00.000Z",
        "content": "<p>look</p>",
        "media_attachments": [
            {
                "type": "image",
                "url": "https://files.example/original/a.jpg",
                "preview_url": "https://files.example/small/a.jpg",
                "description": " a red door ",
            },
            {"type": "gifv", "url": "https://files.example/original/b.mp4", "description": None},
            {"type": "audio", "url": "https://files.example/original/c.mp3"},
        ],
    }
    post = MastodonAdapter._source(status)
    assert post.kind == "video"  # a GIF is a video on Mastodon
    assert post.media == (
        SourceMedia("https://files.example/original/a.jpg", "image/*", "a red door"),
        SourceMedia("https://files.example/original/b.mp4", "video/mp4", None),
    )
