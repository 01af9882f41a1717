"""Instagram API with Instagram Login: the content-publishing subset Herald uses, mounted at
/instagram.

``/instagram/v26.0/...`` stands for ``https://graph.instagram.com/v26.0/...``; the token
exchange and refresh (graph.instagram.com/access_token, /refresh_access_token) are
``/instagram/access_token`` and ``/instagram/refresh_access_token``; the authorization window
(www.instagram.com/oauth/authorize) is ``/instagram/oauth/authorize`` and the code exchange
(api.instagram.com/oauth/access_token) ``POST /instagram/oauth/access_token``.

Follows the "Content Publishing" guide: ``POST /{ig-user-id}/media`` (``image_url``,
``video_url`` with ``media_type=REELS``, ``is_carousel_item``, ``media_type=CAROUSEL`` with
``children``, ``caption``) → container id; the emulator downloads the URL itself, over HTTP,
after answering; ``GET /{container-id}?fields=status_code`` is ``IN_PROGRESS`` until the bytes
arrived (videos: ``processing_s`` more), then ``FINISHED``, or ``ERROR`` when the download
failed or the media is unsuitable (images must be JPEG); ``POST /{ig-user-id}/media_publish``
(``creation_id``) → media id; ``GET /{ig-user-id}/media``; ``POST /{ig-media-id}/comments``;
``GET /{ig-user-id}/content_publishing_limit`` (100 posts in a moving 24 h).

Deviations: there is no delete (as on Instagram: feed posts cannot be deleted through the API);
the tokens from OAuth are the shared grant bookkeeping's; errors are worded like Graph's.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from emulator import oauth
from emulator.engagement import account_counts, post_counts
from emulator.graph_common import (
    GRAPH_VERSION,
    decode_cursor,
    encode_cursor,
    error_body_for_status,
    graph_error,
    graph_time,
    invalid_token,
    missing_object,
    params_of,
    request_token,
)
from emulator.graph_insights import INSTAGRAM_MEDIA_METRICS, insights_body, requested_metrics
from emulator.media_meta import sniff_mime
from emulator.platform import PlatformEmulator
from emulator.state import Account, EmulatorState, MediaItem, Post, state_of

PLATFORM = "instagram"
API = f"/{GRAPH_VERSION}"
PUBLISH_LIMIT = 100
MAX_CAROUSEL = 10
MAX_CAPTION = 2200
SHORT_LIVED_S = 3600
LONG_LIVED_S = 60 * 86400
MB = 1024 * 1024
_TASKS = "fetch_tasks"


@dataclass
class Container:
    id: str
    account_id: str
    media_type: str  # IMAGE | REELS | CAROUSEL
    caption: str
    created_at: datetime
    source_url: str | None = None
    is_carousel_item: bool = False
    children: list[str] = field(default_factory=list)
    fetched: bool = False
    error: str | None = None
    media_id: str | None = None
    ready_at: datetime | None = None
    published_id: str | None = None


class InstagramEmulator(PlatformEmulator):
    name = PLATFORM

    def router(self) -> APIRouter:
        return router

    def error_body(self, status: int, message: str | None = None) -> dict[str, Any]:
        return error_body_for_status(status, message)


router = APIRouter()


def _containers(state: EmulatorState) -> dict[str, Container]:
    found: dict[str, Container] = state.scratch(PLATFORM).setdefault("containers", {})
    return found


def _status(state: EmulatorState, container: Container) -> str:
    if container.published_id is not None:
        return "PUBLISHED"
    if container.media_type == "CAROUSEL":
        table = _containers(state)
        statuses = [_status(state, table[c]) for c in container.children]
        if "ERROR" in statuses:
            return "ERROR"
        return "IN_PROGRESS" if "IN_PROGRESS" in statuses else "FINISHED"
    if container.error is not None:
        return "ERROR"
    if not container.fetched or container.ready_at is None or state.now() < container.ready_at:
        return "IN_PROGRESS"
    return "FINISHED"


async def _me(request: Request) -> Account:
    token = request_token(request, await params_of(request))
    if not token:
        raise graph_error("An active access token must be used.", 2500)
    account = state_of(request).account_by_token(PLATFORM, token)
    if account is None:
        raise invalid_token()
    return account


async def _user(request: Request, user_id: str) -> Account:
    me = await _me(request)
    if user_id not in ("me", me.id):
        raise missing_object(user_id, request.method.lower())
    return me


def _published_in_window(state: EmulatorState, account: Account) -> int:
    cutoff = state.now() - timedelta(hours=24)
    return sum(
        1
        for p in state.posts.values()
        if p.platform == PLATFORM
        and p.account_id == account.id
        and p.in_reply_to_id is None
        and p.created_at >= cutoff
    )


# -- containers --------------------------------------------------------------------------------


@router.post(f"{API}/{{user_id}}/media")
async def create_container(request: Request, user_id: str) -> dict[str, Any]:
    state = state_of(request)
    me = await _user(request, user_id)
    params = await params_of(request)
    caption = params.get_str("caption") or ""
    if len(caption) > MAX_CAPTION:
        raise graph_error("(#100) The caption is too long", 100, subcode=2207010)
    media_type = (params.get_str("media_type") or "").upper()
    is_item = bool(params.get_bool("is_carousel_item"))
    container = Container(state.ids.next(), me.id, "IMAGE", caption, state.now())
    container.is_carousel_item = is_item
    if media_type == "CAROUSEL":
        raw = params.get_str("children") or ""
        children = [c for c in raw.split(",") if c]
        table = _containers(state)
        if not 2 <= len(children) <= MAX_CAROUSEL:
            raise graph_error(
                "(#100) A carousel takes between 2 and 10 children", 100, subcode=2207050
            )
        for child in children:
            item = table.get(child)
            if item is None or item.account_id != me.id or not item.is_carousel_item:
                raise graph_error(f"(#100) Invalid child container {child}")
        container.media_type = "CAROUSEL"
        container.children = children
    elif media_type in ("REELS", "VIDEO"):
        url = params.get_str("video_url")
        if not url:
            raise graph_error("(#100) The parameter video_url is required")
        container.media_type = "REELS" if not is_item else "VIDEO"
        container.source_url = url
    elif media_type in ("", "IMAGE"):
        url = params.get_str("image_url")
        if not url:
            raise graph_error("(#100) The parameter image_url is required")
        container.source_url = url
    else:
        raise graph_error(f"(#100) Unsupported media_type {media_type}")
    _containers(state)[container.id] = container
    if container.source_url is not None:
        task = asyncio.get_running_loop().create_task(_fetch(state, container))
        tasks: set[asyncio.Task[None]] = state.scratch(PLATFORM).setdefault(_TASKS, set())
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    return {"id": container.id}


async def _fetch(state: EmulatorState, container: Container) -> None:
    video = container.media_type in ("REELS", "VIDEO")
    assert container.source_url is not None
    try:
        async with httpx.AsyncClient(timeout=30, follow_redirects=True) as client:
            response = await client.get(container.source_url)
        data = response.content if response.status_code == 200 else None
    except httpx.HTTPError:
        data = None
    container.fetched = True
    if data is None:
        container.error = "ERROR: the media could not be fetched from its URI"
        return
    mime = sniff_mime(data)
    allowed = ("video/mp4", "video/quicktime") if video else ("image/jpeg",)
    limit = 300 * MB if video else 8 * MB
    if mime not in allowed or len(data) > limit:
        container.error = "ERROR: the media format is not supported (images must be JPEG)"
        return
    now = state.now()
    ready = now + timedelta(seconds=state.settings.processing_s) if video else now
    item = MediaItem(
        PLATFORM,
        state.ids.next(),
        container.account_id,
        "video" if video else "image",
        mime or "",
        data,
        None,
        now,
        ready,
    )
    state.media[item.id] = item
    container.media_id = item.id
    container.ready_at = ready


@router.post(f"{API}/{{user_id}}/media_publish")
async def publish(request: Request, user_id: str) -> dict[str, Any]:
    state = state_of(request)
    me = await _user(request, user_id)
    params = await params_of(request)
    creation_id = params.get_str("creation_id") or ""
    container = _containers(state).get(creation_id)
    if container is None or container.account_id != me.id or container.is_carousel_item:
        raise missing_object(creation_id)
    async with state.lock:
        status = _status(state, container)
        if status == "PUBLISHED":
            raise graph_error("(#9004) The media has already been published", 9004)
        if status != "FINISHED":
            raise graph_error(
                "Media ID is not available",
                9007,
                subcode=2207027,
            )
        if _published_in_window(state, me) >= PUBLISH_LIMIT:
            raise graph_error(
                "(#4) Application request limit reached", 4, subcode=2207042, transient=True
            )
        table = _containers(state)
        sources = container.children if container.media_type == "CAROUSEL" else [container.id]
        media_ids = [m for m in (table[s].media_id for s in sources) if m is not None]
        post = Post(
            platform=PLATFORM,
            id=state.ids.next(),
            account_id=me.id,
            text=container.caption,
            media_ids=media_ids,
            created_at=state.now(),
            options={"media_type": container.media_type},
        )
        state.add_post(post)
        container.published_id = post.id
    return {"id": post.id}


@router.get(f"{API}/{{user_id}}/content_publishing_limit")
async def publishing_limit(request: Request, user_id: str) -> dict[str, Any]:
    state = state_of(request)
    me = await _user(request, user_id)
    usage = _published_in_window(state, me)
    return {"data": [{"quota_usage": usage, "config": {"quota_total": PUBLISH_LIMIT}}]}


@router.post(f"{API}/{{media_id}}/comments")
async def comment(request: Request, media_id: str) -> dict[str, Any]:
    state = state_of(request)
    me = await _me(request)
    parent = state.post(PLATFORM, media_id)
    if parent is None or parent.deleted or parent.in_reply_to_id is not None:
        raise missing_object(media_id, "post")
    message = (await params_of(request)).get_str("message") or ""
    if not message:
        raise graph_error("(#100) The parameter message is required")
    post = Post(
        platform=PLATFORM,
        id=state.ids.next(),
        account_id=me.id,
        text=message,
        media_ids=[],
        created_at=state.now(),
        in_reply_to_id=parent.id,
    )
    state.add_post(post)
    return {"id": post.id}


def _media_json(post: Post) -> dict[str, Any]:
    media_type = post.options.get("media_type", "IMAGE")
    return {
        "id": post.id,
        "caption": post.text,
        "media_type": {"CAROUSEL": "CAROUSEL_ALBUM", "REELS": "VIDEO"}.get(media_type, "IMAGE"),
        "media_product_type": "REELS" if media_type == "REELS" else "FEED",
        "permalink": f"https://www.instagram.com/p/{encode_cursor(post.id)}/",
        "timestamp": graph_time(post.created_at),
    }


@router.get(f"{API}/{{user_id}}/media")
async def list_media(request: Request, user_id: str) -> dict[str, Any]:
    state = state_of(request)
    me = await _user(request, user_id)
    params = await params_of(request)
    limit = min(int(params.get_str("limit") or 25), 100)
    posts = [
        p
        for p in reversed(list(state.posts.values()))
        if p.platform == PLATFORM and p.account_id == me.id and p.in_reply_to_id is None
    ]
    start = 0
    after = params.get_str("after")
    if after:
        ids = [p.id for p in posts]
        anchor = decode_cursor(after)
        start = ids.index(anchor) + 1 if anchor in ids else len(ids)
    chunk = posts[start : start + limit]
    body: dict[str, Any] = {"data": [_media_json(p) for p in chunk]}
    if chunk:
        paging: dict[str, Any] = {
            "cursors": {"before": encode_cursor(chunk[0].id), "after": encode_cursor(chunk[-1].id)}
        }
        if start + limit < len(posts):
            paging["next"] = f"{request.url.path}?after={encode_cursor(chunk[-1].id)}"
        body["paging"] = paging
    return body


def _own_media(state: EmulatorState, account: Account) -> list[Post]:
    return [
        p
        for p in state.posts.values()
        if p.platform == PLATFORM and p.account_id == account.id and p.in_reply_to_id is None
    ]


@router.get(f"{API}/{{media_id}}/insights")
async def media_insights(request: Request, media_id: str) -> dict[str, Any]:
    state = state_of(request)
    me = await _me(request)
    post = state.post(PLATFORM, media_id)
    if post is None or post.account_id != me.id or post.in_reply_to_id is not None:
        raise missing_object(media_id)
    params = await params_of(request)
    metrics = requested_metrics(params.get_str("metric"), INSTAGRAM_MEDIA_METRICS)
    comments = sum(
        1
        for p in state.posts.values()
        if p.platform == PLATFORM and p.in_reply_to_id == post.id and not p.deleted
    )
    grown = post_counts(post, state.now())
    return insights_body(post.id, metrics, INSTAGRAM_MEDIA_METRICS, grown, comments)


@router.get(f"{API}/{{object_id}}")
async def read_object(request: Request, object_id: str) -> dict[str, Any]:
    state = state_of(request)
    me = await _me(request)
    if object_id in ("me", me.id):
        params = await params_of(request)
        fields = set((params.get_str("fields") or "").split(","))
        audience = account_counts(me, state.now())
        user: dict[str, Any] = {
            "id": me.id,
            "user_id": me.id,
            "username": me.username,
            "name": me.display_name,
            "account_type": "BUSINESS",
        }
        counts = {
            "followers_count": audience.followers,
            "follows_count": audience.following,
            "media_count": len(_own_media(state, me)),
        }
        user.update({name: value for name, value in counts.items() if name in fields})
        return user
    container = _containers(state).get(object_id)
    if container is not None and container.account_id == me.id:
        status = _status(state, container)
        out: dict[str, Any] = {"id": container.id, "status_code": status}
        if status == "ERROR":
            table = _containers(state)
            errors = [table[c].error for c in container.children] + [container.error]
            out["status"] = next((e for e in errors if e), "ERROR")
        return out
    post = state.post(PLATFORM, object_id)
    if post is None or post.account_id != me.id:
        raise missing_object(object_id)
    return _media_json(post)


@router.delete(f"{API}/{{object_id}}")
async def delete_object(object_id: str) -> None:
    raise graph_error("(#3) Application does not have the capability to make this API call.", 3)


# -- OAuth -------------------------------------------------------------------------------------


@router.get("/oauth/authorize", response_model=None)
async def authorize(request: Request) -> Response:
    q = request.query_params
    redirect_uri = q.get("redirect_uri") or ""
    try:
        code = oauth.authorize(
            state_of(request),
            PLATFORM,
            client_id=q.get("client_id"),
            redirect_uri=redirect_uri,
            code_challenge=None,
            code_challenge_method=None,
            scopes=tuple(s for s in (q.get("scope") or "").split(",") if s),
            username=q.get("emulator_username"),
            require_pkce=False,
        )
    except oauth.OAuthFailure as exc:
        raise graph_error(exc.description, 100) from exc
    sep = "&" if "?" in redirect_uri else "?"
    answer = urlencode({"code": code, "state": q.get("state") or ""})
    return RedirectResponse(f"{redirect_uri}{sep}{answer}#_", 302)


def _oauth_error(exc: oauth.OAuthFailure) -> Exception:
    return graph_error(exc.description, 101 if exc.error == "invalid_client" else 100)


@router.post("/oauth/access_token")
async def code_exchange(request: Request) -> dict[str, Any]:
    state = state_of(request)
    params = await params_of(request)
    if params.get_str("grant_type") != "authorization_code":
        raise graph_error("(#100) grant_type must be authorization_code")
    try:
        tokens = oauth.exchange_code(
            state,
            PLATFORM,
            code=(params.get_str("code") or "").removesuffix("#_"),
            redirect_uri=params.get_str("redirect_uri"),
            code_verifier=None,
            client_id=params.get_str("client_id"),
            client_secret=params.get_str("client_secret"),
        )
    except oauth.OAuthFailure as exc:
        raise _oauth_error(exc) from exc
    state.oauth.refresh.pop(tokens.refresh_token, None)
    _issue(state, tokens.account, SHORT_LIVED_S, tokens.access_token)
    return {
        "access_token": tokens.access_token,
        "user_id": tokens.account.id,
        "permissions": list(tokens.scopes),
    }


def _issue(
    state: EmulatorState, account: Account, ttl_s: int, token: str | None = None
) -> dict[str, Any]:
    token = token or f"IGAA{state.ids.next()}{account.id}"
    state.oauth.access[token] = oauth.IssuedToken(
        PLATFORM, account.id, state.now() + timedelta(seconds=ttl_s), ()
    )
    return {"access_token": token, "token_type": "bearer", "expires_in": ttl_s}


@router.get("/access_token")
async def long_lived(request: Request) -> dict[str, Any]:
    state = state_of(request)
    params = await params_of(request)
    if params.get_str("grant_type") != "ig_exchange_token":
        raise graph_error("(#100) grant_type must be ig_exchange_token")
    try:
        oauth.check_client(oauth.CLIENT_ID, params.get_str("client_secret") or "")
    except oauth.OAuthFailure as exc:
        raise _oauth_error(exc) from exc
    account = state.account_by_token(PLATFORM, params.get_str("access_token") or "")
    if account is None:
        raise invalid_token("Error validating access token: Session has expired")
    return _issue(state, account, LONG_LIVED_S)


@router.get("/refresh_access_token")
async def refresh(request: Request) -> dict[str, Any]:
    state = state_of(request)
    params = await params_of(request)
    if params.get_str("grant_type") != "ig_refresh_token":
        raise graph_error("(#100) grant_type must be ig_refresh_token")
    account = state.account_by_token(PLATFORM, params.get_str("access_token") or "")
    if account is None:
        raise invalid_token("Error validating access token: Session has expired")
    return _issue(state, account, LONG_LIVED_S)
