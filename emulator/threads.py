"""Threads (Meta's Threads API): the subset Herald uses, mounted at /threads.

The Graph host is ``/threads`` (so ``/threads/v1.0/me`` stands for
``https://graph.threads.net/v1.0/me``, ``/threads/access_token`` for the long-lived token
exchange) and the authorization window is ``/threads/oauth/authorize`` (threads.net).

Follows developers.facebook.com/docs/threads: Posts (two-step publishing through media
containers, carousels of 2 to 20 items, replies with ``reply_to_id``, link attachments), Retrieve
Posts, Delete Posts, Profiles, Publishing limits, Insights, Troubleshooting (container
statuses) and Graph error handling. Text is limited to 500 characters with emoji counted as
their UTF-8 bytes; more than 5 distinct links is refused.

Deviations: the app-user call budget (4800 * impressions a rolling day) is a fixed 24-hour
window of ``threads_call_limit`` calls; the publishing quota error is worded like Graph's
code 4 throttling; a published container cannot be published again (answers an error);
``since`` / ``until`` take Unix times or ISO 8601, not every strtotime() phrase; ``limit``
above 100 is lowered to 100.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response

from emulator.faults import Fault
from emulator.platform import PlatformEmulator, PlatformError, RequestInfo
from emulator.ratelimit import RateLimitResult
from emulator.state import Account, EmulatorState, Post, state_of
from emulator.threads_common import (
    INVALID_PARAMETER,
    NOT_READY,
    PLATFORM,
    SERVICE,
    TOO_MANY_CALLS,
    UNKNOWN,
    UNKNOWN_PATH,
    Me,
    decode_cursor,
    encode_cursor,
    graph_body,
    graph_error,
    invalid_parameter,
    missing_object,
    params_of,
    request_token,
    resolve_user,
    shortcode,
    threads_length,
)
from emulator.threads_media import Container, container_status, containers, start_fetch
from emulator.threads_oauth import router as oauth_router
from emulator.threads_views import (
    CONTAINER_FIELDS,
    INSIGHT_METRICS,
    MEDIA_FIELDS,
    USER_FIELDS,
    USER_INSIGHT_METRICS,
    container_json,
    insights_json,
    media_json,
    requested_fields,
    user_insights_json,
    user_json,
)

API = "/v1.0"
MEDIA_TYPES = ("TEXT", "IMAGE", "VIDEO", "CAROUSEL")
REPLY_CONTROLS = (
    "everyone",
    "accounts_you_follow",
    "mentioned_only",
    "parent_post_author_only",
    "followers_only",
)
MAX_LINKS = 5
DEFAULT_LIMIT = 25
MAX_LIMIT = 100
_URL = re.compile(r"(?:https?://|www\.)[^\s]+", re.IGNORECASE)
_READ_TYPES = {
    "TEXT": "TEXT_POST",
    "IMAGE": "IMAGE",
    "VIDEO": "VIDEO",
    "CAROUSEL": "CAROUSEL_ALBUM",
}


class ThreadsEmulator(PlatformEmulator):
    name = PLATFORM

    def router(self) -> APIRouter:
        return router

    def error_body(self, status: int, message: str | None = None) -> dict[str, Any]:
        if status == 401:
            return graph_body(
                message or "Invalid OAuth access token - Cannot parse access token", 190
            )
        if status == 403:
            return graph_body(
                message or "(#10) Application does not have permission for this action", 10
            )
        if status == 404:
            return graph_body(
                message or "Unsupported request.", 100, type_="GraphMethodException", subcode=33
            )
        if status == 429:
            return graph_body(
                message or "(#4) Application request limit reached", TOO_MANY_CALLS, transient=True
            )
        if status >= 500:
            code = UNKNOWN if status == 500 else SERVICE
            default = (
                "An unknown error has occurred."
                if status == 500
                else "An unexpected error has occurred. Please retry your request later."
            )
            return graph_body(message or default, code, transient=True)
        return graph_body(message or "Invalid parameter", INVALID_PARAMETER)

    def fault_headers(self, state: EmulatorState, fault: Fault) -> dict[str, str]:
        headers = super().fault_headers(state, fault)
        if fault.spec.status == 429:
            headers["X-App-Usage"] = '{"call_count":100,"total_cputime":0,"total_time":0}'
        return headers

    def rate_limit(self, state: EmulatorState, request: RequestInfo) -> RateLimitResult | None:
        """Calls per app-user pair per day; deletions per profile per day on top."""
        if not request.path.startswith(API + "/"):
            return None
        settings = state.settings
        token = _info_token(request)
        account = state.account_by_token(PLATFORM, token) if token else None
        key = account.id if account else f"ip:{request.client_host}"
        now = state.now()
        period = settings.threads_quota_period_s
        calls = state.rate_counter.hit(
            "threads:calls", key, settings.threads_call_limit, period, now
        )
        if calls.exceeded or request.method != "DELETE":
            return calls
        return state.rate_counter.hit(
            "threads:deletes", key, settings.threads_delete_quota, period, now
        )

    def rate_limit_headers(self, result: RateLimitResult) -> dict[str, str]:
        used = (
            100
            if result.limit <= 0
            else int(100 * (result.limit - result.remaining) / result.limit)
        )
        return {"X-App-Usage": f'{{"call_count":{used},"total_cputime":0,"total_time":0}}'}

    def rate_limited_error(self, result: RateLimitResult) -> PlatformError:
        return graph_error(
            "(#4) Application request limit reached",
            TOO_MANY_CALLS,
            headers=self.rate_limit_headers(result),
            transient=True,
        )


def _info_token(request: RequestInfo) -> str | None:
    scheme, _, credential = request.headers.get("authorization", "").strip().partition(" ")
    if scheme.lower() in ("bearer", "oauth") and credential.strip():
        return credential.strip()
    for pair in request.query.split("&"):
        name, _, value = pair.partition("=")
        if name == "access_token" and value:
            return value
    return None


router = APIRouter()
router.include_router(oauth_router)


# -- publishing ---------------------------------------------------------------------------------


def _links(text: str, attachment: str | None) -> set[str]:
    found = {m.group(0).rstrip(".,!?)").lower() for m in _URL.finditer(text)}
    if attachment:
        found.add(attachment.lower())
    return found


def _children(raw: Any) -> list[str]:
    values = raw if isinstance(raw, list) else str(raw or "").split(",")
    return [str(v).strip() for v in values if str(v).strip()]


def _check_text(state: EmulatorState, text: str, link_attachment: str | None) -> None:
    limit = state.settings.threads_max_characters
    if threads_length(text) > limit:
        raise invalid_parameter(
            f"The text is too long: Threads posts are limited to {limit} characters."
        )
    if len(_links(text, link_attachment)) > MAX_LINKS:
        raise graph_error(
            "THREADS_API__LINK_LIMIT_EXCEEDED",
            INVALID_PARAMETER,
            user_msg=f"Posts may contain at most {MAX_LINKS} links.",
        )


def _carousel_children(state: EmulatorState, me: Account, raw: Any) -> list[str]:
    children = _children(raw)
    limit = state.settings.threads_max_carousel
    if not 2 <= len(children) <= limit:
        raise invalid_parameter(f"A carousel needs between 2 and {limit} children.")
    table = containers(state)
    for child_id in children:
        child = table.get(child_id)
        if child is None or child.account_id != me.id:
            raise invalid_parameter(f"The carousel child {child_id} does not exist.")
        if not child.is_carousel_item or child.published_id is not None:
            raise invalid_parameter(
                f"The container {child_id} was not created as an unused carousel item."
            )
    return children


@router.post(API + "/{user_id}/threads")
async def create_container(request: Request, user_id: str, me: Me) -> dict[str, str]:
    state = state_of(request)
    resolve_user(me, user_id)
    params = await params_of(request)
    media_type = (params.get_str("media_type") or "").upper()
    if media_type not in MEDIA_TYPES:
        raise invalid_parameter(
            "The parameter media_type is required and must be one of TEXT, IMAGE, VIDEO, CAROUSEL."
        )
    text = params.get_str("text") or ""
    is_item = bool(params.get_bool("is_carousel_item"))
    link = params.get_str("link_attachment")
    reply_to = params.get_str("reply_to_id")
    reply_control = params.get_str("reply_control")
    if media_type == "TEXT" and not text.strip():
        raise invalid_parameter("The parameter text is required for media_type=TEXT.")
    if link and media_type != "TEXT":
        raise invalid_parameter("link_attachment is only available for text posts.")
    if reply_control and reply_control not in REPLY_CONTROLS:
        raise invalid_parameter(f"reply_control must be one of {', '.join(REPLY_CONTROLS)}.")
    if is_item and (media_type not in ("IMAGE", "VIDEO") or reply_to):
        raise invalid_parameter("Only images and videos can be carousel items.")
    _check_text(state, text, link)
    source = None
    if media_type in ("IMAGE", "VIDEO"):
        source = params.get_str("image_url" if media_type == "IMAGE" else "video_url")
        if not source or not source.startswith(("http://", "https://")):
            name = "image_url" if media_type == "IMAGE" else "video_url"
            raise invalid_parameter(
                f"The parameter {name} is required for media_type={media_type}."
            )
    children = (
        _carousel_children(state, me, params.get("children")) if media_type == "CAROUSEL" else []
    )
    if reply_to is not None:
        parent = state.post(PLATFORM, reply_to)
        if parent is None or parent.deleted:
            raise invalid_parameter(f"The post {reply_to} to reply to does not exist.")
    container = Container(
        id=state.ids.next(),
        account_id=me.id,
        media_type=media_type,
        text="" if is_item else text,
        created_at=state.now(),
        is_carousel_item=is_item,
        source_url=source,
        children=children,
        reply_to_id=reply_to,
        options={
            "link_attachment_url": link,
            "reply_control": reply_control,
            "alt_text": params.get_str("alt_text"),
            "topic_tag": params.get_str("topic_tag"),
        },
    )
    containers(state)[container.id] = container
    if source is not None:
        start_fetch(state, container)
    return {"id": container.id}


def _quota_used(state: EmulatorState, me: Account, replies: bool) -> int:
    since = state.now() - timedelta(seconds=state.settings.threads_quota_period_s)
    return sum(
        1
        for p in state.posts.values()
        if p.platform == PLATFORM
        and p.account_id == me.id
        and p.created_at > since
        and (p.in_reply_to_id is not None) == replies
    )


@router.post(API + "/{user_id}/threads_publish")
async def publish(request: Request, user_id: str, me: Me) -> dict[str, str]:
    state = state_of(request)
    resolve_user(me, user_id)
    params = await params_of(request)
    creation_id = params.get_str("creation_id")
    if not creation_id:
        raise invalid_parameter("The parameter creation_id is required.")
    async with state.lock:
        container = containers(state).get(creation_id)
        if container is None or container.account_id != me.id:
            raise invalid_parameter(f"The media container {creation_id} does not exist.")
        if container.is_carousel_item:
            raise invalid_parameter("A carousel item is published through its carousel.")
        status = container_status(state, container)
        if status == "IN_PROGRESS":
            raise graph_error(
                "Media ID is not available",
                NOT_READY,
                subcode=2207027,
                user_msg="The media is not ready for publishing, please wait for a moment.",
            )
        if status != "FINISHED":
            raise invalid_parameter(f"The media container is {status} and cannot be published.")
        replies = container.reply_to_id is not None
        quota = state.settings.threads_reply_quota if replies else state.settings.threads_post_quota
        if _quota_used(state, me, replies) >= quota:
            kind = "replies" if replies else "posts"
            raise graph_error(
                "(#4) Application request limit reached",
                TOO_MANY_CALLS,
                transient=True,
                user_msg=f"The profile reached its limit of {quota} API-published {kind} in 24 hours.",
            )
        post = _publish(state, me, container)
    return {"id": post.id}


def _publish(state: EmulatorState, me: Account, container: Container) -> Post:
    table = containers(state)
    if container.media_type == "CAROUSEL":
        parts = [table[c] for c in container.children]
        media_ids = [c.media_id for c in parts if c.media_id]
    else:
        parts = []
        media_ids = [container.media_id] if container.media_id else []
    post_id = state.ids.next()
    parent = state.post(PLATFORM, container.reply_to_id) if container.reply_to_id else None
    root = (parent.options.get("root_post_id") or parent.id) if parent else None
    post = Post(
        platform=PLATFORM,
        id=post_id,
        account_id=me.id,
        text=container.text,
        media_ids=media_ids,
        created_at=state.now(),
        in_reply_to_id=container.reply_to_id,
        options={
            "media_type": _READ_TYPES[container.media_type],
            "shortcode": shortcode(post_id),
            "container_id": container.id,
            "root_post_id": root,
            **{k: v for k, v in container.options.items() if v is not None},
        },
    )
    state.add_post(post)
    container.published_id = post_id
    for part in parts:
        part.published_id = post_id
    return post


# -- reading ------------------------------------------------------------------------------------


def _timestamp(raw: str | None, name: str) -> datetime | None:
    if raw is None:
        return None
    try:
        if raw.lstrip("-").isdigit():
            return datetime.fromtimestamp(int(raw), UTC)
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except (ValueError, OverflowError) as exc:
        raise invalid_parameter(f"The parameter {name} is not a valid time: {raw}") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _page_url(request: Request, **cursor: str) -> str:
    query = {k: v for k, v in request.query_params.items() if k not in ("before", "after")}
    query.update(cursor)
    return f"{str(request.url).split('?')[0]}?{urlencode(query)}"


async def _listing(request: Request, me: Account, replies: bool) -> dict[str, Any]:
    state = state_of(request)
    params = await params_of(request)
    fields = requested_fields(params.get_str("fields"), MEDIA_FIELDS, "ThreadsMedia")
    since = _timestamp(params.get_str("since"), "since")
    until = _timestamp(params.get_str("until"), "until")
    raw_limit = params.get_str("limit") or str(DEFAULT_LIMIT)
    if not raw_limit.isdigit() or int(raw_limit) < 1:
        raise invalid_parameter(f"The parameter limit must be a positive integer: {raw_limit}")
    limit = min(int(raw_limit), MAX_LIMIT)
    posts = sorted(
        (
            p
            for p in state.posts.values()
            if p.platform == PLATFORM
            and p.account_id == me.id
            and not p.deleted
            and (p.in_reply_to_id is not None) == replies
            and (since is None or p.created_at >= since)
            and (until is None or p.created_at <= until)
        ),
        key=lambda p: int(p.id),
        reverse=True,
    )
    after = params.get_str("after")
    before = params.get_str("before")
    if after is not None or before is not None:
        anchor = decode_cursor(after or before or "")
        if anchor is None:
            raise invalid_parameter("The cursor is not valid.")
        if after is not None:
            older = [p for p in posts if int(p.id) < int(anchor)]
            page, more_older = older[:limit], len(older) > limit
            more_newer = True
        else:
            newer = [p for p in posts if int(p.id) > int(anchor)]
            page, more_newer = newer[-limit:], len(newer) > limit
            more_older = True
    else:
        page, more_older, more_newer = posts[:limit], len(posts) > limit, False
    base = str(request.base_url)
    body: dict[str, Any] = {"data": [media_json(state, base, me, p, fields) for p in page]}
    if page:
        first, last = encode_cursor(page[0].id), encode_cursor(page[-1].id)
        paging: dict[str, Any] = {"cursors": {"before": first, "after": last}}
        if more_older:
            paging["next"] = _page_url(request, after=last)
        if more_newer:
            paging["previous"] = _page_url(request, before=first)
        body["paging"] = paging
    return body


@router.get(API + "/{user_id}/threads")
async def list_threads(request: Request, user_id: str, me: Me) -> dict[str, Any]:
    """The user's own posts, newest first (replies are listed by ``/{user}/replies``)."""
    resolve_user(me, user_id)
    return await _listing(request, me, replies=False)


