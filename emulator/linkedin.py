"""LinkedIn (Community Management API, versioned ``/rest``): the subset Herald uses, mounted at
/linkedin (so ``POST /linkedin/rest/posts``).

Follows learn.microsoft.com "Posts API", "Comments API", "Social Metadata API", "Images API",
"Videos API", "little Text Format", "Rate Limits" and "Versioning":

- ``POST /rest/posts`` (headers ``LinkedIn-Version: YYYYMM`` and ``X-Restli-Protocol-Version:
  2.0.0``) with ``{author, commentary, visibility, distribution, lifecycleState: PUBLISHED,
  content?: {media: {id, altText|title}} | {multiImage: {images: [{id, altText}]}}}`` answers
  201 with the post URN (``urn:li:share:<n>``) in ``x-restli-id`` and no body;
- ``GET /rest/posts/{urn}``, ``DELETE /rest/posts/{urn}`` (204), and the finder
  ``GET /rest/posts?q=author&author=<urn>&start&count&sortBy`` (newest first, ``paging``);
- ``POST /rest/socialActions/{urn}/comments {actor, object, message: {text}}`` (201),
  ``DELETE /rest/socialActions/{urn}/comments/{id}?actor=``, ``GET /rest/socialMetadata/{urn}``;
  comments are plain text of at most 1250 characters (the refusal's wording is the emulator's);
- commentary is "little" text: reserved characters must be escaped, and an unescaped one cuts
  the post there (what LinkedIn does, silently); at most 3000 characters (UTF-16 units);
  identical commentary by the same author within a day is refused (422 DUPLICATE_POST);
- daily per-member limits, reset at midnight UTC, answered 429 without rate-limit headers.

Credentials: ``Authorization: Bearer <token>``, the emulator account's token or an OAuth access
token; the member's URN is ``urn:li:person:<account id>``.

Deviations: the activity URN of a post has the share's number; only member (person) authors,
no organizations, polls, articles, documents, reshares or edits; reading posts needs no
r_member_social; the X-Restli-Protocol-Version header is not checked.
"""

from __future__ import annotations

from datetime import timedelta
from http import HTTPStatus
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from emulator.linkedin_analytics import router as analytics_router
from emulator.linkedin_common import (
    PLATFORM,
    SHARE,
    Member,
    Versioned,
    bearer_token,
    epoch_ms,
    forbidden,
    input_error,
    missing_field,
    next_id,
    not_found,
    person_urn,
    render_little,
    rest_error,
    utf16_length,
)
from emulator.linkedin_media import media_status
from emulator.linkedin_media import router as media_router
from emulator.linkedin_oauth import router as oauth_router
from emulator.platform import PlatformEmulator, PlatformError, RequestInfo
from emulator.ratelimit import RateLimitResult
from emulator.state import Account, EmulatorState, Post, state_of

VISIBILITIES = frozenset({"PUBLIC", "CONNECTIONS", "LOGGED_IN", "CONTAINER"})
MULTI_IMAGE_MIN = 2
MULTI_IMAGE_MAX = 20
FINDER_MAX_COUNT = 100
MAX_COMMENT = 1250
DAY_S = 86400
_STATUS_CODES = {
    400: "BAD_REQUEST",
    401: "INVALID_ACCESS_TOKEN",
    403: "ACCESS_DENIED",
    404: "NOT_FOUND",
    422: "UNPROCESSABLE_ENTITY",
    429: "TOO_MANY_REQUESTS",
}


class LinkedInEmulator(PlatformEmulator):
    """LinkedIn's own daily throttle sends no rate-limit headers; an injected 429 (the
    infrastructure-protection kind) carries Retry-After when the fault names one."""

    name = PLATFORM

    def router(self) -> APIRouter:
        return router

    def error_body(self, status: int, message: str | None = None) -> dict[str, Any]:
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Error"
        code = _STATUS_CODES.get(status, phrase.upper().replace(" ", "_"))
        if status == 401 and message is None:
            message = "Invalid access token"
        body: dict[str, Any] = rest_error(
            status, code, message or phrase, 65600 if status == 401 else None
        ).body
        return body

    def rate_limit(self, state: EmulatorState, request: RequestInfo) -> RateLimitResult | None:
        if not request.path.startswith(("/rest/", "/v2/")):
            return None
        token = bearer_token(request.headers.get("authorization", ""))
        account = state.account_by_token(PLATFORM, token) if token else None
        if account is None:
            return None  # refused as unauthenticated anyway
        settings = state.settings
        counted = state.rate_counter.hit(
            "linkedin:member", account.id, settings.linkedin_member_daily_limit, DAY_S, state.now()
        )
        if request.method == "POST" and request.path == "/rest/posts" and not counted.exceeded:
            return state.rate_counter.hit(
                "linkedin:posts", account.id, settings.linkedin_post_daily_limit, DAY_S, state.now()
            )
        return counted

    def rate_limited_error(self, result: RateLimitResult) -> PlatformError:
        return rest_error(
            429,
            "TOO_MANY_REQUESTS",
            "Resource level throttle MEMBER DAY limit for calls to this resource is reached.",
        )


