"""Facebook Pages through the Graph API: text and link posts, photos (one, or several uploaded
unpublished then attached to one feed post), a video, a first comment.

Credentials: ``access_token`` (the long-lived user token from Facebook Login), ``page_id`` and
``page_access_token`` (the Page's token from ``/me/accounts``; Page tokens derived from a
long-lived user token do not expire). Publishing acts as the Page with its Page token.
"""

from __future__ import annotations

import json
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
    ValidationProblem,
)
from platforms.graph import GRAPH_VERSION
from platforms.matching import FIND_EXISTING_SLACK, normalised, parse_timestamp
from platforms.metrics import Metrics, count, metrics_of, total
from platforms.multipart import StreamedForm
from platforms.oauth import expires_after

PRODUCTION_APP = PlatformApp(
    api_url=f"https://graph.facebook.com/{GRAPH_VERSION}",
    authorize_url=f"https://www.facebook.com/{GRAPH_VERSION}/dialog/oauth",
    token_url=f"https://graph.facebook.com/{GRAPH_VERSION}/oauth/access_token",
)
# Pages API "Get Started": listing Pages, reading and publishing as them.
SCOPES = (
    "pages_show_list",
    "pages_read_engagement",
    "pages_manage_posts",
    "pages_manage_engagement",
)
MAX_CHARACTERS = 63_206
MAX_PHOTOS = 10
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp", "image/bmp"})
POST_FIELDS = "id,message,created_time,permalink_url,attachments{type,media,url}"
LIST_PAGE = 100
LIST_PAGES = 5
_HASHTAG = re.compile(r"#(\w+)")


# Insights Herald asks for (today's names; see fetch_metrics).
FACEBOOK_POST_METRICS = (
    "post_media_view",
    "post_total_media_view_unique",
    "post_reactions_by_type_total",
    "post_clicks",
    "post_video_views",
)


