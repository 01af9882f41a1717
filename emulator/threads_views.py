"""How Threads objects read back: users, media (posts), containers, insights, field lists.

Fields follow the Threads reference ("User", "Media Retrieval"): only ``id`` unless ``fields``
names more; an unknown field is refused like Graph does. Deviation: carousel children are
listed by id but cannot be fetched on their own.
"""

from __future__ import annotations

from typing import Any

from emulator.engagement import account_counts, post_counts
from emulator.platform import PlatformError
from emulator.state import Account, EmulatorState, Post
from emulator.threads_common import INVALID_PARAMETER, PLATFORM, graph_error, graph_time
from emulator.threads_media import Container, container_error, container_status

USER_FIELDS = (
    "id",
    "username",
    "name",
    "threads_profile_picture_url",
    "threads_biography",
    "is_verified",
)
MEDIA_FIELDS = (
    "id",
    "media_product_type",
    "media_type",
    "media_url",
    "permalink",
    "owner",
    "username",
    "text",
    "timestamp",
    "shortcode",
    "thumbnail_url",
    "children",
    "is_quote_post",
    "alt_text",
    "link_attachment_url",
    "has_replies",
    "is_reply",
    "is_reply_owned_by_me",
    "root_post",
    "replied_to",
    "hide_status",
    "reply_audience",
    "topic_tag",
)
CONTAINER_FIELDS = ("id", "status", "error_message")
PROFILE_PICTURE = "https://scontent.cdninstagram.com/v/emulator/default_profile.jpg"


def requested_fields(raw: str | None, allowed: tuple[str, ...], node: str) -> list[str]:
    names = [f.strip() for f in (raw or "id").split(",") if f.strip()]
    for name in names:
        if name not in allowed:
            raise nonexisting_field(name, node)
    return ["id", *[n for n in dict.fromkeys(names) if n != "id"]]


def nonexisting_field(name: str, node: str) -> PlatformError:
    return graph_error(
        f"(#100) Tried accessing nonexisting field ({name}) on node type ({node})",
        INVALID_PARAMETER,
    )


def user_json(account: Account, fields: list[str]) -> dict[str, Any]:
    values: dict[str, Any] = {
        "id": account.id,
        "username": account.username,
        "name": account.display_name,
        "threads_profile_picture_url": PROFILE_PICTURE,
        "threads_biography": "",
        "is_verified": False,
    }
    return {name: values[name] for name in fields}


def container_json(state: EmulatorState, container: Container, fields: list[str]) -> dict[str, Any]:
    values: dict[str, Any] = {"id": container.id, "status": container_status(state, container)}
    error = container_error(state, container)
    if error is not None and values["status"] == "ERROR":
        values["error_message"] = error
    return {name: values[name] for name in fields if name in values}


def permalink(account: Account | None, post: Post) -> str:
    username = account.username if account else "unknown"
    return f"https://www.threads.net/@{username}/post/{post.options['shortcode']}"


def media_json(
    state: EmulatorState, base_url: str, viewer: Account, post: Post, fields: list[str]
) -> dict[str, Any]:
    account = state.accounts.get(post.account_id)
    options = post.options
    media_type = options["media_type"]
    values: dict[str, Any] = {
        "id": post.id,
        "media_product_type": "THREADS",
        "media_type": media_type,
        "permalink": permalink(account, post),
        "username": account.username if account else None,
        "text": post.text or None,
        "timestamp": graph_time(post.created_at),
        "shortcode": options["shortcode"],
        "is_quote_post": False,
        "has_replies": any(
            p.in_reply_to_id == post.id and not p.deleted and p.platform == PLATFORM
            for p in state.posts.values()
        ),
        "is_reply": post.in_reply_to_id is not None,
        "hide_status": "NOT_HUSHED",
        "reply_audience": options.get("reply_control") or "EVERYONE",
    }
    if post.in_reply_to_id is None:
        values["owner"] = {"id": post.account_id}
    else:
        values["is_reply_owned_by_me"] = post.account_id == viewer.id
        values["replied_to"] = {"id": post.in_reply_to_id}
        values["root_post"] = {"id": options["root_post_id"]}
    if media_type in ("IMAGE", "VIDEO") and post.media_ids:
        item = state.media.get(post.media_ids[0])
        url = f"{base_url.rstrip('/')}/{PLATFORM}/media-files/{post.media_ids[0]}"
        values["media_url"] = url
        if media_type == "VIDEO":
            values["thumbnail_url"] = url
        if item is not None and item.description:
            values["alt_text"] = item.description
    if media_type == "CAROUSEL_ALBUM":
        values["children"] = {"data": [{"id": m} for m in post.media_ids]}
    if options.get("link_attachment_url"):
        values["link_attachment_url"] = options["link_attachment_url"]
    if options.get("topic_tag"):
        values["topic_tag"] = options["topic_tag"]
    return {name: values[name] for name in fields if values.get(name) is not None}


INSIGHT_METRICS = {
    "views": ("Views", "The number of times your post was played or displayed."),
    "likes": ("Likes", "The number of likes on your post."),
    "replies": ("Replies", "The number of replies on your post."),
    "reposts": ("Reposts", "The number of times your post was reposted."),
    "quotes": ("Quotes", "The number of times your post was quoted."),
    "shares": ("Shares", "The number of shares of your post."),
}


def reply_count(state: EmulatorState, post: Post) -> int:
    """Total replies for a root post, direct replies for a reply (as the docs define it)."""
    live = [p for p in state.posts.values() if p.platform == PLATFORM and not p.deleted]
    if post.in_reply_to_id is not None:
        return sum(1 for p in live if p.in_reply_to_id == post.id)
    return sum(1 for p in live if p.in_reply_to_id and p.options.get("root_post_id") == post.id)


# Which emulator/engagement.py counter each insight follows (reposts and shares both grow
# as "shares": Threads counts a repost and a send separately, the emulator does not).
INSIGHT_GROWTH = {
    "views": "views",
    "likes": "likes",
    "replies": "comments",
    "reposts": "shares",
    "quotes": "quotes",
    "shares": "shares",
}


def insights_json(state: EmulatorState, post: Post, metrics: list[str]) -> dict[str, Any]:
    grown = post_counts(post, state.now())
    data = []
    for name in metrics:
        title, description = INSIGHT_METRICS[name]
        value = grown[INSIGHT_GROWTH[name]]
        if name == "replies":
            value += reply_count(state, post)
        data.append(
            {
                "name": name,
                "period": "lifetime",
                "values": [{"value": value}],
                "title": title,
                "description": description,
                "id": f"{post.id}/insights/{name}/lifetime",
            }
        )
    return {"data": data}


USER_INSIGHT_METRICS = {
    "followers_count": ("Followers", "The number of followers of the profile."),
}


def user_insights_json(
    state: EmulatorState, account: Account, metrics: list[str]
) -> dict[str, Any]:
    """``followers_count`` is a total value (no time series), as the docs describe it."""
    audience = account_counts(account, state.now())
    data = []
    for name in metrics:
        title, description = USER_INSIGHT_METRICS[name]
        data.append(
            {
                "name": name,
                "period": "day",
                "total_value": {"value": audience.followers},
                "title": title,
                "description": description,
                "id": f"{account.id}/insights/{name}/day",
            }
        )
    return {"data": data}