@router.get(API + "/{user_id}/replies")
async def list_replies(request: Request, user_id: str, me: Me) -> dict[str, Any]:
    resolve_user(me, user_id)
    return await _listing(request, me, replies=True)


@router.get(API + "/{user_id}/threads_publishing_limit")
async def publishing_limit(request: Request, user_id: str, me: Me) -> dict[str, Any]:
    state = state_of(request)
    resolve_user(me, user_id)
    params = await params_of(request)
    allowed = ("quota_usage", "config", "reply_quota_usage", "reply_config")
    names = [f for f in (params.get_str("fields") or "quota_usage,config").split(",") if f]
    period = state.settings.threads_quota_period_s
    values: dict[str, Any] = {
        "quota_usage": _quota_used(state, me, replies=False),
        "config": {"quota_total": state.settings.threads_post_quota, "quota_duration": period},
        "reply_quota_usage": _quota_used(state, me, replies=True),
        "reply_config": {
            "quota_total": state.settings.threads_reply_quota,
            "quota_duration": period,
        },
    }
    for name in names:
        if name not in allowed:
            raise graph_error(
                f"(#100) Tried accessing nonexisting field ({name}) on node type "
                "(ThreadsPublishingLimit)",
                INVALID_PARAMETER,
            )
    return {"data": [{name: values[name] for name in names}]}