router = APIRouter()
router.include_router(analytics_router)
router.include_router(media_router)
router.include_router(oauth_router)


# -- posts --------------------------------------------------------------------------------------


def _posts_of(state: EmulatorState, account_id: str) -> list[Post]:
    return [
        p
        for p in state.posts.values()
        if p.platform == PLATFORM
        and p.account_id == account_id
        and not p.deleted
        and p.options.get("kind") == "post"
    ]


def _content_media(state: EmulatorState, account: Account, content: Any) -> list[str]:
    """The media URNs of ``content``, each the member's own and AVAILABLE."""
    if content is None:
        return []
    if not isinstance(content, dict) or len(content) != 1:
        raise input_error(
            "Exactly one content type must be set", "INVALID_CONTENT", "Unsupported content"
        )
    if "media" in content:
        media = content["media"]
        if not isinstance(media, dict) or not isinstance(media.get("id"), str):
            raise missing_field("/content/media/id")
        ids = [media["id"]]
    elif "multiImage" in content:
        images = (content["multiImage"] or {}).get("images")
        if not isinstance(images, list) or not all(
            isinstance(i, dict) and isinstance(i.get("id"), str) for i in images
        ):
            raise missing_field("/content/multiImage/images")
        if not MULTI_IMAGE_MIN <= len(images) <= MULTI_IMAGE_MAX:
            raise input_error(
                f"MultiImage posts take {MULTI_IMAGE_MIN} to {MULTI_IMAGE_MAX} images, "
                f"not {len(images)}",
                "INVALID_MULTI_IMAGE_COUNT",
                "Invalid number of images",
            )
        ids = [i["id"] for i in images]
        if any(not i.startswith("urn:li:image:") for i in ids):
            raise input_error(
                "MultiImage posts take images only", "INVALID_CONTENT", "Unsupported media"
            )
    else:
        raise input_error(
            f"Unsupported content type {next(iter(content))}",
            "INVALID_CONTENT",
            "Unsupported content",
        )
    for media_id in ids:
        item = state.media_item(PLATFORM, media_id)
        if item is None:
            raise input_error(
                f"Media {media_id} does not exist", "MEDIA_NOT_FOUND", "Invalid media"
            )
        if item.account_id != account.id:
            raise forbidden(f"Not enough permissions to use media {media_id}")
        status = media_status(state, item)
        if status != "AVAILABLE":
            raise input_error(
                f"Media {media_id} is not available (status {status})",
                "MEDIA_NOT_AVAILABLE",
                "Media is not ready",
            )
    return ids


def _check_duplicate(state: EmulatorState, account: Account, commentary: str) -> None:
    if not commentary.strip():
        return
    cutoff = state.now() - timedelta(seconds=state.settings.linkedin_duplicate_window_s)
    for post in _posts_of(state, account.id):
        if post.created_at >= cutoff and post.options["commentary"] == commentary:
            raise input_error(
                f"Content is a duplicate of {post.id}",
                "DUPLICATE_POST",
                "Duplicate post is detected",
            )


