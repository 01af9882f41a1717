"""TikTok Display API: ``GET /v2/user/info/``, ``POST /v2/video/list/`` and
``POST /v2/video/query/``.

``fields`` (a comma-separated query parameter) picks what each object holds; an unknown field
is ``invalid_params``. The video list is newest first; ``cursor`` is a UTC Unix time in
milliseconds and only older videos follow it; ``max_count`` is at most 20. Video query takes
``{"filters": {"video_ids": [...]}}`` (1 to 20 ids of the user's own videos; others are left
out of the answer).

Deviations: the list holds the emulator's direct posts that are PUBLIC_TO_EVERYONE, photo
posts included; counters are zero; ``share_url`` points at tiktok.com.
"""

from __future__ import annotations

import hashlib
from typing import Any

from fastapi import APIRouter, Request

from emulator.engagement import account_counts, post_counts
from emulator.state import Account, EmulatorState, Post, state_of
from emulator.tiktok_common import PLATFORM, Me, invalid, json_object, ok

router = APIRouter()

USER_FIELDS = (
    "open_id",
    "union_id",
    "avatar_url",
    "avatar_url_100",
    "avatar_large_url",
    "display_name",
    "bio_description",
    "profile_deep_link",
    "is_verified",
    "username",
    "follower_count",
    "following_count",
    "likes_count",
    "video_count",
)
VIDEO_FIELDS = (
    "id",
    "create_time",
    "cover_image_url",
    "share_url",
    "video_description",
    "duration",
    "height",
    "width",
    "title",
    "embed_html",
    "embed_link",
    "like_count",
    "comment_count",
    "share_count",
    "view_count",
)
MAX_COUNT = 20


def _fields(request: Request, allowed: tuple[str, ...]) -> list[str]:
    state = state_of(request)
    raw = request.query_params.get("fields", "")
    wanted = [f.strip() for f in raw.split(",") if f.strip()]
    if not wanted:
        raise invalid(state, "The fields query parameter is required.")
    unknown = [f for f in wanted if f not in allowed]
    if unknown:
        raise invalid(state, f"Unknown fields: {', '.join(unknown)}.")
    return wanted


def public_posts(state: EmulatorState, account: Account) -> list[Post]:
    """The account's public posts, newest first."""
    posts = [
        p
        for p in state.posts.values()
        if p.platform == PLATFORM
        and p.account_id == account.id
        and not p.deleted
        and p.options.get("privacy_level") == "PUBLIC_TO_EVERYONE"
    ]
    return sorted(posts, key=lambda p: (p.created_at, int(p.id)), reverse=True)


def _user(request: Request, account: Account, fields: list[str]) -> dict[str, Any]:
    state = state_of(request)
    now = state.now()
    audience = account_counts(account, now)
    public = public_posts(state, account)
    base = str(request.base_url).rstrip("/")
    avatar = f"{base}/{PLATFORM}/avatars/{account.id}.jpeg"
    values: dict[str, Any] = {
        "open_id": account.id,
        "union_id": hashlib.sha256(f"union:{account.id}".encode()).hexdigest()[:32],
        "avatar_url": avatar,
        "avatar_url_100": avatar,
        "avatar_large_url": avatar,
        "display_name": account.display_name,
        "bio_description": "",
        "profile_deep_link": f"https://www.tiktok.com/@{account.username}",
        "is_verified": False,
        "username": account.username,
        "follower_count": audience.followers,
        "following_count": audience.following,
        "likes_count": sum(post_counts(p, now)["likes"] for p in public),
        "video_count": len(public),
    }
    return {name: values[name] for name in fields}


@router.get("/v2/user/info/")
async def user_info(request: Request, me: Me) -> dict[str, Any]:
    fields = _fields(request, USER_FIELDS)
    return ok(state_of(request), {"user": _user(request, me, fields)})


def _video(state: EmulatorState, account: Account, post: Post, fields: list[str]) -> dict[str, Any]:
    grown = post_counts(post, state.now())
    kind = "photo" if post.options.get("media_type") == "PHOTO" else "video"
    share = f"https://www.tiktok.com/@{account.username}/{kind}/{post.id}"
    description = post.text
    values: dict[str, Any] = {
        "id": post.id,
        "create_time": int(post.created_at.timestamp()),
        "cover_image_url": "",
        "share_url": share,
        "video_description": description,
        "duration": 0,
        "height": 0,
        "width": 0,
        "title": str(post.options.get("title") or ""),
        "embed_html": f'<blockquote class="tiktok-embed" cite="{share}"></blockquote>',
        "embed_link": f"https://www.tiktok.com/embed/v2/{post.id}",
        "like_count": grown["likes"],
        "comment_count": grown["comments"],
        "share_count": grown["shares"],
        "view_count": grown["video_views"],
    }
    return {name: values[name] for name in fields}


@router.post("/v2/video/list/")
async def video_list(request: Request, me: Me) -> dict[str, Any]:
    state = state_of(request)
    fields = _fields(request, VIDEO_FIELDS)
    body = await json_object(request)
    max_count = body.get("max_count", 10)
    if not isinstance(max_count, int) or isinstance(max_count, bool) or max_count < 1:
        raise invalid(state, "max_count must be a positive integer.")
    max_count = min(max_count, MAX_COUNT)
    cursor = body.get("cursor")
    if cursor is not None and (not isinstance(cursor, int) or isinstance(cursor, bool)):
        raise invalid(state, "cursor must be an integer (a UTC Unix time in milliseconds).")
    posts = public_posts(state, me)
    if cursor is not None:
        posts = [p for p in posts if int(p.created_at.timestamp() * 1000) < cursor]
    page = posts[:max_count]
    next_cursor = int(page[-1].created_at.timestamp() * 1000) if page else (cursor or 0)
    return ok(
        state,
        {
            "videos": [_video(state, me, p, fields) for p in page],
            "cursor": next_cursor,
            "has_more": len(posts) > len(page),
        },
    )


@router.post("/v2/video/query/")
async def video_query(request: Request, me: Me) -> dict[str, Any]:
    state = state_of(request)
    fields = _fields(request, VIDEO_FIELDS)
    body = await json_object(request)
    filters = body.get("filters")
    ids = filters.get("video_ids") if isinstance(filters, dict) else None
    if (
        not isinstance(ids, list)
        or not 1 <= len(ids) <= MAX_COUNT
        or not all(isinstance(i, str) for i in ids)
    ):
        raise invalid(state, f"filters.video_ids must hold 1 to {MAX_COUNT} video ids.")
    mine = {p.id: p for p in public_posts(state, me)}
    return ok(state, {"videos": [_video(state, me, mine[i], fields) for i in ids if i in mine]})