def _own_post(state: EmulatorState, me: Account, media_id: str, method: str = "get") -> Post:
    post = state.post(PLATFORM, media_id)
    if post is None or post.deleted or post.account_id != me.id:
        raise missing_object(media_id, method)
    return post


@router.get(API + "/{media_id}/insights")
async def insights(request: Request, media_id: str, me: Me) -> dict[str, Any]:
    state = state_of(request)
    params = await params_of(request)
    post = _own_post(state, me, media_id)
    metrics = [m for m in (params.get_str("metric") or "").split(",") if m]
    if not metrics:
        raise invalid_parameter("The parameter metric is required.")
    for metric in metrics:
        if metric not in INSIGHT_METRICS:
            raise invalid_parameter(
                f"metric[{metrics.index(metric)}] must be one of the following values: "
                + ", ".join(INSIGHT_METRICS)
            )
    return insights_json(state, post, metrics)


@router.get(API + "/{user_id}/threads_insights")
async def user_insights(request: Request, user_id: str, me: Me) -> dict[str, Any]:
    """User insights; only ``followers_count`` is emulated."""
    state = state_of(request)
    params = await params_of(request)
    if user_id not in (me.id, "me"):
        raise missing_object(user_id)
    metrics = [m for m in (params.get_str("metric") or "").split(",") if m]
    if not metrics:
        raise invalid_parameter("The parameter metric is required.")
    for metric in metrics:
        if metric not in USER_INSIGHT_METRICS:
            raise invalid_parameter(
                f"metric[{metrics.index(metric)}] must be one of the following values: "
                + ", ".join(USER_INSIGHT_METRICS)
            )
    return user_insights_json(state, me, metrics)


