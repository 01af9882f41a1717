"""Instagram (the Instagram API with Instagram Login): containers created from Herald's signed
media URLs, polled until ``FINISHED``, then published; carousels, reels, a first comment.

Credentials: ``access_token`` (long-lived, 60 days, refreshed with ``ig_refresh_token``) and
``user_id`` (the Instagram professional account id). Instagram's API cannot delete feed posts.
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
from platforms.graph import GRAPH_VERSION
from platforms.matching import FIND_EXISTING_SLACK, normalised, parse_timestamp
from platforms.metrics import Metrics, metrics_of
from platforms.metrics import count as as_count

PRODUCTION_APP = PlatformApp(
    api_url=f"https://graph.instagram.com/{GRAPH_VERSION}",
    authorize_url="https://www.instagram.com/oauth/authorize",
    token_url="https://api.instagram.com/oauth/access_token",
)
SCOPES = (
    "instagram_business_basic",
    "instagram_business_content_publish",
    "instagram_business_manage_comments",
)
MAX_CAPTION = 2200
MAX_HASHTAGS = 30
MAX_MENTIONS = 20
MAX_CAROUSEL = 10
VIDEO_TYPES = frozenset({"video/mp4", "video/quicktime"})
MEDIA_FIELDS = "id,caption,media_type,media_product_type,permalink,timestamp,media_url"
# The docs advise polling a container about once a minute for at most five minutes; the first
# look comes soon, since images are usually ready within seconds.
POLL_FIRST_S = 1.0
POLL_MAX_S = 60.0
POLL_LIMIT_S = 300.0
_HASHTAG = re.compile(r"#(\w+)")
_MENTION = re.compile(r"@([A-Za-z0-9._]+)")


def _is_video(item: MediaItem) -> bool:
    return item.mime_type in VIDEO_TYPES


# Insights Herald asks for (today's names; see fetch_metrics).
INSTAGRAM_MEDIA_METRICS = ("views", "reach", "likes", "comments", "shares", "saved")


class InstagramAdapter(PlatformAdapter):
    platform = "instagram"
    option_names = frozenset({"first_comment"})
    uses_oauth = True

    def __init__(self, http: httpx.AsyncClient, app: PlatformApp) -> None:
        self._http = http
        self._app = app

    def validate(
        self, request: PublishRequest, limits: ServerLimits = DOCUMENTED_LIMITS
    ) -> list[ValidationProblem]:
        problems: list[ValidationProblem] = []
        if not request.media:
            problems.append(
                ValidationProblem("media_required", "Instagram posts need media", "media_ids")
            )
        if len(request.media) > MAX_CAROUSEL:
            problems.append(
                ValidationProblem(
                    "too_many_media",
                    f"an Instagram carousel takes at most {MAX_CAROUSEL} items",
                    "media_ids",
                )
            )
        for index, item in enumerate(request.media):
            if not _is_video(item) and item.mime_type != "image/jpeg":
                problems.append(
                    ValidationProblem(
                        "unsupported_media_type",
                        f"Instagram takes JPEG images only, not {item.mime_type}",
                        f"media_ids.{index}",
                    )
                )
        checks = (
            (len(request.text), MAX_CAPTION, "caption_too_long", "characters"),
            (len(_HASHTAG.findall(request.text)), MAX_HASHTAGS, "too_many_hashtags", "hashtags"),
            (len(_MENTION.findall(request.text)), MAX_MENTIONS, "too_many_mentions", "mentions"),
        )
        for count, limit, code, noun in checks:
            if count > limit:
                problems.append(
                    ValidationProblem(code, f"{count} {noun}; Instagram allows {limit}", "content")
                )
        if request.thread:
            problems.append(
                ValidationProblem(
                    "thread_unsupported",
                    "Instagram has no threads; use options.first_comment",
                    "options.thread",
                )
            )
        return problems

    # -- publishing ---------------------------------------------------------------------------

    async def publish(self, account: AccountContext, request: PublishRequest) -> PublishedPost:
        problems = self.validate(request)
        if problems:
            raise Rejected(problems[0].message, code=problems[0].code)
        user = await self._user_id(account)
        if len(request.media) == 1:
            body = self._media_params(request.media[0], carousel_item=False)
            body["caption"] = request.text
            container = await self._create(account, user, body)
        else:
            children = [
                await self._create(account, user, self._media_params(item, carousel_item=True))
                for item in request.media
            ]
            container = await self._create(
                account,
                user,
                {"media_type": "CAROUSEL", "children": ",".join(children), "caption": request.text},
            )
        await self._wait_until_finished(account, container)
        answer = await self._call(
            account, "POST", f"/{user}/media_publish", data={"creation_id": container}
        )
        media_id = str(answer["id"])
        extra: tuple[str, ...] = ()
        if request.first_comment:
            comment = await self._call(
                account, "POST", f"/{media_id}/comments", data={"message": request.first_comment}
            )
            extra = (str(comment["id"]),)
        return await self._published(account, media_id, extra)

    @staticmethod
    def _media_params(item: MediaItem, *, carousel_item: bool) -> dict[str, str]:
        if not item.url:
            raise Rejected("Instagram fetches media from a URL, and this item has none")
        params: dict[str, str] = {}
        if _is_video(item):
            params["media_type"] = "VIDEO" if carousel_item else "REELS"
            params["video_url"] = item.url
        else:
            params["image_url"] = item.url
        if carousel_item:
            params["is_carousel_item"] = "true"
        return params

    async def _create(self, account: AccountContext, user: str, body: dict[str, str]) -> str:
        answer = await self._call(account, "POST", f"/{user}/media", data=body)
        return str(answer["id"])

    async def _wait_until_finished(self, account: AccountContext, container: str) -> None:
        delay = POLL_FIRST_S
        waited = 0.0
        while True:
            answer = await self._call(
                account, "GET", f"/{container}", params={"fields": "status_code,status"}
            )
            status = str(answer.get("status_code"))
            if status in ("FINISHED", "PUBLISHED"):
                return
            if status in ("ERROR", "EXPIRED"):
                raise Rejected(
                    f"Instagram could not process the media: {answer.get('status') or status}",
                    code=status,
                )
            if waited >= POLL_LIMIT_S:
                raise Transient(f"Instagram is still processing container {container}")
            await asyncio.sleep(delay)
            waited += delay
            delay = min(delay * 2, POLL_MAX_S)

    async def _published(
        self, account: AccountContext, media_id: str, extra: tuple[str, ...]
    ) -> PublishedPost:
        media = await self._call(
            account, "GET", f"/{media_id}", params={"fields": "id,permalink,timestamp"}
        )
        return PublishedPost(
            platform_post_id=media_id,
            url=media.get("permalink"),
            published_at=parse_timestamp(media.get("timestamp")),
            extra_post_ids=extra,
        )

    # -- reading ------------------------------------------------------------------------------

    async def _media(self, account: AccountContext, limit: int = 100) -> list[dict[str, Any]]:
        user = await self._user_id(account)
        answer = await self._call(
            account, "GET", f"/{user}/media", params={"fields": MEDIA_FIELDS, "limit": limit}
        )
        return [m for m in answer.get("data") or [] if isinstance(m, dict)]

    async def find_existing(
        self, account: AccountContext, request: PublishRequest, since: datetime
    ) -> PublishedPost | None:
        cutoff = since - FIND_EXISTING_SLACK
        wanted = normalised(request.text)
        for media in await self._media(account, 50):
            created = parse_timestamp(media.get("timestamp"))
            if created is not None and created < cutoff:
                break
            if normalised(str(media.get("caption") or "")) == wanted:
                media_id = str(media["id"])
                extra: tuple[str, ...] = ()
                if request.first_comment:
                    comment = await self._call(
                        account,
                        "POST",
                        f"/{media_id}/comments",
                        data={"message": request.first_comment},
                    )
                    extra = (str(comment["id"]),)
                return await self._published(account, media_id, extra)
        return None

    async def list_recent(
        self, account: AccountContext, after: str | None, limit: int
    ) -> list[SourcePost]:
        posts: list[SourcePost] = []
        for media in await self._media(account):
            if after is not None and str(media["id"]) == after:
                break
            posts.append(self._source(media))
        posts.sort(key=lambda p: (p.created_at, int(p.id) if p.id.isdigit() else 0))
        return posts[:limit] if after else posts[-limit:]

    @staticmethod
    def _source(media: dict[str, Any]) -> SourcePost:
        caption = str(media.get("caption") or "")
        return SourcePost(
            id=str(media["id"]),
            created_at=parse_timestamp(media.get("timestamp")) or datetime.now(UTC),
            text=caption,
            kind="video" if media.get("media_type") == "VIDEO" else "image",
            hashtags=tuple(t.lower() for t in _HASHTAG.findall(caption)),
            url=media.get("permalink"),
            media_urls=(str(media["media_url"]),) if media.get("media_url") else (),
        )

    async def verify(self, account: AccountContext) -> AccountIdentity:
        me = await self._call(
            account, "GET", "/me", params={"fields": "user_id,username,name,profile_picture_url"}
        )
        return AccountIdentity(
            platform_account_id=str(me.get("user_id") or me["id"]),
            username=str(me["username"]),
            display_name=me.get("name"),
            avatar_url=me.get("profile_picture_url"),
        )

    async def fetch_metrics(self, account: AccountContext, platform_post_id: str) -> Metrics:
        """Media insights with today's names (``views`` replaced the retired impressions,
        plays and video_views); Instagram reports no clicks on a post."""
        insights = await self._call(
            account,
            "GET",
            f"/{platform_post_id}/insights",
            params={"metric": ",".join(INSTAGRAM_MEDIA_METRICS)},
        )
        raw = graph.insight_values(insights)
        return metrics_of(
            raw,
            impressions=as_count(raw.get("views")),
            reach=as_count(raw.get("reach")),
            likes=as_count(raw.get("likes")),
            comments=as_count(raw.get("comments")),
            shares=as_count(raw.get("shares")),
            saves=as_count(raw.get("saved")),
        )

    async def fetch_account_metrics(self, account: AccountContext) -> Metrics:
        me = await self._call(
            account, "GET", "/me", params={"fields": "followers_count,follows_count,media_count"}
        )
        return metrics_of(me, followers=as_count(me.get("followers_count")))

    async def delete(self, account: AccountContext, platform_post_id: str) -> None:
        raise Rejected(
            "Instagram's API cannot delete feed posts; delete it in the Instagram app",
            code="unsupported",
        )

    # -- OAuth --------------------------------------------------------------------------------

    def authorization_url(self, start: OAuthStart) -> str:
        """Instagram Login takes no PKCE challenge; ``state`` guards the callback."""
        if not self._app.authorize_url or not self._app.client_id:
            raise Rejected("no Instagram app is configured (client id and authorize URL)")
        query = {
            "client_id": self._app.client_id,
            "redirect_uri": start.redirect_uri,
            "response_type": "code",
            "scope": ",".join(start.scopes or SCOPES),
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
            name="Instagram",
            prefix="ig",
            root=self._graph_root(),
        )

    async def refresh(self, account: AccountContext) -> OAuthGrant:
        return await graph.refreshed_grant(
            self._http,
            account.credentials,
            prefix="ig",
            root=self._graph_root(),
        )

    def _graph_root(self) -> str:
        """graph.instagram.com itself: token exchange and refresh are unversioned paths."""
        return re.sub(r"/v\d+\.\d+$", "", self._app.api_url.rstrip("/"))

    # -- HTTP ---------------------------------------------------------------------------------

    async def _user_id(self, account: AccountContext) -> str:
        known = account.credentials.get("user_id") or account.platform_account_id
        if known:
            return str(known)
        return (await self.verify(account)).platform_account_id

    async def _call(
        self, account: AccountContext, method: str, path: str, **kwargs: Any
    ) -> dict[str, Any]:
        url = self._app.api_url.rstrip("/") + path
        token = str(account.credentials["access_token"])
        return await graph.call(self._http, method, url, token, **kwargs)