@router.post("/rest/posts", dependencies=[Versioned])
async def create_post(request: Request, account: Member) -> Response:
    state = state_of(request)
    body = await request.json()
    if not isinstance(body, dict):
        raise missing_field("/author")
    for name in ("author", "visibility", "distribution", "lifecycleState"):
        if name not in body:
            raise missing_field(f"/{name}")
    if body["author"] != person_urn(account):
        raise forbidden(f"Not enough permissions to create a post as {body['author']}")
    if body["visibility"] not in VISIBILITIES:
        raise rest_error(
            422,
            "UNPROCESSABLE_ENTITY",
            f'ERROR :: /visibility :: "{body["visibility"]}" is not an enum symbol\n',
        )
    if body["lifecycleState"] != "PUBLISHED":
        raise input_error(
            "Only PUBLISHED posts can be created", "INVALID_LIFECYCLE_STATE", "Invalid state"
        )
    commentary = body.get("commentary") or ""
    if not isinstance(commentary, str):
        raise missing_field("/commentary")
    length = utf16_length(commentary)
    limit = state.settings.linkedin_max_commentary
    if length > limit:
        raise input_error(
            f"ShareCommentary text length ({length} characters) exceeded the maximum allowed "
            f"({limit} characters)",
            "FIELD_ARRAY_SIZE_TOO_HIGH",
            "Size of array cannot be higher than the maxLength",
            status=400,
            maxLength=limit,
        )
    media_ids = _content_media(state, account, body.get("content"))
    if not commentary.strip() and not media_ids:
        raise missing_field("/commentary")
    async with state.lock:
        _check_duplicate(state, account, commentary)
        text, kept = render_little(commentary)
        urn = f"{SHARE}{next_id(state)}"
        content = body.get("content")
        alt = _alt_texts(content)
        for media_id in media_ids:
            state.media[media_id].description = alt.get(media_id)
        state.add_post(
            Post(
                platform=PLATFORM,
                id=urn,
                account_id=account.id,
                text=text,
                media_ids=media_ids,
                created_at=state.now(),
                options={
                    "kind": "post",
                    "commentary": commentary,
                    "stored_commentary": commentary[:kept],
                    "visibility": body["visibility"],
                    "distribution": body["distribution"],
                    "content": content,
                    "isReshareDisabledByAuthor": bool(body.get("isReshareDisabledByAuthor")),
                },
            )
        )
    return Response(status_code=201, headers={"x-restli-id": urn, "x-linkedin-id": urn})


def _alt_texts(content: Any) -> dict[str, str]:
    if not isinstance(content, dict):
        return {}
    if isinstance(content.get("media"), dict):
        media = content["media"]
        text = media.get("altText") or media.get("title")
        return {media["id"]: text} if isinstance(text, str) else {}
    images = (content.get("multiImage") or {}).get("images") or []
    return {i["id"]: i["altText"] for i in images if isinstance(i.get("altText"), str)}


def _post_json(post: Post) -> dict[str, Any]:
    created = epoch_ms(post.created_at)
    answer: dict[str, Any] = {
        "id": post.id,
        "author": f"urn:li:person:{post.account_id}",
        "commentary": post.options["stored_commentary"],
        "visibility": post.options["visibility"],
        "distribution": post.options["distribution"],
        "lifecycleState": "PUBLISHED",
        "lifecycleStateInfo": {"isEditedByAuthor": False},
        "isReshareDisabledByAuthor": post.options["isReshareDisabledByAuthor"],
        "createdAt": created,
        "publishedAt": created,
        "lastModifiedAt": created,
    }
    if post.options.get("content"):
        answer["content"] = post.options["content"]
    return answer


def _live_post(state: EmulatorState, urn: str) -> Post:
    post = state.post(PLATFORM, urn)
    if post is None or post.deleted or post.options.get("kind") != "post":
        raise not_found(f"Post {urn}")
    return post


@router.get("/rest/posts", dependencies=[Versioned])
async def find_posts(
    request: Request,
    account: Member,
    q: str | None = None,
    author: str | None = None,
    start: int = 0,
    count: int = 10,
    sortBy: str = "LAST_MODIFIED",
) -> dict[str, Any]:
    state = state_of(request)
    if q != "author":
        raise rest_error(400, "ILLEGAL_ARGUMENT", f"Unsupported finder q={q!r}")
    if not author:
        raise rest_error(400, "ILLEGAL_ARGUMENT", "author is required for q=author")
    if author != person_urn(account):
        raise forbidden(f"Not enough permissions to read the posts of {author}")
    if sortBy not in ("LAST_MODIFIED", "CREATED") or start < 0 or count <= 0:
        raise rest_error(400, "ILLEGAL_ARGUMENT", "Invalid paging or sortBy parameter")
    count = min(count, FINDER_MAX_COUNT)
    posts = sorted(_posts_of(state, account.id), key=lambda p: p.created_at, reverse=True)
    page = posts[start : start + count]
    return {
        "paging": {"start": start, "count": count, "links": [], "total": len(posts)},
        "elements": [_post_json(p) for p in page],
    }


@router.get("/rest/posts/{urn}", dependencies=[Versioned])
async def get_post(request: Request, urn: str, _account: Member) -> dict[str, Any]:
    return _post_json(_live_post(state_of(request), urn))


