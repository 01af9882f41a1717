"""Mastodon: the API subset Herald uses, mounted at /mastodon (the "instance URL").

Follows docs.joinmastodon.org (methods/statuses, methods/media, methods/accounts,
methods/instance, api/rate-limits) and Mastodon's own code where the docs are silent:
error wording from config/locales/en.yml, validation order from PostStatusService, rate
limits from config/initializers/rack_attack.rb.
"""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import unquote_plus, urlencode

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse

from emulator.faults import Fault
from emulator.forms import MalformedBody, Params, read_params
from emulator.mastodon_entities import (
    IMAGE_SIZE_LIMIT,
    MAX_MEDIA_ATTACHMENTS,
    PLATFORM,
    VIDEO_SIZE_LIMIT,
    account_entity,
    account_url,
    credential_account_entity,
    instance_entity,
    media_entity,
    media_type_for,
    status_entity,
)
from emulator.mastodon_text import ResolvedMention, render, status_length, strip_text
from emulator.media_meta import image_dimensions, sniff_mime
from emulator.platform import PlatformEmulator, PlatformError, RequestInfo
from emulator.ratelimit import RateLimitResult
from emulator.state import Account, EmulatorState, MediaItem, Post, state_of
from emulator.timefmt import iso8601_micro

INVALID_TOKEN = "The access token is invalid"
NOT_FOUND = "Record not found"
TOO_MANY_REQUESTS = "Too many requests"
TEXT_BLANK = "Validation failed: Text can't be blank"
NOT_READY = "Cannot attach files that have not finished processing. Try again in a moment!"
TOO_MANY_FILES = f"Cannot attach more than {MAX_MEDIA_ATTACHMENTS} files"
MIXED_MEDIA = "Cannot attach a video to a post that already contains images"
BAD_FILE_TYPE = "Validation failed: File content type is invalid, File is invalid"
PARSE_ERROR = "Error occurred while parsing request parameters"
VISIBILITIES = ("public", "unlisted", "private", "direct")
DEFAULT_STATUSES_LIMIT = 20
_MEDIA_UPLOAD_PATH = re.compile(r"\A/api/v\d+/media\Z")
_STATUS_PATH = re.compile(r"\A/api/v1/statuses/\d+\Z")

# Mastodon's own words for statuses it might answer with (en.yml "errors" and the API
# controller's rescue_from blocks); anything else falls back to the HTTP reason phrase.
_MESSAGES = {
    400: "The request you submitted was invalid or malformed.",
    401: INVALID_TOKEN,
    403: "This action is not allowed",
    404: NOT_FOUND,
    410: "The page you were looking for doesn't exist here anymore.",
    422: "Validation failed",
    429: TOO_MANY_REQUESTS,
    500: "We're sorry, but something went wrong on our end.",
    503: "There was a temporary problem serving your request, please try again",
}


def _error(status: int, message: str) -> PlatformError:
    return PlatformError(status, {"error": message})


class MastodonEmulator(PlatformEmulator):
    name = PLATFORM

    def router(self) -> APIRouter:
        return router

    def default_message(self, status: int) -> str:
        return _MESSAGES.get(status) or super().default_message(status)

    def rate_limit(self, state: EmulatorState, request: RequestInfo) -> RateLimitResult | None:
        # Rack::Attack only throttles /api paths; media files and web pages are not counted.
        if not request.path.startswith("/api/"):
            return None
        settings = state.settings
        now = state.now()
        token = _token_from(request.headers.get("authorization", ""), request.query)
        account = state.account_by_token(PLATFORM, token) if token else None
        counter = state.rate_counter
        results = [
            counter.hit(
                "mastodon:token" if account else "mastodon:ip",
                token if account and token else request.client_host,
                settings.rate_limit,
                settings.rate_period_s,
                now,
            )
        ]
        if account is not None:
            if request.method == "POST" and _MEDIA_UPLOAD_PATH.match(request.path):
                results.append(
                    counter.hit(
                        "mastodon:media",
                        account.id,
                        settings.media_rate_limit,
                        settings.media_rate_period_s,
                        now,
                    )
                )
            if request.method == "DELETE" and _STATUS_PATH.match(request.path):
                results.append(
                    counter.hit(
                        "mastodon:delete",
                        account.id,
                        settings.delete_rate_limit,
                        settings.delete_rate_period_s,
                        now,
                    )
                )
        # "The headers return information about the one you are closest to exceeding."
        exceeded = [r for r in results if r.exceeded]
        return exceeded[0] if exceeded else min(results, key=lambda r: r.remaining)

    def rate_limit_headers(self, result: RateLimitResult) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(result.limit),
            "X-RateLimit-Remaining": str(result.remaining),
            "X-RateLimit-Reset": iso8601_micro(result.reset_at),
        }

    def fault_headers(self, state: EmulatorState, fault: Fault) -> dict[str, str]:
        headers = super().fault_headers(state, fault)
        if fault.spec.status == 429:
            reset = state.now() + timedelta(seconds=fault.spec.retry_after or 0)
            headers.update(
                {
                    "X-RateLimit-Limit": str(state.settings.rate_limit),
                    "X-RateLimit-Remaining": "0",
                    "X-RateLimit-Reset": iso8601_micro(reset),
                }
            )
        return headers

    def media_url(self, base_url: str, media: MediaItem) -> str:
        return f"{base_url.rstrip('/')}/{PLATFORM}/media-files/{media.id}"


