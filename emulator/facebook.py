"""Facebook Pages (Graph API): the subset Herald uses, mounted at /facebook.

``/facebook/v26.0/...`` stands for ``https://graph.facebook.com/v26.0/...``; the login dialog
(www.facebook.com/v26.0/dialog/oauth) is ``/facebook/v26.0/dialog/oauth``.

Follows the Pages API docs (Posts: ``POST /{page-id}/feed`` with ``message``, ``link``,
``attached_media``; ``POST /{page-id}/photos`` with ``url`` or multipart ``source`` and
``published=false`` for multi-photo posts; ``POST /{page-id}/videos``; comments; delete;
``GET /{page-id}/feed`` newest first with cursor paging), ``/me/accounts`` (the user's Pages
with their Page access tokens), Facebook Login's manual flow (code, then
``grant_type=fb_exchange_token`` for a long-lived token) and Graph error handling.

Deviations: every emulator user owns exactly one Page whose id equals the user's id and whose
name is the user's display name; the account's fixed emulator token works as both user and
Page token (the Page token from ``/me/accounts`` works too); videos are published at once
(no encoding delay); there is no call-count rate limiting (injected 429 faults carry
``X-App-Usage`` / ``X-Business-Use-Case-Usage`` as Graph does when throttling).
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from emulator import oauth
from emulator.engagement import account_counts, post_counts
from emulator.faults import Fault
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
from emulator.graph_insights import FACEBOOK_POST_METRICS, insights_body, requested_metrics
from emulator.media_meta import sniff_mime
from emulator.platform import PlatformEmulator
from emulator.state import Account, EmulatorState, MediaItem, Post, state_of

PLATFORM = "facebook"
API = f"/{GRAPH_VERSION}"
MAX_LIMIT = 100
DEFAULT_LIMIT = 25
SHORT_LIVED_S = 2 * 3600
LONG_LIVED_S = 60 * 86400
DUPLICATE_SUBCODE = 1366046  # Graph's "duplicate status message" subcode (code 506)


def page_token(account: Account) -> str:
    """A stable Page token derived from the user (what /me/accounts hands out)."""
    return "EAAP" + hashlib.sha256(f"page:{account.token}".encode()).hexdigest()[:40]


class FacebookEmulator(PlatformEmulator):
    name = PLATFORM

    def router(self) -> APIRouter:
        return router

    def error_body(self, status: int, message: str | None = None) -> dict[str, Any]:
        return error_body_for_status(status, message)

    def fault_headers(self, state: EmulatorState, fault: Fault) -> dict[str, str]:
        headers = super().fault_headers(state, fault)
        if fault.spec.status == 429:
            minutes = max(1, round((fault.spec.retry_after or 60) / 60))
            headers["X-App-Usage"] = json.dumps(
                {"call_count": 100, "total_cputime": 10, "total_time": 10}
            )
            headers["X-Business-Use-Case-Usage"] = json.dumps(
                {
                    "0": [
                        {
                            "type": "pages",
                            "call_count": 100,
                            "total_cputime": 10,
                            "total_time": 10,
                            "estimated_time_to_regain_access": minutes,
                        }
                    ]
                }
            )
        return headers


router = APIRouter()


async def _me(request: Request) -> Account:
    state = state_of(request)
    token = request_token(request, await params_of(request))
    if not token:
        raise graph_error(
            "An active access token must be used to query information about the current user.",
            2500,
        )
    account = state.account_by_token(PLATFORM, token)
    if account is None:
        for candidate in state.accounts.values():
            if candidate.platform == PLATFORM and page_token(candidate) == token:
                return candidate
        raise invalid_token()
    return account


async def _page(request: Request, page_id: str) -> Account:
    me = await _me(request)
    if page_id not in (me.id, "me"):
        raise missing_object(page_id, request.method.lower())
    return me


def _post_json(post: Post, fields: set[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"id": post.id, "created_time": graph_time(post.created_at)}
    if post.text:
        out["message"] = post.text
    if "permalink_url" in fields:
        out["permalink_url"] = _permalink(post.id)
    if "attachments" in fields and post.options.get("attachments"):
        out["attachments"] = {"data": post.options["attachments"]}
    if "status_type" in fields:
        out["status_type"] = post.options.get("status_type", "mobile_status_update")
    return out


def _permalink(post_id: str) -> str:
    page, _, story = post_id.partition("_")
    return f"https://www.facebook.com/{page}/posts/{story}"


def _new_post(state: EmulatorState, page: Account, text: str, **options: Any) -> Post:
    post = Post(
        platform=PLATFORM,
        id=f"{page.id}_{state.ids.next()}",
        account_id=page.id,
        text=text,
        media_ids=[],
        created_at=state.now(),
        options=options,
    )
    state.add_post(post)
    return post


def _resolve_post(state: EmulatorState, object_id: str) -> Post | None:
    """A post by its id, or by the id of the photo or video it carries (Graph accepts a
    video's id for the video post)."""
    post = state.post(PLATFORM, object_id)
    if post is None:
        item = state.media_item(PLATFORM, object_id)
        if item is not None and item.post_id is not None:
            post = state.post(PLATFORM, item.post_id)
    return post if post is not None and not post.deleted else None


def _check_duplicate(state: EmulatorState, page: Account, text: str) -> None:
    """Graph refuses the same status message posted again shortly after (code 506)."""
    cutoff = state.now() - timedelta(minutes=10)
    for post in reversed(list(state.posts.values())):
        if post.platform != PLATFORM or post.account_id != page.id or post.created_at < cutoff:
            continue
        if not post.deleted and text and post.text == text and post.in_reply_to_id is None:
            raise graph_error(
                "Duplicate status message", 506, subcode=DUPLICATE_SUBCODE, type_="OAuthException"
            )


# -- users and pages ---------------------------------------------------------------------------


@router.get(f"{API}/me")
async def me(request: Request) -> dict[str, Any]:
    account = await _me(request)
    return {"id": account.id, "name": account.display_name}


@router.get(f"{API}/me/accounts")
async def accounts(request: Request) -> dict[str, Any]:
    account = await _me(request)
    page = {
        "id": account.id,
        "name": account.display_name,
        "category": "Brand",
        "access_token": page_token(account),
        "tasks": ["ADVERTISE", "ANALYZE", "CREATE_CONTENT", "MESSAGING", "MODERATE", "MANAGE"],
    }
    cursor = encode_cursor(account.id)
    return {"data": [page], "paging": {"cursors": {"before": cursor, "after": cursor}}}


# -- OAuth (Facebook Login, manual flow) -------------------------------------------------------


@router.get(f"{API}/dialog/oauth", response_model=None)
async def dialog(request: Request) -> Response:
    q = request.query_params
    redirect_uri = q.get("redirect_uri")
    try:
        code = oauth.authorize(
            state_of(request),
            PLATFORM,
            client_id=q.get("client_id"),
            redirect_uri=redirect_uri,
            code_challenge=q.get("code_challenge"),
            code_challenge_method=q.get("code_challenge_method"),
            scopes=tuple(s for s in (q.get("scope") or "").split(",") if s),
            username=q.get("emulator_username"),
            require_pkce=False,
        )
    except oauth.OAuthFailure as exc:
        if exc.error == "access_denied" and redirect_uri:
            denied = {
                "error": "access_denied",
                "error_code": "200",
                "error_description": "Permissions error",
                "error_reason": "user_denied",
                "state": q.get("state") or "",
            }
            sep = "&" if "?" in redirect_uri else "?"
            return RedirectResponse(f"{redirect_uri}{sep}{urlencode(denied)}#_=_", 302)
        raise graph_error(exc.description, 191 if "redirect" in exc.description else 101) from exc
    answer = {"code": code, "state": q.get("state") or ""}
    sep = "&" if "?" in (redirect_uri or "") else "?"
    return RedirectResponse(f"{redirect_uri}{sep}{urlencode(answer)}#_=_", 302)


@router.get(f"{API}/oauth/access_token")
async def access_token(request: Request) -> dict[str, Any]:
    state = state_of(request)
    params = await params_of(request)
    client_id = params.get_str("client_id")
    client_secret = params.get_str("client_secret")
    try:
        if params.get_str("grant_type") == "fb_exchange_token":
            oauth.check_client(client_id, client_secret)
            short = params.get_str("fb_exchange_token") or ""
            account = state.account_by_token(PLATFORM, short)
            if account is None:
                raise invalid_token("Error validating access token: Session has expired")
            return _issue(state, account, LONG_LIVED_S)
        tokens = oauth.exchange_code(
            state,
            PLATFORM,
            code=params.get_str("code"),
            redirect_uri=params.get_str("redirect_uri"),
            code_verifier=params.get_str("code_verifier"),
            client_id=client_id,
            client_secret=client_secret,
        )
    except oauth.OAuthFailure as exc:
        if exc.error == "invalid_client":
            raise graph_error("Error validating client secret.", 1, subcode=None) from exc
        raise graph_error(
            "This authorization code has been used."
            if "code" in exc.description
            else exc.description,
            100,
            subcode=36009,
        ) from exc
    state.oauth.refresh.pop(tokens.refresh_token, None)  # Facebook has no refresh tokens
    return _issue(state, tokens.account, SHORT_LIVED_S, tokens.access_token)


def _issue(
    state: EmulatorState, account: Account, ttl_s: int, token: str | None = None
) -> dict[str, Any]:
    if token is None:
        token = "EAAL" + hashlib.sha256(f"{account.token}:{state.ids.next()}".encode()).hexdigest()
    state.oauth.access[token] = oauth.IssuedToken(
        PLATFORM, account.id, state.now() + timedelta(seconds=ttl_s), ()
    )
    return {"access_token": token, "token_type": "bearer", "expires_in": ttl_s}


# -- publishing --------------------------------------------------------------------------------


@router.post(f"{API}/{{page_id}}/feed")
async def create_feed_post(request: Request, page_id: str) -> dict[str, Any]:
    state = state_of(request)
    page = await _page(request, page_id)
    params = await params_of(request)
    message = params.get_str("message") or ""
    link = params.get_str("link")
    photos: list[MediaItem] = []
    index = 0
    while (raw := params.get_str(f"attached_media[{index}]")) is not None:
        try:
            fbid = str(json.loads(raw)["media_fbid"])
        except (ValueError, KeyError, TypeError) as exc:
            raise graph_error("(#100) param attached_media must be an array of objects") from exc
        item = state.media_item(PLATFORM, fbid)
        if item is None or item.account_id != page.id or item.post_id is not None:
            raise graph_error(f"(#100) Invalid media_fbid {fbid}")
        photos.append(item)
        index += 1
    if not message and not link and not photos:
        raise graph_error("(#100) Missing message or attachment")
    async with state.lock:
        _check_duplicate(state, page, message)
        attachments = [{"type": "photo", "target": {"id": p.id}} for p in photos]
        if link:
            attachments.append({"type": "share", "url": link})
        post = _new_post(
            state,
            page,
            message,
            link=link,
            attachments=attachments,
            status_type="added_photos" if photos else "mobile_status_update",
        )
        for item in photos:
            item.post_id = post.id
            post.media_ids.append(item.id)
    return {"id": post.id}


async def _photo_bytes(request: Request) -> tuple[bytes, str]:
    params = await params_of(request)
    upload = params.files.get("source")
    if upload is not None and upload.data:
        return upload.data, sniff_mime(upload.data) or upload.content_type
    url = params.get_str("url")
    if not url:
        raise graph_error("(#100) No photo was uploaded: give url or source", 324)
    try:
        async with httpx.AsyncClient(timeout=30) as client:
            fetched = await client.get(url)
    except httpx.HTTPError as exc:
        raise graph_error("(#100) url should represent a valid URL", 100) from exc
    if not fetched.is_success:
        raise graph_error("(#324) Missing or invalid image file", 324)
    return fetched.content, sniff_mime(fetched.content) or fetched.headers.get("content-type", "")


@router.post(f"{API}/{{page_id}}/photos")
async def create_photo(request: Request, page_id: str) -> dict[str, Any]:
    state = state_of(request)
    page = await _page(request, page_id)
    params = await params_of(request)
    data, mime = await _photo_bytes(request)
    if not mime.startswith("image/"):
        raise graph_error("(#324) Missing or invalid image file", 324)
    now = state.now()
    item = MediaItem(PLATFORM, state.ids.next(), page.id, "photo", mime, data, None, now, now)
    state.media[item.id] = item
    if params.get_bool("published") is False:
        return {"id": item.id}
    caption = params.get_str("message") or params.get_str("caption") or ""
    async with state.lock:
        post = _new_post(
            state,
            page,
            caption,
            attachments=[{"type": "photo", "target": {"id": item.id}}],
            status_type="added_photos",
        )
        item.post_id = post.id
        post.media_ids.append(item.id)
    return {"id": item.id, "post_id": post.id}


@router.post(f"{API}/{{page_id}}/videos")
async def create_video(request: Request, page_id: str) -> dict[str, Any]:
    state = state_of(request)
    page = await _page(request, page_id)
    params = await params_of(request)
    upload = params.files.get("source")
    if upload is None or not upload.data:
        raise graph_error("(#100) No file was uploaded", 100, subcode=1363030)
    mime = sniff_mime(upload.data) or upload.content_type
    if not mime.startswith("video/"):
        raise graph_error("The video file you selected is in a format that we don't support.", 352)
    now = state.now()
    item = MediaItem(
        PLATFORM, state.ids.next(), page.id, "video", mime, upload.data, None, now, now
    )
    state.media[item.id] = item
    async with state.lock:
        post = _new_post(
            state,
            page,
            params.get_str("description") or "",
            attachments=[{"type": "video_inline", "target": {"id": item.id}}],
            status_type="added_video",
        )
        item.post_id = post.id
        post.media_ids.append(item.id)
    return {"id": item.id}


@router.post(f"{API}/{{object_id}}/comments")
async def create_comment(request: Request, object_id: str) -> dict[str, Any]:
    state = state_of(request)
    page = await _me(request)
    parent = _resolve_post(state, object_id)
    if parent is None:
        raise missing_object(object_id, "post")
    params = await params_of(request)
    message = params.get_str("message") or ""
    if not message and not params.get_str("attachment_url"):
        raise graph_error("(#100) Missing message or attachment")
    async with state.lock:
        comment = Post(
            platform=PLATFORM,
            id=f"{parent.id.partition('_')[2]}_{state.ids.next()}",
            account_id=page.id,
            text=message,
            media_ids=[],
            created_at=state.now(),
            in_reply_to_id=parent.id,
            options={"kind": "comment"},
        )
        state.add_post(comment)
    return {"id": comment.id}


@router.delete(f"{API}/{{object_id}}")
async def delete_object(request: Request, object_id: str) -> dict[str, Any]:
    state = state_of(request)
    page = await _me(request)
    post = _resolve_post(state, object_id)
    if post is None or post.account_id != page.id:
        raise missing_object(object_id, "delete")
    post.deleted_at = state.now()
    return {"success": True}


# -- reading -----------------------------------------------------------------------------------


@router.get(f"{API}/{{page_id}}/{{edge}}")
async def read_edge(request: Request, page_id: str, edge: str) -> dict[str, Any]:
    state = state_of(request)
    if edge == "comments":
        return await _read_comments(request, page_id)
    if edge == "insights":
        return await _read_insights(request, page_id)
    if edge not in ("feed", "posts", "published_posts"):
        raise graph_error(f"(#100) Tried accessing nonexisting field ({edge})")
    page = await _page(request, page_id)
    params = await params_of(request)
    fields = set((params.get_str("fields") or "").split(","))
    try:
        limit = min(int(params.get_str("limit") or DEFAULT_LIMIT), MAX_LIMIT)
    except ValueError as exc:
        raise graph_error("(#100) Param limit must be a number") from exc
    posts = [
        p
        for p in reversed(list(state.posts.values()))
        if p.platform == PLATFORM
        and p.account_id == page.id
        and not p.deleted
        and p.in_reply_to_id is None
    ]
    start = 0
    after = params.get_str("after")
    if after:
        anchor = decode_cursor(after)
        ids = [p.id for p in posts]
        start = ids.index(anchor) + 1 if anchor in ids else len(ids)
    chunk = posts[start : start + limit]
    body: dict[str, Any] = {"data": [_post_json(p, fields) for p in chunk]}
    if chunk:
        paging: dict[str, Any] = {
            "cursors": {"before": encode_cursor(chunk[0].id), "after": encode_cursor(chunk[-1].id)}
        }
        if start + limit < len(posts):
            query = urlencode({"limit": limit, "after": encode_cursor(chunk[-1].id)})
            paging["next"] = f"{str(request.base_url).rstrip('/')}{request.url.path}?{query}"
        body["paging"] = paging
    return body


async def _read_insights(request: Request, object_id: str) -> dict[str, Any]:
    """Post insights (lifetime values); Page-level insights are not emulated (the Page's
    ``followers_count`` field says how many follow it)."""
    state = state_of(request)
    await _me(request)
    post = _resolve_post(state, object_id)
    if post is None:
        raise missing_object(object_id)
    params = await params_of(request)
    metrics = requested_metrics(params.get_str("metric"), FACEBOOK_POST_METRICS)
    grown = post_counts(post, state.now())
    return insights_body(post.id, metrics, FACEBOOK_POST_METRICS, grown, _comments_on(state, post))


def _comments_on(state: EmulatorState, post: Post) -> int:
    return sum(
        1
        for p in state.posts.values()
        if p.platform == PLATFORM and p.in_reply_to_id == post.id and not p.deleted
    )


async def _read_comments(request: Request, object_id: str) -> dict[str, Any]:
    """Comments on a post, oldest first (Graph's default chronological order)."""
    state = state_of(request)
    page = await _me(request)
    parent = _resolve_post(state, object_id)
    if parent is None:
        raise missing_object(object_id)
    comments = [
        {
            "id": p.id,
            "message": p.text,
            "created_time": graph_time(p.created_at),
            "from": {"id": page.id, "name": page.display_name},
        }
        for p in state.posts.values()
        if p.platform == PLATFORM and p.in_reply_to_id == parent.id and not p.deleted
    ]
    return {"data": comments}


@router.get(f"{API}/{{object_id}}")
async def read_object(request: Request, object_id: str) -> dict[str, Any]:
    state = state_of(request)
    me_account = await _me(request)
    params = await params_of(request)
    fields = set((params.get_str("fields") or "id,name").split(","))
    if object_id == me_account.id:
        out: dict[str, Any] = {"id": me_account.id}
        if "name" in fields:
            out["name"] = me_account.display_name
        audience = account_counts(me_account, state.now())
        if "followers_count" in fields:
            out["followers_count"] = audience.followers
        if "fan_count" in fields:
            out["fan_count"] = audience.followers
        if "picture" in fields:
            out["picture"] = {
                "data": {
                    "height": 50,
                    "width": 50,
                    "is_silhouette": True,
                    "url": f"https://graph.facebook.com/{me_account.id}/picture",
                }
            }
        return out
    post = _resolve_post(state, object_id)
    if post is None:
        raise missing_object(object_id)
    out = _post_json(post, fields | {"permalink_url"})
    grown = post_counts(post, state.now())
    if "shares" in fields:
        out["shares"] = {"count": grown["shares"]}
    if any(f.split(".", 1)[0] == "comments" for f in fields):
        total = grown["comments"] + _comments_on(state, post)
        out["comments"] = {"data": [], "summary": {"total_count": total}}
    return out