class FacebookAdapter(PlatformAdapter):
    platform = "facebook"
    option_names = frozenset({"first_comment", "link"})
    uses_oauth = True

    def __init__(self, http: httpx.AsyncClient, app: PlatformApp) -> None:
        self._http = http
        self._app = app

    # -- rules --------------------------------------------------------------------------------

    def validate(
        self, request: PublishRequest, limits: ServerLimits = DOCUMENTED_LIMITS
    ) -> list[ValidationProblem]:
        problems: list[ValidationProblem] = []
        link = request.options.get("link")
        if not request.text.strip() and not request.media and not link:
            problems.append(
                ValidationProblem("empty", "Facebook needs a message, a link or media", "content")
            )
        if len(request.text) > MAX_CHARACTERS:
            problems.append(
                ValidationProblem(
                    "text_too_long",
                    f"{len(request.text)} characters; Facebook allows {MAX_CHARACTERS}",
                    "content",
                )
            )
        videos = [m for m in request.media if m.mime_type.startswith("video/")]
        if videos and len(request.media) > 1:
            problems.append(
                ValidationProblem(
                    "video_with_other_media",
                    "a Facebook Page post takes one video alone",
                    "media_ids",
                )
            )
        if len(request.media) > MAX_PHOTOS:
            problems.append(
                ValidationProblem(
                    "too_many_media", f"Herald posts at most {MAX_PHOTOS} photos", "media_ids"
                )
            )
        for index, item in enumerate(request.media):
            if not item.mime_type.startswith("video/") and item.mime_type not in IMAGE_TYPES:
                problems.append(
                    ValidationProblem(
                        "unsupported_media_type",
                        f"Facebook does not take {item.mime_type} photos",
                        f"media_ids.{index}",
                    )
                )
        if link and request.media:
            problems.append(
                ValidationProblem(
                    "link_with_media",
                    "a Facebook link post cannot carry photos or a video",
                    "options.link",
                )
            )
        if request.thread:
            problems.append(
                ValidationProblem(
                    "thread_unsupported",
                    "Facebook has no threads; use options.first_comment",
                    "options.thread",
                )
            )
        return problems

    # -- publishing ---------------------------------------------------------------------------

    async def publish(self, account: AccountContext, request: PublishRequest) -> PublishedPost:
        page = await self._page_id(account)
        videos = [m for m in request.media if m.mime_type.startswith("video/")]
        if videos:
            answer = await self._page_call(
                account,
                "POST",
                f"/{page}/videos",
                **self._form({"description": request.text}, videos[0]),
            )
            post_id = str(answer["id"])
        elif len(request.media) == 1:
            answer = await self._page_call(
                account,
                "POST",
                f"/{page}/photos",
                **self._form({"message": request.text}, request.media[0]),
            )
            post_id = str(answer.get("post_id") or answer["id"])
        else:
            body: dict[str, str] = {}
            if request.text:
                body["message"] = request.text
            if request.options.get("link"):
                body["link"] = str(request.options["link"])
            for index, item in enumerate(request.media):
                photo = await self._page_call(
                    account,
                    "POST",
                    f"/{page}/photos",
                    **self._form({"published": "false"}, item),
                )
                body[f"attached_media[{index}]"] = json.dumps({"media_fbid": str(photo["id"])})
            answer = await self._page_call(account, "POST", f"/{page}/feed", data=body)
            post_id = str(answer["id"])
        extra: tuple[str, ...] = ()
        if request.first_comment:
            extra = (await self._comment(account, post_id, request.first_comment),)
        return await self._published(account, post_id, extra)

    async def _comment(self, account: AccountContext, post_id: str, text: str) -> str:
        answer = await self._page_call(
            account, "POST", f"/{post_id}/comments", data={"message": text}
        )
        return str(answer["id"])

    async def _published(
        self, account: AccountContext, post_id: str, extra: tuple[str, ...]
    ) -> PublishedPost:
        details = await self._page_call(
            account, "GET", f"/{post_id}", params={"fields": "id,created_time,permalink_url"}
        )
        return PublishedPost(
            platform_post_id=post_id,
            url=details.get("permalink_url") or f"https://www.facebook.com/{post_id}",
            published_at=parse_timestamp(details.get("created_time")),
            extra_post_ids=extra,
        )

    @staticmethod
    def _form(fields: dict[str, str], item: MediaItem) -> dict[str, Any]:
        """The request's form, its `source` file streamed from storage (a page video may be
        gigabytes)."""
        form = StreamedForm(fields, "source", item)
        return {"content": form, "headers": form.headers}

    # -- reading ------------------------------------------------------------------------------

    async def _feed(self, account: AccountContext, pages: int = LIST_PAGES) -> list[dict[str, Any]]:
        """The Page's own posts, newest first, following the ``after`` cursor."""

        async def fetch(params: dict[str, Any]) -> dict[str, Any]:
            path = f"/{await self._page_id(account)}/posts"
            return await self._page_call(account, "GET", path, params=params)

        return await graph.paged(fetch, {"fields": POST_FIELDS, "limit": LIST_PAGE}, pages)

    async def find_existing(
        self, account: AccountContext, request: PublishRequest, since: datetime
    ) -> PublishedPost | None:
        cutoff = since - FIND_EXISTING_SLACK
        wanted = normalised(request.text)
        for post in await self._feed(account, pages=1):
            created = parse_timestamp(post.get("created_time"))
            if created is not None and created < cutoff:
                break
            if normalised(str(post.get("message") or "")) != wanted:
                continue
            post_id = str(post["id"])
            extra: tuple[str, ...] = ()
            if request.first_comment:
                extra = (await self._find_or_add_comment(account, post_id, request.first_comment),)
            return await self._published(account, post_id, extra)
        return None

    async def _find_or_add_comment(self, account: AccountContext, post_id: str, text: str) -> str:
        answer = await self._page_call(
            account, "GET", f"/{post_id}/comments", params={"fields": "id,message,from"}
        )
        for comment in answer.get("data") or []:
            if normalised(str(comment.get("message") or "")) == normalised(text):
                return str(comment["id"])
        return await self._comment(account, post_id, text)

    async def list_recent(
        self, account: AccountContext, after: str | None, limit: int
    ) -> list[SourcePost]:
        if after is None:
            posts = await self._feed(account, pages=1)
            return sorted((self._source(p) for p in posts[:limit]), key=_order)
        newer: list[SourcePost] = []
        for post in await self._feed(account):
            if str(post.get("id")) == after:
                break
            newer.append(self._source(post))
        return sorted(newer, key=_order)[:limit]

    @staticmethod
    def _source(post: dict[str, Any]) -> SourcePost:
        text = str(post.get("message") or "")
        attachments = (post.get("attachments") or {}).get("data") or []
        types = {str(a.get("type")) for a in attachments if isinstance(a, dict)}
        if any("video" in t for t in types):
            kind = "video"
        elif any("photo" in t or "album" in t for t in types):
            kind = "image"
        else:
            kind = "text"
        media_urls = tuple(
            str(a["media"]["image"]["src"])
            for a in attachments
            if isinstance(a, dict) and isinstance((a.get("media") or {}).get("image"), dict)
        )
        return SourcePost(
            id=str(post["id"]),
            created_at=parse_timestamp(post.get("created_time")) or datetime.now(UTC),
            text=text,
            kind=kind,
            hashtags=tuple(t.lower() for t in _HASHTAG.findall(text)),
            url=post.get("permalink_url"),
            media_urls=media_urls,
        )

    async def verify(self, account: AccountContext) -> AccountIdentity:
        page = await self._page_call(
            account, "GET", f"/{await self._page_id(account)}", params={"fields": "id,name,picture"}
        )
        picture = ((page.get("picture") or {}).get("data") or {}).get("url")
        return AccountIdentity(
            platform_account_id=str(page["id"]),
            username=str(page.get("name") or page["id"]),
            display_name=page.get("name"),
            avatar_url=picture,
        )

    async def list_pages(self, account: AccountContext) -> list[dict[str, Any]]:
        """The Pages the user manages, each with ``id``, ``name`` and its ``access_token``
        (what select-page stores as ``page_id`` / ``page_access_token``)."""
        token = str(account.credentials["access_token"])
        params: dict[str, Any] = {"fields": "id,name,access_token,category,tasks", "limit": 100}

        async def fetch(query: dict[str, Any]) -> dict[str, Any]:
            return await self._call(token, "GET", "/me/accounts", params=query)

        return await graph.paged(fetch, params, LIST_PAGES)

    async def fetch_metrics(self, account: AccountContext, platform_post_id: str) -> Metrics:
        """Post insights with today's names (``post_media_view`` replaced the retired
        ``post_impressions``; ``post_total_media_view_unique`` the unique impressions) and
        the post's comment and share counts."""
        insights = await self._page_call(
            account,
            "GET",
            f"/{platform_post_id}/insights",
            params={"metric": ",".join(FACEBOOK_POST_METRICS)},
        )
        raw = graph.insight_values(insights)
        reactions = raw.pop("post_reactions_by_type_total", None)
        if isinstance(reactions, dict):
            raw["post_reactions_by_type_total"] = total(*(count(v) for v in reactions.values()))
        post = await self._page_call(
            account,
            "GET",
            f"/{platform_post_id}",
            params={"fields": "shares,comments.summary(true).limit(0)"},
        )
        raw["shares"] = (post.get("shares") or {}).get("count", 0)
        raw["comments"] = ((post.get("comments") or {}).get("summary") or {}).get("total_count")
        return metrics_of(
            raw,
            impressions=count(raw.get("post_media_view")),
            reach=count(raw.get("post_total_media_view_unique")),
            likes=count(raw.get("post_reactions_by_type_total")),
            clicks=count(raw.get("post_clicks")),
            video_views=count(raw.get("post_video_views")),
            comments=count(raw.get("comments")),
            shares=count(raw.get("shares")),
        )

    async def fetch_account_metrics(self, account: AccountContext) -> Metrics:
        """The Page's ``followers_count`` (``page_fans`` is retired)."""
        page = await self._page_call(
            account, "GET", f"/{await self._page_id(account)}", params={"fields": "followers_count"}
        )
        return metrics_of(page, followers=count(page.get("followers_count")))

    async def delete(self, account: AccountContext, platform_post_id: str) -> None:
        await self._page_call(account, "DELETE", f"/{platform_post_id}")

    # -- OAuth (Facebook Login, manual flow) --------------------------------------------------

    def authorization_url(self, start: OAuthStart) -> str:
        """Facebook Login's manual flow takes no PKCE challenge here; ``state`` guards it."""
        if not self._app.authorize_url or not self._app.client_id:
            raise Rejected("no Facebook app is configured (client id and authorize URL)")
        query = {
            "client_id": self._app.client_id,
            "redirect_uri": start.redirect_uri,
            "state": start.state,
            "response_type": "code",
            "scope": ",".join(start.scopes or SCOPES),
        }
        return f"{self._app.authorize_url}?{urlencode(query)}"

    async def exchange_code(self, code: str, code_verifier: str, redirect_uri: str) -> OAuthGrant:
        """Code → short-lived user token → long-lived one; the first Page is preselected
        (select-page replaces it)."""
        if not self._app.token_url or not self._app.client_id or not self._app.client_secret:
            raise Rejected("no Facebook app is configured (client id, secret and token URL)")
        short = await self._token(
            {
                "client_id": self._app.client_id,
                "client_secret": self._app.client_secret,
                "redirect_uri": redirect_uri,
                "code": code,
            }
        )
        grant = await self._long_lived(str(short["access_token"]))
        token = str(grant.credentials["access_token"])
        context = AccountContext("", "", None, {"access_token": token})
        pages = await self.list_pages(context)
        credentials = dict(grant.credentials)
        if pages:
            credentials["page_id"] = str(pages[0]["id"])
            credentials["page_access_token"] = str(pages[0]["access_token"])
        return OAuthGrant(credentials, grant.expires_at)

    async def refresh(self, account: AccountContext) -> OAuthGrant:
        """A valid long-lived user token buys a new one (``fb_exchange_token``)."""
        grant = await self._long_lived(str(account.credentials["access_token"]))
        return OAuthGrant({**account.credentials, **grant.credentials}, grant.expires_at)

    async def _long_lived(self, token: str) -> OAuthGrant:
        if not self._app.client_id or not self._app.client_secret:
            raise Rejected("no Facebook app is configured (client id and secret)")
        answer = await self._token(
            {
                "grant_type": "fb_exchange_token",
                "client_id": self._app.client_id,
                "client_secret": self._app.client_secret,
                "fb_exchange_token": token,
            }
        )
        token_expires = expires_after(answer.get("expires_in"))
        return OAuthGrant({"access_token": str(answer["access_token"])}, token_expires)

    async def _token(self, params: dict[str, str]) -> dict[str, Any]:
        url = self._app.token_url or f"{self._app.api_url.rstrip('/')}/oauth/access_token"
        return await graph.token_call(self._http, "GET", url, params=params)

    # -- HTTP ---------------------------------------------------------------------------------

    async def _page(self, account: AccountContext) -> tuple[str, str]:
        """The selected Page and its token; with none selected, the first Page the user
        manages (as an account connected without select-page)."""
        credentials = account.credentials
        if credentials.get("page_id"):
            token = credentials.get("page_access_token") or credentials["access_token"]
            return str(credentials["page_id"]), str(token)
        pages = await self.list_pages(account)
        if not pages:
            raise Rejected("the Facebook user manages no Page Herald can publish to")
        return str(pages[0]["id"]), str(pages[0]["access_token"])

    async def _page_id(self, account: AccountContext) -> str:
        return (await self._page(account))[0]

    async def _page_call(
        self, account: AccountContext, method: str, path: str, **kwargs: Any
    ) -> dict[str, Any]:
        _page_id, token = await self._page(account)
        return await self._call(token, method, path, **kwargs)

    async def _call(self, token: str, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        url = self._app.api_url.rstrip("/") + path
        return await graph.call(self._http, method, url, token, **kwargs)


def _order(post: SourcePost) -> tuple[datetime, int, str]:
    story = post.id.rpartition("_")[2]
    return (post.created_at, int(story) if story.isdigit() else 0, post.id)
