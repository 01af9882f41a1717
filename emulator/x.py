"""X (API v2): the subset Herald uses, mounted at /x (so ``POST /x/2/tweets``).

Follows docs.x.com (Manage Posts, Post lookup, User lookup, Timelines, Media upload, Rate
limits, Error responses) and twitter-text for length counting.

Credentials: OAuth 2.0 user context only. The bearer token is the emulator account's token
(``Authorization: Bearer emulator-x-sandbox-token`` for the sandbox account); the user id is
the account id. Access tokens issued through OAuth 2.0 with PKCE (emulator/x_oauth.py:
``/i/oauth2/authorize``, ``/2/oauth2/token``) work the same. There is no OAuth 1.0a signing
and no app-only token.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from emulator.engagement import account_counts, post_counts
from emulator.faults import Fault
from emulator.platform import PlatformEmulator, PlatformError, RequestInfo
from emulator.ratelimit import RateLimitResult
from emulator.state import Account, EmulatorState, MediaItem, Post, state_of
from emulator.timefmt import rfc3339
from emulator.twitter_text import WrappedUrl, tco_link, weighted_length, wrap_urls
from emulator.x_common import (
    PLATFORM,
    Me,
    bearer_token,
    invalid_request,
    next_id,
    not_found_error,
    numeric_id,
    problem,
    problem_body,
)
from emulator.x_media import media_usable
from emulator.x_media import router as media_router
from emulator.x_oauth import router as oauth_router

DUPLICATE = "You are not allowed to create a Tweet with duplicate content."
TOO_LONG = (
    "Your Tweet text is too long. For more information on how Twitter determines text length "
    "see https://github.com/twitter/twitter-text."
)
REPLY_GONE = "You attempted to reply to a Tweet that is deleted or not visible to you."
BAD_MEDIA = "Your media IDs are invalid."
_ID = re.compile(r"\A[0-9]{1,19}\Z")
_TWEET_PATH = re.compile(r"\A/2/tweets/[^/]+\Z")
_CREATE_KEYS = {
    "text",
    "media",
    "reply",
    "quote_tweet_id",
    "poll",
    "reply_settings",
    "for_super_followers_only",
    "nullcast",
    "geo",
    "direct_message_deep_link",
    "community_id",
    "made_with_ai",
    "paid_partnership",
    "card_uri",
    "edit_options",
    "share_with_followers",
}
TWEET_FIELDS = (
    "attachments",
    "author_id",
    "conversation_id",
    "created_at",
    "display_text_range",
    "edit_controls",
    "edit_history_tweet_ids",
    "entities",
    "id",
    "in_reply_to_user_id",
    "lang",
    "possibly_sensitive",
    "public_metrics",
    "referenced_tweets",
    "reply_settings",
    "text",
)
USER_FIELDS = (
    "created_at",
    "description",
    "id",
    "location",
    "most_recent_tweet_id",
    "name",
    "pinned_tweet_id",
    "profile_image_url",
    "protected",
    "public_metrics",
    "url",
    "username",
    "verified",
    "verified_type",
)
MEDIA_FIELDS = (
    "alt_text",
    "duration_ms",
    "height",
    "media_key",
    "preview_image_url",
    "public_metrics",
    "type",
    "url",
    "variants",
    "width",
)
EXPANSIONS = (
    "attachments.media_keys",
    "author_id",
    "edit_history_tweet_ids",
    "in_reply_to_user_id",
    "referenced_tweets.id",
)


class XEmulator(PlatformEmulator):
    name = PLATFORM

    def router(self) -> APIRouter:
        return router

    def error_body(self, status: int, message: str | None = None) -> dict[str, Any]:
        return problem_body(status, message)

    def rate_limit(self, state: EmulatorState, request: RequestInfo) -> RateLimitResult | None:
        """Per-endpoint, per-user 15-minute windows (per client address without a valid token),
        each beginning with its first request."""
        if not request.path.startswith("/2/"):
            return None
        settings = state.settings
        rule, limit = _endpoint_limit(settings_limits(state), request.method, request.path)
        token = bearer_token(request.headers.get("authorization", ""))
        account = state.account_by_token(PLATFORM, token) if token else None
        key = account.id if account else f"ip:{request.client_host}"
        return state.rate_counter.hit(
            f"x:{rule}", key, limit, settings.x_rate_period_s, state.now(), from_first_hit=True
        )

    def rate_limit_headers(self, result: RateLimitResult) -> dict[str, str]:
        return {
            "x-rate-limit-limit": str(result.limit),
            "x-rate-limit-remaining": str(result.remaining),
            "x-rate-limit-reset": str(int(result.reset_at.timestamp())),
        }

    def rate_limited_error(self, result: RateLimitResult) -> PlatformError:
        error = problem(429, "Too Many Requests")
        error.headers = self.rate_limit_headers(result)
        return error

    def fault_headers(self, state: EmulatorState, fault: Fault) -> dict[str, str]:
        headers = super().fault_headers(state, fault)
        if fault.spec.status == 429:
            limits = settings_limits(state)
            limit = limits["tweets:create"] if fault.spec.method == "POST" else limits["read"]
            reset = state.now() + timedelta(seconds=fault.spec.retry_after or 0)
            headers.update(
                {
                    "x-rate-limit-limit": str(limit),
                    "x-rate-limit-remaining": "0",
                    "x-rate-limit-reset": str(int(reset.timestamp())),
                }
            )
        return headers

    def media_url(self, base_url: str, media: MediaItem) -> str:
        return f"{base_url.rstrip('/')}/{PLATFORM}/media-files/{media.id}"


def settings_limits(state: EmulatorState) -> dict[str, int]:
    settings = state.settings
    return {
        "tweets:create": settings.x_tweet_rate_limit,
        "tweets:delete": settings.x_delete_rate_limit,
        "users:me": settings.x_me_rate_limit,
        "media": settings.x_media_rate_limit,
        "read": settings.x_read_rate_limit,
    }


def _endpoint_limit(limits: dict[str, int], method: str, path: str) -> tuple[str, int]:
    if path.startswith("/2/media/"):
        return "media", limits["media"]
    if method == "POST" and path == "/2/tweets":
        return "tweets:create", limits["tweets:create"]
    if method == "DELETE" and _TWEET_PATH.match(path):
        return "tweets:delete", limits["tweets:delete"]
    if path == "/2/users/me":
        return "users:me", limits["users:me"]
    return f"read:{method}:{re.sub(r'/[0-9]+', '/:id', path)}", limits["read"]


router = APIRouter()
router.include_router(media_router)
router.include_router(oauth_router)


# -- entities -----------------------------------------------------------------------------------


def _csv_param(request: Request, name: str, allowed: tuple[str, ...]) -> set[str]:
    raw = request.query_params.get(name)
    if raw is None:
        return set()
    values = [v for v in raw.split(",") if v]
    for value in values:
        if value not in allowed:
            raise invalid_request(
                f"The `{name}` query parameter value [{value}] is not one of [{','.join(allowed)}]",
                {name: [raw]},
            )
    return set(values)


def _media_json(
    request: Request, state: EmulatorState, item: MediaItem, fields: set[str]
) -> dict[str, Any]:
    base = str(request.base_url).rstrip("/")
    url = f"{base}/{PLATFORM}/media-files/{item.id}"
    media: dict[str, Any] = {"media_key": item.meta["media_key"], "type": item.type}
    if "url" in fields and item.type == "photo":
        media["url"] = url
    if "preview_image_url" in fields and item.type != "photo":
        media["preview_image_url"] = url
    if "width" in fields and "width" in item.meta:
        media["width"] = item.meta["width"]
    if "height" in fields and "height" in item.meta:
        media["height"] = item.meta["height"]
    if "alt_text" in fields and item.description is not None:
        media["alt_text"] = item.description
    if "variants" in fields and item.type != "photo":
        media["variants"] = [{"content_type": "video/mp4", "url": url}]
    return media


def _user_json(state: EmulatorState, account: Account, fields: set[str]) -> dict[str, Any]:
    user: dict[str, Any] = {
        "id": account.id,
        "name": account.display_name,
        "username": account.username,
    }
    tweets = sorted(
        (
            p
            for p in state.posts.values()
            if p.platform == PLATFORM and p.account_id == account.id and not p.deleted
        ),
        key=lambda p: int(p.id),
    )
    audience = account_counts(account, state.now())
    optional: dict[str, Any] = {
        "created_at": rfc3339(account.created_at),
        "description": "",
        "location": "",
        "protected": False,
        "verified": False,
        "verified_type": "none",
        "url": "",
        "profile_image_url": "https://abs.twimg.com/sticky/default_profile_images/default_profile_normal.png",
        "public_metrics": {
            "followers_count": audience.followers,
            "following_count": audience.following,
            "tweet_count": len(tweets),
            "listed_count": 0,
            "like_count": 0,
            "media_count": sum(1 for p in tweets if p.media_ids),
        },
    }
    if tweets:
        optional["most_recent_tweet_id"] = tweets[-1].id
    for name in USER_FIELDS:
        if name in fields and name in optional:
            user[name] = optional[name]
    return user


def _tweet_json(state: EmulatorState, post: Post, fields: set[str]) -> dict[str, Any]:
    options = post.options
    tweet: dict[str, Any] = {
        "id": post.id,
        "text": options["display_text"],
        "edit_history_tweet_ids": [post.id],
    }
    media_keys = [state.media[m].meta["media_key"] for m in post.media_ids if m in state.media]
    referenced = []
    if post.in_reply_to_id:
        referenced.append({"type": "replied_to", "id": post.in_reply_to_id})
    if options.get("quote_tweet_id"):
        referenced.append({"type": "quoted", "id": options["quote_tweet_id"]})
    replies = sum(
        1
        for p in state.posts.values()
        if p.platform == PLATFORM and not p.deleted and p.in_reply_to_id == post.id
    )
    grown = post_counts(post, state.now())
    optional: dict[str, Any] = {
        "created_at": rfc3339(post.created_at),
        "author_id": post.account_id,
        "conversation_id": options["conversation_id"],
        "lang": options.get("lang", "und"),
        "possibly_sensitive": False,
        "reply_settings": options.get("reply_settings") or "everyone",
        "display_text_range": [0, options["text_range_end"]],
        "edit_controls": {
            "edits_remaining": 5,
            "is_edit_eligible": True,
            "editable_until": rfc3339(post.created_at + timedelta(hours=1)),
        },
        "public_metrics": {
            "retweet_count": grown["shares"],
            "reply_count": replies + grown["comments"],
            "like_count": grown["likes"],
            "quote_count": grown["quotes"],
            "bookmark_count": grown["saves"],
            "impression_count": grown["views"],
        },
    }
    if post.in_reply_to_id:
        optional["in_reply_to_user_id"] = options["in_reply_to_user_id"]
    if referenced:
        optional["referenced_tweets"] = referenced
    if media_keys:
        optional["attachments"] = {"media_keys": media_keys}
    if options["urls"]:
        optional["entities"] = {"urls": options["urls"]}
    for name in TWEET_FIELDS:
        if name in fields and name in optional:
            tweet[name] = optional[name]
    return tweet


def _includes(
    request: Request,
    state: EmulatorState,
    posts: list[Post],
    expansions: set[str],
    media_fields: set[str],
    user_fields: set[str],
) -> dict[str, Any]:
    includes: dict[str, Any] = {}
    if "attachments.media_keys" in expansions:
        media = [
            _media_json(request, state, state.media[m], media_fields | {"media_key", "type"})
            for p in posts
            for m in p.media_ids
            if m in state.media
        ]
        if media:
            includes["media"] = media
    user_ids: list[str] = []
    if "author_id" in expansions:
        user_ids += [p.account_id for p in posts]
    if "in_reply_to_user_id" in expansions:
        user_ids += [p.options["in_reply_to_user_id"] for p in posts if p.in_reply_to_id]
    users = [
        _user_json(state, state.accounts[u], user_fields)
        for u in dict.fromkeys(user_ids)
        if u in state.accounts
    ]
    if users:
        includes["users"] = users
    if "referenced_tweets.id" in expansions:
        ids = [p.in_reply_to_id for p in posts if p.in_reply_to_id]
        referenced = [state.post(PLATFORM, i) for i in dict.fromkeys(ids)]
        tweets = [_tweet_json(state, r, set()) for r in referenced if r and not r.deleted]
        if tweets:
            includes["tweets"] = tweets
    return includes


def _lookup_params(request: Request) -> tuple[set[str], set[str], set[str], set[str]]:
    return (
        _csv_param(request, "tweet.fields", TWEET_FIELDS),
        _csv_param(request, "expansions", EXPANSIONS),
        _csv_param(request, "media.fields", MEDIA_FIELDS),
        _csv_param(request, "user.fields", USER_FIELDS),
    )


# -- users ----------------------------------------------------------------------------------------


@router.get("/2/users/me")
async def users_me(request: Request, me: Me) -> dict[str, Any]:
    fields = _csv_param(request, "user.fields", USER_FIELDS)
    return {"data": _user_json(state_of(request), me, fields)}


@router.get("/2/users/{user_id}")
async def user_lookup(request: Request, user_id: str, me: Me) -> dict[str, Any]:
    state = state_of(request)
    numeric_id(user_id)
    fields = _csv_param(request, "user.fields", USER_FIELDS)
    account = state.account(PLATFORM, user_id)
    if account is None:
        return {"errors": [not_found_error("user", user_id)]}
    return {"data": _user_json(state, account, fields)}


def _page_token(kind: str, tweet_id: str) -> str:
    return kind + _base36(int(tweet_id))


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
        if not number:
            return out


@router.get("/2/users/{user_id}/tweets")
async def user_tweets(request: Request, user_id: str, me: Me) -> dict[str, Any]:
    """Newest first. ``meta.next_token`` pages towards older Tweets while there are any;
    ``since_id`` / ``until_id`` bound the ids, ``exclude=replies,retweets`` filters."""
    state = state_of(request)
    query = request.query_params
    numeric_id(user_id)
    raw_max = query.get("max_results", "10")
    if not raw_max.isdigit() or not 5 <= int(raw_max) <= 100:
        raise invalid_request(
            f"The `max_results` query parameter value [{raw_max}] is not between 5 and 100",
            {"max_results": [raw_max]},
        )
    max_results = int(raw_max)
    since_id = numeric_id(query["since_id"], "since_id") if "since_id" in query else None
    until_id = numeric_id(query["until_id"], "until_id") if "until_id" in query else None
    exclude = _csv_param(request, "exclude", ("replies", "retweets"))
    tweet_fields, expansions, media_fields, user_fields = _lookup_params(request)
    token = query.get("pagination_token")
    account = state.account(PLATFORM, user_id)
    if account is None:
        return {"errors": [not_found_error("user", user_id)]}

    tweets = [
        p
        for p in state.posts.values()
        if p.platform == PLATFORM and p.account_id == account.id and not p.deleted
    ]
    if "replies" in exclude:
        tweets = [p for p in tweets if p.in_reply_to_id is None]
    if since_id is not None:
        tweets = [p for p in tweets if int(p.id) > int(since_id)]
    if until_id is not None:
        tweets = [p for p in tweets if int(p.id) < int(until_id)]
    tweets.sort(key=lambda p: int(p.id), reverse=True)
    if token:
        direction, cursor = token[:1], token[1:]
        try:
            anchor = int(cursor, 36)
        except ValueError:
            anchor = -1
        if direction not in ("n", "p") or anchor < 0:
            raise invalid_request(
                f"The `pagination_token` query parameter value [{token}] is not valid",
                {"pagination_token": [token]},
            )
        if direction == "n":
            older = [p for p in tweets if int(p.id) < anchor]
            page, more_older = older[:max_results], len(older) > max_results
            more_newer = any(int(p.id) >= anchor for p in tweets)
        else:
            newer = [p for p in tweets if int(p.id) > anchor]
            page = newer[-max_results:]
            more_newer = len(newer) > max_results
            more_older = any(int(p.id) <= anchor for p in tweets)
    else:
        page, more_older, more_newer = tweets[:max_results], len(tweets) > max_results, False

    meta: dict[str, Any] = {"result_count": len(page)}
    body: dict[str, Any] = {}
    if page:
        body["data"] = [_tweet_json(state, p, tweet_fields) for p in page]
        includes = _includes(request, state, page, expansions, media_fields, user_fields)
        if includes:
            body["includes"] = includes
        meta.update({"newest_id": page[0].id, "oldest_id": page[-1].id})
        if more_older:
            meta["next_token"] = _page_token("n", page[-1].id)
        if more_newer:
            meta["previous_token"] = _page_token("p", page[0].id)
    body["meta"] = meta
    return body


# -- tweets ---------------------------------------------------------------------------------------


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "integer" if isinstance(value, int) else "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def _expect(value: Any, expected: str, path: str) -> None:
    if _type_name(value) != expected:
        raise invalid_request(f"$.{path}: {_type_name(value)} found, {expected} expected")


async def _json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        body = json.loads(raw) if raw else None
    except ValueError as exc:
        raise invalid_request("Request body is not valid JSON.") from exc
    if not isinstance(body, dict):
        raise invalid_request("Request body must be a JSON object.")
    return body


def _parse_create(body: dict[str, Any]) -> tuple[str, list[str], str | None]:
    """Schema checks of CreatePostsRequest (worded like X's JSON-schema validator)."""
    for key in body:
        if key not in _CREATE_KEYS:
            raise invalid_request(
                f"$.{key}: is not defined in the schema and the schema does not allow "
                "additional properties"
            )
    text = body.get("text", "")
    _expect(text, "string", "text")
    media_ids: list[str] = []
    if "media" in body:
        media = body["media"]
        _expect(media, "object", "media")
        if "media_ids" not in media:
            raise invalid_request("$.media.media_ids: is missing but it is required")
        raw_ids = media["media_ids"]
        _expect(raw_ids, "array", "media.media_ids")
        if not 1 <= len(raw_ids) <= 4:
            raise invalid_request(
                "$.media.media_ids: there must be between 1 and 4 items in the array",
                {"media.media_ids": [str(i) for i in raw_ids]},
            )
        for index, value in enumerate(raw_ids):
            _expect(value, "string", f"media.media_ids[{index}]")
            if not _ID.match(value):
                raise invalid_request(
                    f"$.media.media_ids[{index}]: does not match the regex pattern ^[0-9]{{1,19}}$"
                )
        media_ids = list(raw_ids)
    reply_to = None
    if "reply" in body:
        reply = body["reply"]
        _expect(reply, "object", "reply")
        if "in_reply_to_tweet_id" not in reply:
            raise invalid_request("$.reply.in_reply_to_tweet_id: is missing but it is required")
        _expect(reply["in_reply_to_tweet_id"], "string", "reply.in_reply_to_tweet_id")
        reply_to = reply["in_reply_to_tweet_id"]
        if not _ID.match(reply_to):
            raise invalid_request(
                "$.reply.in_reply_to_tweet_id: does not match the regex pattern ^[0-9]{1,19}$"
            )
    if "quote_tweet_id" in body:
        _expect(body["quote_tweet_id"], "string", "quote_tweet_id")
    if "reply_settings" in body and body["reply_settings"] not in (
        "following",
        "mentionedUsers",
        "subscribers",
        "verified",
    ):
        raise invalid_request(
            "$.reply_settings: does not have a value in the enumeration "
            "[following, mentionedUsers, subscribers, verified]"
        )
    return text, media_ids, reply_to


def _media_digest(state: EmulatorState, media_ids: list[str]) -> list[str]:
    return sorted(
        hashlib.sha256(state.media[m].data).hexdigest() for m in media_ids if m in state.media
    )


@router.post("/2/tweets")
async def create_tweet(request: Request, me: Me) -> JSONResponse:
    state = state_of(request)
    body = await _json_body(request)
    text, media_ids, reply_to = _parse_create(body)
    if not text.strip() and not media_ids and "poll" not in body and "quote_tweet_id" not in body:
        raise invalid_request(
            "Post text is required unless media, a poll or a quoted Post is attached.",
            {"text": [text]},
        )
    if weighted_length(text) > state.settings.x_max_weighted_length:
        raise invalid_request(TOO_LONG, {"text": [text]})

    async with state.lock:
        parent = state.post(PLATFORM, reply_to) if reply_to else None
        if reply_to and (parent is None or parent.deleted):
            raise problem(403, REPLY_GONE)
        items = [state.media_item(PLATFORM, m) for m in media_ids]
        usable = [
            i for i in items if i is not None and i.account_id == me.id and media_usable(state, i)
        ]
        kinds = {i.type for i in usable}
        if len(usable) != len(media_ids) or (len(usable) > 1 and kinds & {"video", "animated_gif"}):
            raise invalid_request(BAD_MEDIA, {"media.media_ids": media_ids})

        now = state.now()
        window = timedelta(seconds=state.settings.x_duplicate_window_s)
        digest = _media_digest(state, media_ids)
        for other in state.posts.values():
            if (
                other.platform == PLATFORM
                and other.account_id == me.id
                and not other.deleted
                and now - other.created_at < window
                and other.text.strip() == text.strip()
                and _media_digest(state, other.media_ids) == digest
            ):
                raise problem(403, DUPLICATE)

        tweet_id = next_id(state)
        display, wrapped = wrap_urls(text)
        urls = [_url_entity(u) for u in wrapped]
        text_range_end = len(display)
        if media_ids:
            # X appends a link to the attached media, outside display_text_range.
            media_link = tco_link()
            kind = "video" if kinds & {"video", "animated_gif"} else "photo"
            display = f"{display} {media_link}" if display else media_link
            urls.append(
                _media_url_entity(len(display) - len(media_link), media_link, me, tweet_id, kind)
            )
        post = Post(
            platform=PLATFORM,
            id=tweet_id,
            account_id=me.id,
            text=text,
            media_ids=media_ids,
            created_at=now,
            in_reply_to_id=reply_to,
            options={
                "display_text": display,
                "text_range_end": text_range_end,
                "urls": urls,
                "conversation_id": parent.options["conversation_id"] if parent else tweet_id,
                "in_reply_to_user_id": parent.account_id if parent else None,
                "quote_tweet_id": body.get("quote_tweet_id"),
                "reply_settings": body.get("reply_settings"),
                "poll": body.get("poll"),
            },
        )
        state.add_post(post)
    return JSONResponse(
        {"data": {"id": tweet_id, "text": display, "edit_history_tweet_ids": [tweet_id]}},
        status_code=201,
    )


def _url_entity(wrapped: WrappedUrl) -> dict[str, Any]:
    return {
        "start": wrapped.start,
        "end": wrapped.end,
        "url": wrapped.url,
        "expanded_url": wrapped.expanded_url,
        "display_url": wrapped.display_url,
    }


def _media_url_entity(
    start: int, link: str, me: Account, tweet_id: str, kind: str
) -> dict[str, Any]:
    return {
        "start": start,
        "end": start + len(link),
        "url": link,
        "expanded_url": f"https://x.com/{me.username}/status/{tweet_id}/{kind}/1",
        "display_url": f"pic.x.com/{tweet_id[-10:]}",
    }


@router.get("/2/tweets/{tweet_id}")
async def get_tweet(request: Request, tweet_id: str, me: Me) -> dict[str, Any]:
    state = state_of(request)
    numeric_id(tweet_id)
    tweet_fields, expansions, media_fields, user_fields = _lookup_params(request)
    post = state.post(PLATFORM, tweet_id)
    if post is None or post.deleted:
        return {"errors": [not_found_error("tweet", tweet_id)]}
    body: dict[str, Any] = {"data": _tweet_json(state, post, tweet_fields)}
    includes = _includes(request, state, [post], expansions, media_fields, user_fields)
    if includes:
        body["includes"] = includes
    return body


@router.delete("/2/tweets/{tweet_id}")
async def delete_tweet(request: Request, tweet_id: str, me: Me) -> dict[str, Any]:
    state = state_of(request)
    numeric_id(tweet_id)
    post = state.post(PLATFORM, tweet_id)
    if post is None or post.deleted:
        raise PlatformError(
            404,
            {
                "title": "Not Found Error",
                "detail": f"Could not find tweet with id: [{tweet_id}].",
                "type": "https://api.x.com/2/problems/resource-not-found",
                "status": 404,
            },
        )
    if post.account_id != me.id:
        raise problem(403, "You are not allowed to delete a Tweet that is not yours.")
    post.deleted_at = state.now()
    return {"data": {"deleted": True}}


@router.api_route(
    "/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
)
async def not_found(rest: str) -> None:
    raise PlatformError(
        404, {"errors": [{"message": "Sorry, that page does not exist", "code": 34}]}
    )