# -- request helpers ---------------------------------------------------------------------------


def _token_from(authorization: str, query: str) -> str | None:
    """Doorkeeper reads a Bearer header, else an access_token parameter."""
    scheme, _, credential = authorization.strip().partition(" ")
    if scheme.lower() == "bearer" and credential.strip():
        return credential.strip()
    for part in query.split("&"):
        name, _, value = part.partition("=")
        if name == "access_token" and value:
            return unquote_plus(value)
    return None


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + f"/{PLATFORM}"


def optional_viewer(request: Request) -> Account | None:
    """Public endpoints work without a token, but a bad token is still refused (Doorkeeper)."""
    token = _token_from(request.headers.get("authorization", ""), request.url.query)
    if token is None:
        return None
    account = state_of(request).account_by_token(PLATFORM, token)
    if account is None:
        raise _error(401, INVALID_TOKEN)
    return account


def required_account(request: Request) -> Account:
    account = optional_viewer(request)
    if account is None:
        raise _error(401, INVALID_TOKEN)
    return account


Viewer = Annotated[Account | None, Depends(optional_viewer)]
Me = Annotated[Account, Depends(required_account)]


async def _params(request: Request) -> Params:
    try:
        return await read_params(request)
    except MalformedBody as exc:
        raise _error(400, PARSE_ERROR) from exc


def _visible_to(post: Post, viewer: Account | None) -> bool:
    if post.options.get("visibility", "public") in ("public", "unlisted"):
        return True
    return viewer is not None and viewer.id == post.account_id


def _live_status(state: EmulatorState, status_id: str, viewer: Account | None) -> Post:
    post = state.post(PLATFORM, status_id)
    if post is None or post.deleted or not _visible_to(post, viewer):
        raise _error(404, NOT_FOUND)
    return post


def _as_int(value: str | None, default: int = 0) -> int:
    """Ruby's String#to_i: leading digits, else 0."""
    if value is None:
        return default
    match = re.match(r"\s*([+-]?\d+)", value)
    return int(match.group(1)) if match else 0


def _truthy(value: str | None) -> bool:
    return value is not None and value.strip().lower() not in {"", "0", "f", "false", "off"}


router = APIRouter()


# -- accounts ----------------------------------------------------------------------------------


@router.get("/api/v1/accounts/verify_credentials")
async def verify_credentials(request: Request, me: Me) -> dict[str, Any]:
    return credential_account_entity(_base(request), me, state_of(request))


@router.get("/api/v1/accounts/{account_id}")
async def get_account(request: Request, account_id: str, viewer: Viewer) -> dict[str, Any]:
    state = state_of(request)
    account = state.account(PLATFORM, account_id)
    if account is None:
        raise _error(404, NOT_FOUND)
    return account_entity(_base(request), account, state)


