"""Mastodon REST entities (docs.joinmastodon.org/entities) built from emulator state.

``base`` is always the instance URL, e.g. ``http://127.0.0.1:8123/mastodon``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from emulator.engagement import account_counts, post_counts
from emulator.state import Account, EmulatorState, MediaItem, Post
from emulator.timefmt import rfc3339

PLATFORM = "mastodon"

IMAGE_SIZE_LIMIT = 16 * 1024 * 1024  # 16777216
VIDEO_SIZE_LIMIT = 99 * 1024 * 1024  # 103809024
MAX_MEDIA_ATTACHMENTS = 4

# MediaAttachment's supported types, as listed by /api/v2/instance.
IMAGE_MIME_TYPES = (
    "image/jpeg",
    "image/png",
    "image/gif",
    "image/heic",
    "image/heif",
    "image/webp",
    "image/avif",
)
VIDEO_MIME_TYPES = ("video/webm", "video/mp4", "video/quicktime", "video/ogg", "video/x-ms-asf")
AUDIO_MIME_TYPES = (
    "audio/wave",
    "audio/wav",
    "audio/x-wav",
    "audio/x-pn-wave",
    "audio/vnd.wave",
    "audio/ogg",
    "audio/vorbis",
    "audio/mpeg",
    "audio/mp3",
    "audio/webm",
    "audio/flac",
    "audio/aac",
    "audio/m4a",
    "audio/x-m4a",
    "audio/mp4",
    "audio/3gpp",
)
SUPPORTED_MIME_TYPES = IMAGE_MIME_TYPES + VIDEO_MIME_TYPES + AUDIO_MIME_TYPES


def media_type_for(mime: str) -> str | None:
    """Mastodon's attachment type: GIFs become looping videos (gifv), processed async."""
    if mime == "image/gif":
        return "gifv"
    if mime in IMAGE_MIME_TYPES:
        return "image"
    if mime in VIDEO_MIME_TYPES:
        return "video"
    if mime in AUDIO_MIME_TYPES:
        return "audio"
    return None


def account_url(base: str, account: Account) -> str:
    return f"{base}/@{account.username}"


def status_url(base: str, account: Account, post: Post) -> str:
    return f"{base}/@{account.username}/{post.id}"


def media_file_url(base: str, media: MediaItem) -> str:
    return f"{base}/media-files/{media.id}"


def _own_posts(state: EmulatorState, account: Account) -> list[Post]:
    return [p for p in state.posts_of(account.id) if p.platform == PLATFORM and not p.deleted]


def account_entity(base: str, account: Account, state: EmulatorState) -> dict[str, Any]:
    posts = _own_posts(state, account)
    last = max((p.created_at for p in posts), default=None)
    # Mastodon publishes account creation rounded to midnight UTC.
    created = account.created_at.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    audience = account_counts(account, state.now())
    return {
        "id": account.id,
        "username": account.username,
        "acct": account.username,
        "display_name": account.display_name,
        "locked": False,
        "bot": False,
        "discoverable": True,
        "indexable": False,
        "group": False,
        "created_at": rfc3339(created),
        "note": "",
        "url": account_url(base, account),
        "uri": f"{base}/users/{account.username}",
        "avatar": f"{base}/avatars/original/missing.png",
        "avatar_static": f"{base}/avatars/original/missing.png",
        "header": f"{base}/headers/original/missing.png",
        "header_static": f"{base}/headers/original/missing.png",
        "followers_count": audience.followers,
        "following_count": audience.following,
        "statuses_count": len(posts),
        "last_status_at": last.astimezone(UTC).date().isoformat() if last else None,
        "hide_collections": False,
        "noindex": False,
        "emojis": [],
        "roles": [],
        "fields": [],
    }


def credential_account_entity(base: str, account: Account, state: EmulatorState) -> dict[str, Any]:
    """The CredentialAccount of verify_credentials: the account plus its private source."""
    return {
        **account_entity(base, account, state),
        "source": {
            "privacy": "public",
            "sensitive": False,
            "language": "",
            "note": "",
            "fields": [],
            "follow_requests_count": 0,
            "hide_collections": False,
            "discoverable": True,
            "indexable": False,
            "attribution_domains": [],
        },
        "role": {
            "id": "-99",
            "name": "",
            "permissions": "0",
            "color": "",
            "highlighted": False,
        },
    }


def media_entity(
    base: str, media: MediaItem, now: datetime, *, force_pending: bool = False
) -> dict[str, Any]:
    """``url`` stays null until processing is done (and in every 202 answer)."""
    ready = media.processed(now) and not force_pending and not media.discarded
    url = media_file_url(base, media) if ready else None
    return {
        "id": media.id,
        "type": media.type,
        "url": url,
        "preview_url": url,
        "remote_url": None,
        "preview_remote_url": None,
        "text_url": None,
        "meta": media.meta or None,
        "description": media.description,
        "blurhash": None,
    }