@router.delete("/rest/posts/{urn}", dependencies=[Versioned])
async def delete_post(request: Request, urn: str, account: Member) -> Response:
    state = state_of(request)
    post = _live_post(state, urn)
    if post.account_id != account.id:
        raise forbidden(f"Not enough permissions to delete {urn}")
    now = state.now()
    post.deleted_at = now
    for media_id in post.media_ids:
        if media_id in state.media:
            state.media[media_id].discarded = True
    for comment in state.posts.values():
        if comment.in_reply_to_id == urn and not comment.deleted:
            comment.deleted_at = now
    return Response(status_code=204)


# -- comments and social metadata -------------------------------------------------------------


def _activity(urn: str) -> str:
    return "urn:li:activity:" + urn.rsplit(":", 1)[-1]


def _comment_json(comment: Post) -> dict[str, Any]:
    actor = f"urn:li:person:{comment.account_id}"
    stamp = {"actor": actor, "time": epoch_ms(comment.created_at)}
    return {
        "actor": actor,
        "commentUrn": comment.id,
        "$URN": comment.id,
        "id": comment.options["comment_id"],
        "object": _activity(comment.in_reply_to_id or ""),
        "message": {"text": comment.text},
        "created": stamp,
        "lastModified": stamp,
    }


@router.post("/rest/socialActions/{target}/comments", dependencies=[Versioned])
async def create_comment(request: Request, target: str, account: Member) -> Response:
    state = state_of(request)
    post = _live_post(state, target)
    body = await request.json()
    if not isinstance(body, dict) or "actor" not in body:
        raise missing_field("/actor")
    message = body.get("message")
    if not isinstance(message, dict) or not isinstance(message.get("text"), str):
        raise missing_field("/message/text")
    if body["actor"] != person_urn(account):
        raise forbidden(f"Not enough permissions to comment as {body['actor']}")
    length = utf16_length(message["text"])
    if length > MAX_COMMENT:
        raise input_error(
            f"Comment text length ({length} characters) exceeded the maximum allowed "
            f"({MAX_COMMENT} characters)",
            "FIELD_ARRAY_SIZE_TOO_HIGH",
            "Size of array cannot be higher than the maxLength",
            maxLength=MAX_COMMENT,
        )
    comment_id = next_id(state)
    urn = f"urn:li:comment:({_activity(post.id)},{comment_id})"
    comment = Post(
        platform=PLATFORM,
        id=urn,
        account_id=account.id,
        text=message["text"],
        media_ids=[],
        created_at=state.now(),
        in_reply_to_id=post.id,
        options={"kind": "comment", "comment_id": comment_id},
    )
    state.add_post(comment)
    return JSONResponse(
        _comment_json(comment), status_code=201, headers={"x-restli-id": comment_id}
    )


@router.get("/rest/socialActions/{target}/comments", dependencies=[Versioned])
async def list_comments(
    request: Request, target: str, _account: Member, start: int = 0, count: int = 10
) -> dict[str, Any]:
    state = state_of(request)
    post = _live_post(state, target)
    comments = [
        p
        for p in state.posts.values()
        if p.platform == PLATFORM and p.in_reply_to_id == post.id and not p.deleted
    ]
    count = max(1, min(count, FINDER_MAX_COUNT))
    return {
        "paging": {"start": start, "count": count, "links": [], "total": len(comments)},
        "elements": [_comment_json(c) for c in comments[start : start + count]],
    }


@router.delete("/rest/socialActions/{target}/comments/{comment_id}", dependencies=[Versioned])
async def delete_comment(
    request: Request, target: str, comment_id: str, account: Member, actor: str | None = None
) -> Response:
    state = state_of(request)
    urn = f"urn:li:comment:({_activity(target)},{comment_id})"
    comment = state.post(PLATFORM, urn)
    if comment is None or comment.deleted:
        raise not_found(f"Comment {comment_id}")
    if comment.account_id != account.id or (actor and actor != person_urn(account)):
        raise forbidden(f"Not enough permissions to delete comment {comment_id}")
    comment.deleted_at = state.now()
    return Response(status_code=204)


@router.get("/rest/socialMetadata/{urn}", dependencies=[Versioned])
async def social_metadata(request: Request, urn: str, _account: Member) -> dict[str, Any]:
    state = state_of(request)
    post = _live_post(state, urn)
    comments = sum(
        1
        for p in state.posts.values()
        if p.platform == PLATFORM and p.in_reply_to_id == post.id and not p.deleted
    )
    return {
        "reactionSummaries": {},
        "commentsState": "OPEN",
        "commentSummary": {"count": comments, "topLevelCount": comments},
        "entity": post.id,
    }