@router.get("/api/v1/accounts/{account_id}/statuses")
async def account_statuses(request: Request, account_id: str, viewer: Viewer) -> JSONResponse:
    state = state_of(request)
    account = state.account(PLATFORM, account_id)
    if account is None:
        raise _error(404, NOT_FOUND)
    query = request.query_params
    # Api::BaseController#limit_param: [limit.to_i.abs, default * 2].min
    limit = (
        min(abs(_as_int(query.get("limit"))), DEFAULT_STATUSES_LIMIT * 2)
        if query.get("limit") is not None
        else DEFAULT_STATUSES_LIMIT
    )
    candidates = [
        p
        for p in state.posts_of(account.id)
        if p.platform == PLATFORM and not p.deleted and _visible_to(p, viewer)
    ]
    if _truthy(query.get("exclude_replies")):
        # Replies to oneself (threads) stay; replies to others go.
        candidates = [
            p
            for p in candidates
            if p.in_reply_to_id is None
            or (
                (parent := state.posts.get(p.in_reply_to_id)) is not None
                and parent.account_id == account.id
            )
        ]
    if _truthy(query.get("only_media")):
        candidates = [p for p in candidates if p.media_ids]
    if _truthy(query.get("pinned")):
        candidates = []  # the emulator has no pins
    if query.get("tagged"):
        wanted = query["tagged"].lower()
        candidates = [
            p for p in candidates if wanted in (t.lower() for t in p.options.get("tags", []))
        ]
    page = _paginate(
        candidates, limit, query.get("max_id"), query.get("since_id"), query.get("min_id")
    )
    base = _base(request)
    body = [status_entity(base, p, state, viewer) for p in page]
    headers = {}
    link = _link_header(f"{base}/api/v1/accounts/{account.id}/statuses", dict(query), page, limit)
    if link:
        headers["Link"] = link
    return JSONResponse(body, headers=headers)


def _paginate(
    posts: list[Post], limit: int, max_id: str | None, since_id: str | None, min_id: str | None
) -> list[Post]:
    """Paginable#to_a_paginated_by_id: newest first; min_id pages forward from a cursor."""
    ordered = sorted(posts, key=lambda p: int(p.id))
    if max_id:
        ordered = [p for p in ordered if int(p.id) < _as_int(max_id)]
    if min_id:
        after = [p for p in ordered if int(p.id) > _as_int(min_id)]
        return list(reversed(after[:limit]))
    if since_id:
        ordered = [p for p in ordered if int(p.id) > _as_int(since_id)]
    return list(reversed(ordered))[:limit] if limit > 0 else []


_PAGINATION_KEEP = ("limit", "only_media", "exclude_replies", "exclude_reblogs", "pinned", "tagged")


def _link_header(url: str, query: dict[str, str], page: list[Post], limit: int) -> str | None:
    kept = {k: query[k] for k in _PAGINATION_KEEP if k in query}
    links = []
    if page and len(page) == limit:
        links.append(f'<{url}?{urlencode({**kept, "max_id": page[-1].id})}>; rel="next"')
    if page:
        links.append(f'<{url}?{urlencode({**kept, "min_id": page[0].id})}>; rel="prev"')
    return ", ".join(links) or None


# -- statuses ----------------------------------------------------------------------------------


@router.post("/api/v1/statuses")
async def create_status(request: Request, me: Me) -> dict[str, Any]:
    state = state_of(request)
    params = await _params(request)
    text = strip_text(params.get_str("status") or "")
    spoiler_text = strip_text(params.get_str("spoiler_text") or "")
    media_ids = [str(m) for m in params.get_list("media_ids") if str(m) != ""]
    visibility = params.get_str("visibility") or "public"
    language = params.get_str("language") or "en"
    sensitive = params.get_bool("sensitive")
    key = request.headers.get("idempotency-key") or None

    # The controller loads the replied-to status before the service runs.
    in_reply_to_id = params.get_str("in_reply_to_id") or None
    if in_reply_to_id is not None:
        _live_status(state, in_reply_to_id, me)

    async with state.lock:
        if key is not None:
            existing = state.recall_idempotent(PLATFORM, me.id, key)
            if existing is not None:
                # Same key, same account, within the hour: the original status, not a new one.
                # Mastodon looks it up again, so a since-deleted status is a 404.
                original = state.post(PLATFORM, existing)
                if original is None or original.deleted:
                    raise _error(404, NOT_FOUND)
                return status_entity(_base(request), original, state, me)

        _validate_media(state, me, media_ids)
        if visibility not in VISIBILITIES:
            raise _error(422, "Validation failed: Visibility is not included in the list")
        if not text and not media_ids:
            raise _error(422, TEXT_BLANK)
        if status_length(text, spoiler_text) > state.settings.max_characters:
            raise _error(
                422,
                f"Validation failed: Text character limit of {state.settings.max_characters} exceeded",
            )

        base = _base(request)
        rendered = render(text, _mention_resolver(state, base), lambda tag: f"{base}/tags/{tag}")
        post = Post(
            platform=PLATFORM,
            id=state.ids.next(),
            account_id=me.id,
            text=text,
            media_ids=media_ids,
            created_at=state.now(),
            in_reply_to_id=in_reply_to_id,
            idempotency_key=key,
            options={
                "visibility": visibility,
                "spoiler_text": spoiler_text,
                # A content warning implies sensitive, as in PostStatusService.
                "sensitive": bool(sensitive) or bool(spoiler_text),
                "language": language,
                "content": rendered.html,
                "mentions": [
                    {"id": m.id, "username": m.username, "url": m.url, "acct": m.acct}
                    for m in rendered.mentions
                ],
                "tags": rendered.tags,
            },
        )
        state.add_post(post)
        if key is not None:
            state.remember_idempotent(PLATFORM, me.id, key, post.id)
    return status_entity(base, post, state, me)