def status_entity(
    base: str,
    post: Post,
    state: EmulatorState,
    viewer: Account | None,
    *,
    with_source: bool = False,
) -> dict[str, Any]:
    account = state.accounts[post.account_id]
    parent = state.posts.get(post.in_reply_to_id) if post.in_reply_to_id else None
    own = viewer is not None and viewer.id == account.id
    now = state.now()
    replies = sum(1 for p in state.replies_to(post.id) if not p.deleted)
    grown = post_counts(post, now)
    entity: dict[str, Any] = {
        "id": post.id,
        "created_at": rfc3339(post.created_at),
        "in_reply_to_id": post.in_reply_to_id,
        "in_reply_to_account_id": parent.account_id if parent else None,
        "sensitive": bool(post.options.get("sensitive", False)),
        "spoiler_text": post.options.get("spoiler_text", ""),
        "visibility": post.options.get("visibility", "public"),
        "language": post.options.get("language"),
        "uri": f"{base}/users/{account.username}/statuses/{post.id}",
        "url": status_url(base, account, post),
        "replies_count": replies + grown["comments"],
        "reblogs_count": grown["shares"],
        "favourites_count": grown["likes"],
        "quotes_count": grown["quotes"],
        "edited_at": None,
        "content": post.options.get("content", ""),
        "reblog": None,
        "account": account_entity(base, account, state),
        "media_attachments": [
            media_entity(base, state.media[m], now) for m in post.media_ids if m in state.media
        ],
        "mentions": post.options.get("mentions", []),
        "tags": [
            {"name": t, "url": f"{base}/tags/{t.lower()}"} for t in post.options.get("tags", [])
        ],
        "emojis": [],
        "card": None,
        "poll": None,
        "quote": None,
    }
    if viewer is not None:
        # Per-viewer flags only exist for an authenticated viewer.
        entity.update(
            {"favourited": False, "reblogged": False, "muted": False, "bookmarked": False}
        )
        entity["filtered"] = []
    if own:
        entity["pinned"] = False
        entity["application"] = {"name": "Herald emulator client", "website": None}
    if with_source:
        entity["text"] = post.text
    return entity


def instance_entity(base: str, domain: str, state: EmulatorState) -> dict[str, Any]:
    settings = state.settings
    accounts = [a for a in state.accounts.values() if a.platform == PLATFORM]
    return {
        "domain": domain,
        "title": "Herald emulator (Mastodon)",
        "version": "4.3.0",
        "source_url": "https://github.com/mastodon/mastodon",
        "description": "An in-memory Mastodon API subset for testing Herald.",
        "usage": {"users": {"active_month": len(accounts)}},
        "thumbnail": {"url": f"{base}/packs/media/images/preview.png"},
        "icon": [],
        "languages": ["en"],
        "configuration": {
            "urls": {
                "streaming": f"ws://{domain}",
                "status": None,
                "about": f"{base}/about",
                "privacy_policy": f"{base}/privacy-policy",
                "terms_of_service": None,
            },
            "vapid": {"public_key": ""},
            "accounts": {
                "max_display_name_length": 30,
                "max_note_length": 500,
                "max_featured_tags": 10,
                "max_pinned_statuses": 5,
                "max_profile_fields": 4,
                "profile_field_name_limit": 255,
                "profile_field_value_limit": 255,
            },
            "statuses": {
                "max_characters": settings.max_characters,
                "max_media_attachments": MAX_MEDIA_ATTACHMENTS,
                "characters_reserved_per_url": 23,
            },
            "media_attachments": {
                "description_limit": 1500,
                "image_matrix_limit": 33177600,
                "image_size_limit": IMAGE_SIZE_LIMIT,
                "supported_mime_types": list(SUPPORTED_MIME_TYPES),
                "video_frame_rate_limit": 120,
                "video_matrix_limit": 8294400,
                "video_size_limit": VIDEO_SIZE_LIMIT,
            },
            "polls": {
                "max_options": 4,
                "max_characters_per_option": 50,
                "min_expiration": 300,
                "max_expiration": 2629746,
            },
            "translation": {"enabled": False},
            "limited_federation": False,
        },
        "registrations": {
            "enabled": False,
            "approval_required": False,
            "reason_required": False,
            "message": None,
            "min_age": None,
            "url": None,
        },
        "api_versions": {"mastodon": 2},
        "contact": {"email": "", "account": None},
        "rules": [],
    }
