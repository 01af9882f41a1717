"""Threads (Meta's Threads API, graph.threads.net): media containers published in two steps.

Every post is a container (``POST /{user}/threads``) that Threads fills by downloading the
media from `MediaItem.url` itself, then ``POST /{user}/threads_publish``. Thread parts (and a
first comment) are replies: each its own container with ``reply_to_id`` set to the post
before it. OAuth has no PKCE and no refresh token: the code buys a one-hour token that is
traded at once for a 60-day token, which is itself refreshed (``th_refresh_token``).
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import httpx

from platforms import graph
from platforms.base import (
    DOCUMENTED_LIMITS,
    AccountContext,
    AccountIdentity,
    MediaItem,
    OAuthGrant,
    OAuthStart,
    PlatformAdapter,
    PlatformApp,
    PublishedPost,
    PublishRequest,
    Rejected,
    ServerLimits,
    SourcePost,
    Transient,
    ValidationProblem,
)
from platforms.matching import FIND_EXISTING_SLACK, normalised, parse_timestamp
from platforms.metrics import Metrics, metrics_of

PRODUCTION_APP = PlatformApp(
    api_url="https://graph.threads.net/v1.0",
    authorize_url="https://threads.net/oauth/authorize",
    token_url="https://graph.threads.net/oauth/access_token",
)
SCOPES = (
    "threads_basic",
    "threads_content_publish",
    "threads_manage_replies",
    "threads_read_replies",
    "threads_delete",
    "threads_manage_insights",
)
MAX_CHARACTERS = 500
MAX_LINKS = 5
MAX_CAROUSEL = 20
IMAGE_TYPES = frozenset({"image/jpeg", "image/png"})
VIDEO_TYPES = frozenset({"video/mp4", "video/quicktime"})
MEDIA_FIELDS = "id,text,timestamp,media_type,permalink,media_url,is_quote_post"
# Containers: check at once (text is ready), then back off from half a second; the docs
# suggest giving up after five minutes.
POLL_FIRST_S = 0.5
POLL_MAX_S = 5.0
POLL_LIMIT_S = 300.0
LIST_PAGE = 100
LIST_PAGES = 5
# Graph codes beyond the shared ones (platforms/graph.py).
MEDIA_NOT_READY = 9007  # publishing a container before it is FINISHED: try again later
NOT_FOUND_SUBCODE = 33
TRANSIENT_CODES = graph.TRANSIENT_CODES | {MEDIA_NOT_READY}

_URL = re.compile(r"(?:https?://|www\.)[^\s]+", re.IGNORECASE)
_HASHTAG = re.compile(r"#(\w+)")
_KINDS = {"IMAGE": "image", "VIDEO": "video", "CAROUSEL_ALBUM": "image"}


def _is_emoji(code: int) -> bool:
    return (
        code >= 0x1F000
        or 0x2190 <= code <= 0x21FF
        or 0x2300 <= code <= 0x23FF
        or 0x2600 <= code <= 0x27BF
        or 0x2B00 <= code <= 0x2BFF
        or code in (0x200D, 0xFE0F, 0x20E3, 0x00A9, 0x00AE, 0x203C, 0x2049, 0x2122, 0x3030)
    )


def count_characters(text: str) -> int:
    """Length as Threads counts it: characters, except that emoji (and the joiners and
    variation selectors inside emoji sequences) count as their UTF-8 bytes."""
    return sum(len(ch.encode()) if _is_emoji(ord(ch)) else 1 for ch in text)


def count_links(text: str, attachment: str | None = None) -> int:
    links = {m.group(0).rstrip(".,!?)").lower() for m in _URL.finditer(text)}
    if attachment:
        links.add(attachment.lower())
    return len(links)


class ThreadsAdapter(PlatformAdapter):
    platform = "threads"
    option_names = frozenset(
        {"thread", "first_comment", "link_attachment", "reply_control", "topic_tag"}
    )
    uses_oauth = True

    def __init__(self, http: httpx.AsyncClient, app: PlatformApp) -> None:
        self._http = http
        self._app = app

    # -- rules --------------------------------------------------------------------------------

    def validate(
        self, request: PublishRequest, limits: ServerLimits = DOCUMENTED_LIMITS
    ) -> list[ValidationProblem]:
        problems: list[ValidationProblem] = []
        if not request.text.strip() and not request.media:
            problems.append(ValidationProblem("empty", "Threads needs text or media", "content"))
        problems += self._text_problems(
            request.text, "content", request.options.get("link_attachment")
        )
        if len(request.media) > MAX_CAROUSEL:
            problems.append(
                ValidationProblem(
                    "too_many_media",
                    f"Threads takes at most {MAX_CAROUSEL} images or videos in a carousel",
                    "media_ids",
                )
            )
        for index, item in enumerate(request.media):
            if item.mime_type not in IMAGE_TYPES | VIDEO_TYPES:
                problems.append(
                    ValidationProblem(
                        "unsupported_media",
                        f"{item.mime_type} is not accepted: Threads takes JPEG or PNG images "
                        "and MP4 or MOV videos",
                        f"media_ids.{index}",
                    )
                )
        raw_parts = request.options.get("thread")
        if isinstance(raw_parts, list):
            for index, part in enumerate(raw_parts):
                text = part.get("text") if isinstance(part, dict) else part
                if isinstance(text, str):
                    problems += self._text_problems(text, f"options.thread.{index}")
        if request.first_comment:
            problems += self._text_problems(request.first_comment, "options.first_comment")
        return problems

    @staticmethod
    def _text_problems(text: str, path: str, attachment: Any = None) -> list[ValidationProblem]:
        problems = []
        length = count_characters(text)
        if length > MAX_CHARACTERS:
            problems.append(
                ValidationProblem(
                    "text_too_long",
                    f"{length} characters (emoji count as their UTF-8 bytes); Threads allows "
                    f"{MAX_CHARACTERS}",
                    path,
                )
            )
        links = count_links(text, attachment if isinstance(attachment, str) else None)
        if links > MAX_LINKS:
            problems.append(
                ValidationProblem(
                    "too_many_links", f"{links} links; Threads allows {MAX_LINKS}", path
                )
            )
        return problems

    # -- publishing ---------------------------------------------------------------------------

    async def publish(self, account: AccountContext, request: PublishRequest) -> PublishedPost:
        user = self._user_id(account)
        head_container = await self._head_container(account, user, request)
        head_id = await self._publish_container(account, user, head_container)
        replies = await self._publish_replies(account, user, head_id, self._replies(request))
        return await self._published(account, head_id, replies)

    @staticmethod
    def _replies(request: PublishRequest) -> list[str]:
        parts = list(request.thread)
        if request.first_comment:
            parts.append(request.first_comment)
        return parts

    async def _head_container(
        self, account: AccountContext, user: str, request: PublishRequest
    ) -> str:
        base: dict[str, Any] = {}
        for option in ("reply_control", "topic_tag"):
            if isinstance(request.options.get(option), str):
                base[option] = request.options[option]
        if not request.media:
            body = {**base, "media_type": "TEXT", "text": request.text}
            if isinstance(request.options.get("link_attachment"), str):
                body["link_attachment"] = request.options["link_attachment"]
            return await self._create(account, user, body)
        if len(request.media) == 1:
            body = {**base, **self._media_params(request.media[0]), "text": request.text}
            return await self._create(account, user, body)
        children = []
        for item in request.media:
            children.append(
                await self._create(
                    account, user, {**self._media_params(item), "is_carousel_item": "true"}
                )
            )
        # Threads builds a carousel only from items it has finished downloading.
        for child in children:
            await self._wait_until_finished(account, child)
        body = {
            **base,
            "media_type": "CAROUSEL",
            "children": ",".join(children),
            "text": request.text,
        }
        return await self._create(account, user, body)

    @staticmethod
    def _media_params(item: MediaItem) -> dict[str, str]:
        if not item.url:
            raise Rejected(f"Threads downloads media by URL, and media {item.media_id} has none")
        video = item.mime_type in VIDEO_TYPES
        params = {
            "media_type": "VIDEO" if video else "IMAGE",
            "video_url" if video else "image_url": item.url,
        }
        if item.description:
            params["alt_text"] = item.description
        return params

    async def _create(self, account: AccountContext, user: str, body: dict[str, Any]) -> str:
        created = await self._call(account, "POST", f"/{user}/threads", data=body)
        return str(created["id"])

    async def _publish_container(self, account: AccountContext, user: str, container: str) -> str:
        await self._wait_until_finished(account, container)
        published = await self._call(
            account, "POST", f"/{user}/threads_publish", data={"creation_id": container}
        )
        return str(published["id"])

    async def _wait_until_finished(self, account: AccountContext, container: str) -> None:
        delay = POLL_FIRST_S
        waited = 0.0
        while True:
            found = await self._call(
                account, "GET", f"/{container}", params={"fields": "id,status,error_message"}
            )
            status = found.get("status")
            if status == "FINISHED":
                return
            if status == "ERROR":
                reason = str(found.get("error_message") or "UNKNOWN")
                raise Rejected(f"Threads could not process the media: {reason}", code=reason)
            if status in ("EXPIRED", "PUBLISHED"):
                raise Transient(f"the Threads media container {container} is {status}")
            if waited >= POLL_LIMIT_S:
                raise Transient(f"Threads is still processing media container {container}")
            await asyncio.sleep(delay)
            waited += delay
            delay = min(delay * 2, POLL_MAX_S)

    async def _publish_replies(
        self, account: AccountContext, user: str, parent: str, parts: list[str]
    ) -> list[str]:
        ids = []
        for text in parts:
            container = await self._create(
                account, user, {"media_type": "TEXT", "text": text, "reply_to_id": parent}
            )
            parent = await self._publish_container(account, user, container)
            ids.append(parent)
        return ids

    async def _published(
        self, account: AccountContext, head_id: str, replies: list[str]
    ) -> PublishedPost:
        head = await self._call(
            account, "GET", f"/{head_id}", params={"fields": "id,permalink,timestamp"}
        )
        return PublishedPost(
            platform_post_id=head_id,
            url=head.get("permalink"),
            published_at=parse_timestamp(head.get("timestamp")),
            extra_post_ids=tuple(replies),
        )

    # -- finding and listing ------------------------------------------------------------------

    async def find_existing(
        self, account: AccountContext, request: PublishRequest, since: datetime
    ) -> PublishedPost | None:
        """The head post by its text among the account's posts since `since`; thread parts
        found as replies in order, and the ones still missing are published now, so a
        thread interrupted half-way is completed rather than started again."""
        user = self._user_id(account)
        cutoff = int((since - FIND_EXISTING_SLACK).timestamp())
        wanted = (normalised(request.text), _read_type(request.media))
        posts = await self._list(account, f"/{user}/threads", "id,text,media_type", since=cutoff)
        head = next(
            (
                p
                for p in posts
                if (normalised(str(p.get("text") or "")), p.get("media_type")) == wanted
            ),
            None,
        )
        if head is None:
            return None
        parent = str(head["id"])
        parts = self._replies(request)
        replies: list[str] = []
        if parts:
            mine = await self._list(account, f"/{user}/replies", "id,text,replied_to", cutoff)
            for text in parts:
                found = next(
                    (
                        r
                        for r in mine
                        if (r.get("replied_to") or {}).get("id") == parent
                        and normalised(str(r.get("text") or "")) == normalised(text)
                    ),
                    None,
                )
                if found is None:
                    break
                parent = str(found["id"])
                replies.append(parent)
            missing = parts[len(replies) :]
            replies += await self._publish_replies(account, user, parent, missing)
        return await self._published(account, str(head["id"]), replies)

    async def _list(
        self,
        account: AccountContext,
        path: str,
        fields: str,
        since: int | None = None,
        pages: int = LIST_PAGES,
    ) -> list[dict[str, Any]]:
        """Newest first, following ``paging.cursors.after`` while there is a next page."""
        params: dict[str, Any] = {"fields": fields, "limit": LIST_PAGE}
        if since is not None:
            params["since"] = since

        async def fetch(query: dict[str, Any]) -> dict[str, Any]:
            return await self._call(account, "GET", path, params=query)

        return await graph.paged(fetch, params, pages)

    async def list_recent(
        self, account: AccountContext, after: str | None, limit: int
    ) -> list[SourcePost]:
        user = self._user_id(account)
        anchor: tuple[datetime, str] | None = None
        if after:
            try:
                cursor = await self._call(
                    account, "GET", f"/{after}", params={"fields": "id,timestamp"}
                )
            except Rejected:
                cursor = {}  # the cursor post is gone: start again from the newest
            moment = parse_timestamp(cursor.get("timestamp"))
            anchor = (moment, after) if moment else None
        if anchor is None:
            page = await self._call(
                account,
                "GET",
                f"/{user}/threads",
                params={"fields": MEDIA_FIELDS, "limit": max(1, min(limit, LIST_PAGE))},
            )
            posts = [self._source(p) for p in page.get("data") or []]
        else:
            raw = await self._list(
                account, f"/{user}/threads", MEDIA_FIELDS, since=int(anchor[0].timestamp())
            )
            posts = [
                p
                for p in (self._source(r) for r in raw)
                if (p.created_at, _sortable(p.id)) > (anchor[0], _sortable(anchor[1]))
            ]
        posts.sort(key=lambda p: (p.created_at, _sortable(p.id)))
        return posts[:limit] if anchor else posts[-limit:]

    @staticmethod
    def _source(post: dict[str, Any]) -> SourcePost:
        text = str(post.get("text") or "")
        media_type = str(post.get("media_type") or "TEXT_POST")
        kind = "quote" if post.get("is_quote_post") else _KINDS.get(media_type, "text")
        return SourcePost(
            id=str(post["id"]),
            created_at=parse_timestamp(post.get("timestamp")) or datetime.now(UTC),
            text=text,
            kind=kind,
            hashtags=tuple(t.lower() for t in _HASHTAG.findall(text)),
            url=post.get("permalink"),
            media_urls=(str(post["media_url"]),) if post.get("media_url") else (),
        )

    # -- account ------------------------------------------------------------------------------

    async def verify(self, account: AccountContext) -> AccountIdentity:
        me = await self._call(
            account,
            "GET",
            "/me",
            params={"fields": "id,username,name,threads_profile_picture_url"},
        )
        return AccountIdentity(
            platform_account_id=str(me["id"]),
            username=str(me.get("username") or me["id"]),
            display_name=me.get("name") or None,
            avatar_url=me.get("threads_profile_picture_url") or None,
        )

    async def delete(self, account: AccountContext, platform_post_id: str) -> None:
        try:
            await self._call(account, "DELETE", f"/{platform_post_id}")
        except Rejected as err:
            if err.code != f"100/{NOT_FOUND_SUBCODE}":
                raise
            # Already gone (deleted on Threads, or by an earlier attempt): nothing to do.

    async def fetch_metrics(self, account: AccountContext, platform_post_id: str) -> Metrics:
        """Media insights (lifetime): views, likes, replies, reposts, quotes, shares."""
        insights = await self._call(
            account,
            "GET",
            f"/{platform_post_id}/insights",
            params={"metric": "views,likes,replies,reposts,quotes,shares"},
        )
        raw = graph.insight_values(insights)
        return metrics_of(
            raw,
            impressions=raw.get("views"),
            likes=raw.get("likes"),
            comments=raw.get("replies"),
            shares=raw.get("reposts"),
        )

    async def fetch_account_metrics(self, account: AccountContext) -> Metrics:
        """User insights' ``followers_count`` (a total value)."""
        user = account.platform_account_id or "me"
        insights = await self._call(
            account, "GET", f"/{user}/threads_insights", params={"metric": "followers_count"}
        )
        raw = graph.insight_values(insights)
        return metrics_of(raw, followers=raw.get("followers_count"))

    # -- OAuth --------------------------------------------------------------------------------

    def authorization_url(self, start: OAuthStart) -> str:
        """Threads has no PKCE: the challenge is not sent (the state guards the callback)."""
        if not self._app.authorize_url or not self._app.client_id:
            raise Rejected("no Threads app is configured (client id and authorize URL)")
        query = {
            "client_id": self._app.client_id,
            "redirect_uri": start.redirect_uri,
            "scope": ",".join(start.scopes or SCOPES),
            "response_type": "code",
            "state": start.state,
        }
        return f"{self._app.authorize_url}?{urlencode(query)}"

    async def exchange_code(self, code: str, code_verifier: str, redirect_uri: str) -> OAuthGrant:
        """The code buys a one-hour token, traded at once for a 60-day one."""
        return await graph.long_lived_grant(
            self._http,
            self._app,
            code,
            redirect_uri,
            name="Threads",
            prefix="th",
            root=self._graph_root(),
            transient_codes=TRANSIENT_CODES,
        )

    async def refresh(self, account: AccountContext) -> OAuthGrant:
        return await graph.refreshed_grant(
            self._http,
            account.credentials,
            prefix="th",
            root=self._graph_root(),
            transient_codes=TRANSIENT_CODES,
        )

    def _graph_root(self) -> str:
        """graph.threads.net itself: token exchange and refresh are not versioned paths."""
        token_url = (self._app.token_url or "").rstrip("/")
        if token_url.endswith("/oauth/access_token"):
            return token_url.removesuffix("/oauth/access_token")
        return re.sub(r"/v\d+\.\d+$", "", self._app.api_url.rstrip("/"))

    # -- HTTP ---------------------------------------------------------------------------------

    @staticmethod
    def _user_id(account: AccountContext) -> str:
        return str(account.platform_account_id or account.credentials.get("user_id") or "me")

    async def _call(
        self, account: AccountContext, method: str, path: str, **kwargs: Any
    ) -> dict[str, Any]:
        url = self._app.api_url.rstrip("/") + path
        token = str(account.credentials["access_token"])
        return await graph.call(
            self._http, method, url, token, transient_codes=TRANSIENT_CODES, **kwargs
        )


def _read_type(media: list[MediaItem]) -> str:
    """The ``media_type`` Threads reports for a post made with these attachments."""
    if len(media) > 1:
        return "CAROUSEL_ALBUM"
    if media:
        return "VIDEO" if media[0].mime_type in VIDEO_TYPES else "IMAGE"
    return "TEXT_POST"


def _sortable(post_id: str) -> tuple[int, str]:
    return (int(post_id), "") if post_id.isdigit() else (0, post_id)