def _validate_media(state: EmulatorState, me: Account, media_ids: list[str]) -> None:
    """PostStatusService#validate_media!, in its order."""
    if not media_ids:
        return
    if len(media_ids) > MAX_MEDIA_ATTACHMENTS:
        raise _error(422, TOO_MANY_FILES)
    found: list[MediaItem] = []
    missing: list[str] = []
    for media_id in media_ids:
        item = state.media_item(PLATFORM, media_id)
        if item is None or item.account_id != me.id or item.post_id is not None or item.discarded:
            missing.append(media_id)
        else:
            found.append(item)
    if missing:
        raise _error(
            422, f"Media {', '.join(missing)} not found or already attached to another post"
        )
    if len(found) > 1 and any(m.type in ("video", "audio") for m in found):
        raise _error(422, MIXED_MEDIA)
    now = state.now()
    if any(not m.processed(now) for m in found):
        raise _error(422, NOT_READY)


def _mention_resolver(
    state: EmulatorState, base: str
) -> Callable[[str, str | None], ResolvedMention | None]:
    host = base.split("://", 1)[-1].split("/", 1)[0]

    def resolve(username: str, domain: str | None) -> ResolvedMention | None:
        if domain is not None and domain.lower() != host.lower():
            return None  # remote accounts are never resolved by the emulator
        account = state.account_by_username(PLATFORM, username)
        if account is None:
            return None
        return ResolvedMention(
            id=account.id,
            username=account.username,
            acct=account.username,
            url=account_url(base, account),
        )

    return resolve


@router.get("/api/v1/statuses/{status_id}")
async def get_status(request: Request, status_id: str, viewer: Viewer) -> dict[str, Any]:
    state = state_of(request)
    post = _live_status(state, status_id, viewer)
    return status_entity(_base(request), post, state, viewer)


@router.delete("/api/v1/statuses/{status_id}")
async def delete_status(request: Request, status_id: str, me: Me) -> dict[str, Any]:
    state = state_of(request)
    post = state.post(PLATFORM, status_id)
    if post is None or post.deleted or post.account_id != me.id:
        raise _error(404, NOT_FOUND)
    params = await _params(request)
    delete_media = bool(params.get_bool("delete_media"))
    post.deleted_at = state.now()
    for media_id in post.media_ids:
        item = state.media.get(media_id)
        if item is None:
            continue
        # Detached media may be reused for 24 h (delete-and-redraft) unless delete_media.
        item.post_id = None
        item.discarded = delete_media
    # The answer carries the source text so clients can redraft.
    return status_entity(_base(request), post, state, me, with_source=True)


# -- media -------------------------------------------------------------------------------------


