"""LinkedIn (Community Management API): member posts through ``/rest/posts``.

A post is text ("little" format, escaped here), one image, 2 to 20 images (``multiImage``) or
one video, uploaded first through the Images / Videos APIs. LinkedIn has no threads; a first
comment is a comment under the post (``socialActions/{urn}/comments``). Posts are found again
through the author finder (``q=author``), which in production needs the restricted
``r_member_social`` permission: without it the finder answers 403 and `find_existing`
reports nothing found (a repeated publish is then refused by LinkedIn as DUPLICATE_POST rather
than posted twice).

OAuth is LinkedIn's 3-legged flow without PKCE (web apps use the client secret; PKCE is only
for approved native clients), so the challenge is not sent. Access tokens last 60 days;
programmatic refresh tokens (approved apps only) a year, and refreshing does not rotate them.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

import httpx

from platforms.base import (
    DOCUMENTED_LIMITS,
    AccountContext,
    AccountIdentity,
    AuthExpired,
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
from platforms.linkedin_http import LinkedInApi, classify, encoded
from platforms.linkedin_media import is_video, upload
from platforms.linkedin_rules import validate_request
from platforms.linkedin_text import escape_little, unescape_little
from platforms.matching import FIND_EXISTING_SLACK, normalised
from platforms.metrics import Metrics, count, metrics_of, total
from platforms.oauth import expires_after, token_request

PRODUCTION_APP = PlatformApp(
    api_url="https://api.linkedin.com",
    authorize_url="https://www.linkedin.com/oauth/v2/authorization",
    token_url="https://www.linkedin.com/oauth/v2/accessToken",
)
SCOPES = ("openid", "profile", "w_member_social")
POST_URL = "https://www.linkedin.com/feed/update/{urn}"
PERSON = "urn:li:person:"
PAGE = 50
PAGES = 5
_HASHTAG = re.compile(r"#(\w+)")
_COMMENT = re.compile(r"\Aurn:li:comment:\((urn:li:[a-zA-Z]+:[^,]+),([^)]+)\)\Z")


def _moment(ms: Any) -> datetime | None:
    return datetime.fromtimestamp(ms / 1000, UTC) if isinstance(ms, int | float) else None


def _kind(post: dict[str, Any]) -> str:
    content = post.get("content") or {}
    if "multiImage" in content:
        return "image"
    media_id = str((content.get("media") or {}).get("id") or "")
    if media_id.startswith("urn:li:video:"):
        return "video"
    return "image" if media_id else "text"


def _expected_kind(request: PublishRequest) -> str:
    if not request.media:
        return "text"
    return "video" if is_video(request.media[0]) else "image"


# memberCreatorPostAnalytics query types Herald reads (one call each).
MEMBER_POST_METRICS = (
    "IMPRESSION",
    "MEMBERS_REACHED",
    "REACTION",
    "COMMENT",
    "RESHARE",
    "POST_SAVE",
)


class LinkedInAdapter(PlatformAdapter):
    platform = "linkedin"
    option_names = frozenset({"first_comment", "visibility", "disable_reshare"})
    uses_oauth = True

    def __init__(self, http: httpx.AsyncClient, app: PlatformApp) -> None:
        self._http = http
        self._app = app
        self._api = LinkedInApi(http, app)

    def validate(
        self, request: PublishRequest, limits: ServerLimits = DOCUMENTED_LIMITS
    ) -> list[ValidationProblem]:
        return validate_request(request)

    # -- publishing ---------------------------------------------------------------------------

    async def publish(self, account: AccountContext, request: PublishRequest) -> PublishedPost:
        author = await self._author(account)
        media = [await upload(self._api, account, author, item) for item in request.media]
        body: dict[str, Any] = {
            "author": author,
            "commentary": escape_little(request.text),
            "visibility": request.options.get("visibility") or "PUBLIC",
            "distribution": {
                "feedDistribution": "MAIN_FEED",
                "targetEntities": [],
                "thirdPartyDistributionChannels": [],
            },
            "lifecycleState": "PUBLISHED",
            "isReshareDisabledByAuthor": bool(request.options.get("disable_reshare")),
        }
        if len(media) == 1:
            single: dict[str, Any] = {"id": media[0]}
            description = request.media[0].description
            if description:
                single["title" if is_video(request.media[0]) else "altText"] = description
            body["content"] = {"media": single}
        elif media:
            images = []
            for urn, item in zip(media, request.media, strict=True):
                image = {"id": urn}
                if item.description:
                    image["altText"] = item.description
                images.append(image)
            body["content"] = {"multiImage": {"images": images}}
        created = await self._api.call(account, "POST", "/rest/posts", json=body)
        urn = created.headers.get("x-restli-id") or created.headers.get("x-linkedin-id")
        if not urn:
            # The post exists: a retry finds it through the author finder.
            raise Transient("LinkedIn created the post but named no URN")
        comments = await self._comment(account, author, urn, request.first_comment)
        return self._published(urn, datetime.now(UTC), comments)

    async def _comment(
        self, account: AccountContext, author: str, urn: str, text: str | None
    ) -> tuple[str, ...]:
        if not text:
            return ()
        response = await self._api.call(
            account,
            "POST",
            f"/rest/socialActions/{encoded(urn)}/comments",
            json={"actor": author, "object": urn, "message": {"text": text}},
        )
        answer: dict[str, Any] = response.json() if response.content else {}
        comment = answer.get("commentUrn") or answer.get("$URN")
        if not comment:
            key = answer.get("id") or response.headers.get("x-restli-id")
            # socialActions take the post's own URN as well as its activity's.
            comment = f"urn:li:comment:({urn},{key})" if key else None
        return (str(comment),) if comment else ()

    @staticmethod
    def _published(
        urn: str, published_at: datetime | None, comments: tuple[str, ...] = ()
    ) -> PublishedPost:
        return PublishedPost(
            platform_post_id=urn,
            url=POST_URL.format(urn=urn),
            published_at=published_at,
            extra_post_ids=comments,
        )

    # -- finding and listing ------------------------------------------------------------------

    async def find_existing(
        self, account: AccountContext, request: PublishRequest, since: datetime
    ) -> PublishedPost | None:
        """The post by its commentary and kind among the author's posts since `since`; a
        first comment that never got made is added now."""
        author = await self._author(account)
        cutoff = since - FIND_EXISTING_SLACK
        wanted = (normalised(request.text), _expected_kind(request))
        try:
            posts = await self._finder(account, author, stop_before=cutoff)
        except Rejected as err:
            if err.status == 403:
                return None  # no r_member_social: LinkedIn's duplicate check still guards
            raise
        for post in posts:
            created = _moment(post.get("createdAt"))
            if created is None or created < cutoff:
                continue
            text = normalised(unescape_little(str(post.get("commentary") or "")))
            if (text, _kind(post)) != wanted:
                continue
            urn = str(post["id"])
            comments = await self._existing_comment(account, author, urn, request.first_comment)
            return self._published(urn, created, comments)
        return None

    async def _existing_comment(
        self, account: AccountContext, author: str, urn: str, text: str | None
    ) -> tuple[str, ...]:
        if not text:
            return ()
        found = await self._api.json(
            account, "GET", f"/rest/socialActions/{encoded(urn)}/comments?count=100"
        )
        for comment in found.get("elements") or []:
            same_text = normalised(str((comment.get("message") or {}).get("text") or ""))
            if comment.get("actor") == author and same_text == normalised(text):
                return (str(comment.get("commentUrn") or comment.get("$URN")),)
        return await self._comment(account, author, urn, text)

    async def _finder(
        self, account: AccountContext, author: str, stop_before: datetime | None = None
    ) -> list[dict[str, Any]]:
        """The author's posts, newest first, page by page until `stop_before` is passed."""
        found: list[dict[str, Any]] = []
        for page in range(PAGES):
            query = f"q=author&author={encoded(author)}&start={page * PAGE}&count={PAGE}"
            answer = await self._api.json(account, "GET", f"/rest/posts?{query}")
            elements = [e for e in answer.get("elements") or [] if isinstance(e, dict)]
            found += elements
            oldest = _moment(elements[-1].get("createdAt")) if elements else None
            if len(elements) < PAGE or (stop_before and oldest and oldest < stop_before):
                break
        return found

    async def list_recent(
        self, account: AccountContext, after: str | None, limit: int
    ) -> list[SourcePost]:
        author = await self._author(account)
        anchor: tuple[datetime, str] | None = None
        if after:
            try:
                cursor = await self._api.json(account, "GET", f"/rest/posts/{encoded(after)}")
            except Rejected:
                cursor = {}  # the cursor post is gone: start again from the newest
            moment = _moment(cursor.get("createdAt"))
            anchor = (moment, after) if moment else None
        raw = await self._finder(account, author, stop_before=anchor[0] if anchor else None)
        posts = [self._source(p) for p in raw]
        posts.sort(key=lambda p: (p.created_at, p.id))
        if anchor is None:
            return posts[-limit:] if limit > 0 else []
        newer = [p for p in posts if (p.created_at, p.id) > anchor]
        return newer[:limit]

    @staticmethod
    def _source(post: dict[str, Any]) -> SourcePost:
        text = unescape_little(str(post.get("commentary") or ""))
        urn = str(post["id"])
        return SourcePost(
            id=urn,
            created_at=_moment(post.get("createdAt")) or datetime.now(UTC),
            text=text,
            kind=_kind(post),
            hashtags=tuple(t.lower() for t in _HASHTAG.findall(text)),
            url=POST_URL.format(urn=urn),
        )

    # -- account ------------------------------------------------------------------------------

    async def _author(self, account: AccountContext) -> str:
        urn = account.credentials.get("author_urn")
        if isinstance(urn, str) and urn.startswith("urn:li:"):
            return urn
        known = account.platform_account_id
        if known:
            return known if known.startswith("urn:li:") else f"{PERSON}{known}"
        return (await self.verify(account)).platform_account_id

    async def verify(self, account: AccountContext) -> AccountIdentity:
        """OpenID userinfo: LinkedIn exposes no handle, so the name stands in for it."""
        me = await self._api.json(account, "GET", "/v2/userinfo")
        name = str(me.get("name") or me["sub"])
        return AccountIdentity(
            platform_account_id=f"{PERSON}{me['sub']}",
            username=name,
            display_name=name,
            avatar_url=me.get("picture") or None,
        )

    async def delete(self, account: AccountContext, platform_post_id: str) -> None:
        comment = _COMMENT.match(platform_post_id)
        if comment:
            author = await self._author(account)
            path = (
                f"/rest/socialActions/{encoded(comment[1])}/comments/{quote(comment[2], safe='')}"
                f"?actor={encoded(author)}"
            )
        else:
            path = f"/rest/posts/{encoded(platform_post_id)}"
        try:
            await self._api.call(account, "DELETE", path, headers={"X-RestLi-Method": "DELETE"})
        except Rejected as err:
            if err.status != 404:
                raise
            # Already gone (deleted on LinkedIn, or by an earlier attempt): nothing to do.

    async def fetch_metrics(self, account: AccountContext, platform_post_id: str) -> Metrics:
        """Member post analytics (``memberCreatorPostAnalytics``, one metric per call, total
        over the post's life). LinkedIn reports no clicks or video views for members."""
        kind = "ugcPost" if ":ugcPost:" in platform_post_id else "share"
        raw: dict[str, int | None] = {}
        for query_type in MEMBER_POST_METRICS:
            answer = await self._api.json(
                account,
                "GET",
                "/rest/memberCreatorPostAnalytics",
                params={
                    "q": "entity",
                    "entity": f"({kind}:{platform_post_id})",
                    "queryType": query_type,
                    "aggregation": "TOTAL",
                },
            )
            elements = answer.get("elements") or []
            raw[query_type] = total(*(count(e.get("count")) for e in elements))
        return metrics_of(
            raw,
            impressions=raw["IMPRESSION"],
            reach=raw["MEMBERS_REACHED"],
            likes=raw["REACTION"],
            comments=raw["COMMENT"],
            shares=raw["RESHARE"],
            saves=raw["POST_SAVE"],
        )

    async def fetch_account_metrics(self, account: AccountContext) -> Metrics:
        answer = await self._api.json(
            account, "GET", "/rest/memberFollowersCount", params={"q": "me"}
        )
        elements = answer.get("elements") or []
        followers = total(*(count(e.get("memberFollowersCount")) for e in elements))
        return metrics_of({"memberFollowersCount": followers}, followers=followers)

    # -- OAuth --------------------------------------------------------------------------------

    def authorization_url(self, start: OAuthStart) -> str:
        """No PKCE for web apps: the challenge is not sent (the state guards the callback)."""
        if not self._app.authorize_url or not self._app.client_id:
            raise Rejected("no LinkedIn app is configured (client id and authorize URL)")
        query = {
            "response_type": "code",
            "client_id": self._app.client_id,
            "redirect_uri": start.redirect_uri,
            "state": start.state,
            "scope": " ".join(start.scopes or SCOPES),
        }
        return f"{self._app.authorize_url}?{urlencode(query, quote_via=quote)}"

    async def exchange_code(self, code: str, code_verifier: str, redirect_uri: str) -> OAuthGrant:
        answer = await self._token(
            {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri},
            refreshing=False,
        )
        credentials = self._credentials({}, answer)
        me = AccountContext("", "", None, credentials)
        credentials["author_urn"] = (await self.verify(me)).platform_account_id
        return OAuthGrant(credentials, expires_after(answer.get("expires_in")))

    async def refresh(self, account: AccountContext) -> OAuthGrant:
        refresh_token = account.credentials.get("refresh_token")
        if not refresh_token:
            raise AuthExpired("LinkedIn issued no refresh token for this account; connect it again")
        answer = await self._token(
            {"grant_type": "refresh_token", "refresh_token": str(refresh_token)},
            refreshing=True,
        )
        return OAuthGrant(
            self._credentials(account.credentials, answer), expires_after(answer.get("expires_in"))
        )

    @staticmethod
    def _credentials(old: dict[str, Any], answer: dict[str, Any]) -> dict[str, Any]:
        credentials = {**old, "access_token": str(answer["access_token"])}
        if answer.get("refresh_token"):
            credentials["refresh_token"] = str(answer["refresh_token"])
        refresh_expires = expires_after(answer.get("refresh_token_expires_in"))
        if refresh_expires is not None:
            credentials["refresh_token_expires_at"] = refresh_expires.isoformat()
        return credentials

    async def _token(self, form: dict[str, str], *, refreshing: bool) -> dict[str, Any]:
        """The token endpoint, with the client's id and secret in the form."""
        if not self._app.token_url or not self._app.client_id or not self._app.client_secret:
            raise Rejected("no LinkedIn app is configured (client id, secret and token URL)")
        data = {**form, "client_id": self._app.client_id, "client_secret": self._app.client_secret}
        return await token_request(
            self._http, self._app.token_url, classify, refreshing=refreshing, data=data
        )