@router.get(API + "/{object_id}")
async def get_object(request: Request, object_id: str, me: Me) -> dict[str, Any]:
    """A user (``me`` or the user's id), a media container or a published post."""
    state = state_of(request)
    params = await params_of(request)
    raw_fields = params.get_str("fields")
    if object_id in ("me", me.id):
        return user_json(me, requested_fields(raw_fields, USER_FIELDS, "ThreadsUser"))
    container = containers(state).get(object_id)
    if container is not None and container.account_id == me.id:
        fields = requested_fields(raw_fields, CONTAINER_FIELDS, "ThreadsMediaContainer")
        return container_json(state, container, fields)
    post = _own_post(state, me, object_id)
    fields = requested_fields(raw_fields, MEDIA_FIELDS, "ThreadsMedia")
    return media_json(state, str(request.base_url), me, post, fields)


@router.delete(API + "/{media_id}")
async def delete_media(request: Request, media_id: str, me: Me) -> dict[str, Any]:
    state = state_of(request)
    post = _own_post(state, me, media_id, "delete")
    post.deleted_at = state.now()
    for item_id in post.media_ids:
        if item_id in state.media:
            state.media[item_id].discarded = True
    return {"success": True, "deleted_id": media_id}


@router.get("/media-files/{media_id}")
async def media_file(request: Request, media_id: str) -> Response:
    """The downloaded bytes (scontent.cdninstagram.com stand-in)."""
    state = state_of(request)
    item = state.media_item(PLATFORM, media_id)
    if item is None or item.discarded or not item.processed(state.now()):
        return Response(status_code=404)
    return Response(item.data, media_type=item.mime_type)


@router.api_route(
    "/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
)
async def unknown_path(request: Request, rest: str) -> None:
    params = await params_of(request)
    if not request_token(request, params):
        raise graph_error(
            "An active access token must be used to query information about the current user.",
            UNKNOWN_PATH,
        )
    raise graph_error(f"Unknown path components: /{rest}", UNKNOWN_PATH)