async def _store_upload(request: Request, me: Account) -> MediaItem:
    state = state_of(request)
    params = await _params(request)
    upload = params.files.get("file")
    if upload is None or not upload.data:
        raise _error(422, "Validation failed: File can't be blank")
    declared = upload.content_type.lower()
    # Mastodon trusts the bytes (Marcel) over the declared type when it can tell.
    mime = sniff_mime(upload.data) or declared
    media_type = media_type_for(mime)
    if media_type is None:
        raise _error(422, BAD_FILE_TYPE)
    if media_type == "image" and len(upload.data) > IMAGE_SIZE_LIMIT:
        raise _error(422, "Validation failed: File file size must be less than 16 MB")
    if media_type != "image" and len(upload.data) > VIDEO_SIZE_LIMIT:
        raise _error(422, "Validation failed: File file size must be less than 99 MB")
    now = state.now()
    # Still images are processed synchronously (Mastodon 4.0+); the rest in the background.
    delay = 0.0 if media_type == "image" else state.settings.processing_s
    meta: dict[str, Any] = {}
    dimensions = image_dimensions(upload.data)
    if dimensions:
        width, height = dimensions
        original = {
            "width": width,
            "height": height,
            "size": f"{width}x{height}",
            "aspect": width / height if height else None,
        }
        meta = {"original": original}
    item = MediaItem(
        platform=PLATFORM,
        id=state.ids.next(),
        account_id=me.id,
        type=media_type,
        mime_type=mime,
        data=upload.data,
        description=params.get_str("description"),
        created_at=now,
        ready_at=now + timedelta(seconds=delay),
        meta=meta,
    )
    state.media[item.id] = item
    return item


@router.post("/api/v2/media")
async def upload_media_v2(request: Request, me: Me) -> JSONResponse:
    item = await _store_upload(request, me)
    base = _base(request)
    if item.type == "image":
        return JSONResponse(media_entity(base, item, state_of(request).now()), status_code=200)
    return JSONResponse(
        media_entity(base, item, state_of(request).now(), force_pending=True), status_code=202
    )


@router.post("/api/v1/media")
async def upload_media_v1(request: Request, me: Me) -> dict[str, Any]:
    """Deprecated synchronous upload: answers only once processing is done."""
    state = state_of(request)
    item = await _store_upload(request, me)
    wait = (item.ready_at - state.now()).total_seconds()
    if wait > 0:
        await asyncio.sleep(wait)
    return media_entity(_base(request), item, state.now())


@router.get("/api/v1/media/{media_id}")
async def get_media(request: Request, media_id: str, me: Me) -> JSONResponse:
    state = state_of(request)
    item = state.media_item(PLATFORM, media_id)
    # Only your own, not yet attached attachments (MediaController#set_media_attachment).
    if item is None or item.account_id != me.id or item.post_id is not None or item.discarded:
        raise _error(404, NOT_FOUND)
    now = state.now()
    status = 200 if item.processed(now) else 206
    return JSONResponse(media_entity(_base(request), item, now), status_code=status)


@router.get("/media-files/{media_id}")
async def media_file(request: Request, media_id: str) -> Response:
    state = state_of(request)
    item = state.media_item(PLATFORM, media_id)
    if item is None or item.discarded or not item.processed(state.now()):
        raise _error(404, NOT_FOUND)
    return Response(content=item.data, media_type=item.mime_type)


# -- instance and web pages --------------------------------------------------------------------


@router.get("/api/v2/instance")
async def instance(request: Request, viewer: Viewer) -> dict[str, Any]:
    return instance_entity(_base(request), request.url.netloc, state_of(request))


@router.get("/@{username}/{status_id}", response_class=HTMLResponse)
async def status_page(request: Request, username: str, status_id: str) -> HTMLResponse:
    """The status URL resolves to a minimal page, as a browser would see one."""
    state = state_of(request)
    post = state.post(PLATFORM, status_id)
    account = state.accounts.get(post.account_id) if post else None
    if (
        post is None
        or post.deleted
        or account is None
        or account.username.lower() != username.lower()
        or not _visible_to(post, None)
    ):
        return HTMLResponse("<h1>The page you are looking for isn't here.</h1>", status_code=404)
    title = html.escape(f"{account.display_name} (@{account.username})")
    content = post.options.get("content", "")
    return HTMLResponse(
        f"<!doctype html><html><head><title>{title}</title></head>"
        f'<body><article class="status">{content}</article></body></html>'
    )


@router.api_route(
    "/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
)
async def not_found(rest: str) -> None:
    """Unknown routes answer like Mastodon's router does, not with FastAPI's body."""
    raise _error(404, NOT_FOUND)
