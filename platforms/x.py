"""X (API v2, OAuth 2.0 user context): Tweets, threads, media, timelines.

A post is ``POST /2/tweets`` with its text and up to 4 images or one video / animated GIF
uploaded first (platforms/x_media.py). Thread parts are each a reply
(``reply.in_reply_to_tweet_id``) to the part before; the head is the published post and the
replies its `extra_post_ids`. X refuses the same text twice from one account within a while
(403 "duplicate content"): such a refusal on a re-post means the Tweet exists, so it is looked
up and returned. Tweets are found again through the user's timeline
(``GET /2/users/:id/tweets``), where X answers text with links wrapped in t.co: entities give
the links back before texts are compared.

OAuth 2.0 Authorization Code with PKCE (S256); Herald is a confidential client, so the token
endpoint gets HTTP Basic client authentication. Access tokens last two hours; refresh tokens
(scope offline.access) are rotated by every refresh.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

import httpx

from platforms.base import (
    DOCUMENTED_LIMITS,
    AccountContext,
    AccountIdentity,
    AuthExpired,
    Duplicate,
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
from platforms.matching import FIND_EXISTING_SLACK, normalised, parse_timestamp
from platforms.metrics import Metrics, count, metrics_of
from platforms.oauth import expires_after, token_request
from platforms.x_http import XApi, classify
from platforms.x_media import upload
from platforms.x_rules import validate_request
from platforms.x_text import url_spans

PRODUCTION_APP = PlatformApp(
    api_url="https://api.x.com",
    authorize_url="https://x.com/i/oauth2/authorize",
    token_url="https://api.x.com/2/oauth2/token",
)
SCOPES = ("tweet.read", "tweet.write", "users.read", "media.write", "offline.access")
TWEET_URL = "https://x.com/{username}/status/{id}"
# How far back a Tweet X calls a duplicate is looked for (X's window is not documented).
DUPLICATE_LOOKBACK = timedelta(days=1)
PAGE = 100
PAGES = 5
TIMELINE_FIELDS = {
    "tweet.fields": "created_at,entities,attachments,referenced_tweets,conversation_id",
    "expansions": "attachments.media_keys",
    "media.fields": "url,preview_image_url,type,variants",
}
_SCHEME = re.compile(r"\A(?:https?://)?(?:www\.)?", re.IGNORECASE)
_HASHTAG = re.compile(r"(?<![\w&])#(\w+)")
_MEDIA_LINK = re.compile(r"/status/\d+/(?:photo|video)/\d+\Z")


def _canonical(text: str) -> str:
    """For comparing texts: links without scheme or www, then `normalised`."""
    pieces = []
    cursor = 0
    for start, end in url_spans(text):
        pieces += [text[cursor:start], _SCHEME.sub("", text[start:end]).rstrip("/")]
        cursor = end
    pieces.append(text[cursor:])
    return normalised("".join(pieces))


def tweet_text(tweet: dict[str, Any]) -> str:
    """The text as written: t.co links expanded back, the attached-media link dropped."""
    text = str(tweet.get("text") or "")
    for entity in (tweet.get("entities") or {}).get("urls") or []:
        short = entity.get("url")
        if not isinstance(short, str) or not short:
            continue
        expanded = str(entity.get("expanded_url") or "")
        display = str(entity.get("display_url") or "")
        if _MEDIA_LINK.search(expanded) or display.startswith(("pic.x.com", "pic.twitter.com")):
            text = text.replace(short, "")
        else:
            text = text.replace(short, expanded or short)
    return html.unescape(text).strip()


def _replied_to(tweet: dict[str, Any]) -> str | None:
    for ref in tweet.get("referenced_tweets") or []:
        if ref.get("type") == "replied_to":
            return str(ref.get("id"))
    return None


def _media_count(tweet: dict[str, Any]) -> int:
    return len((tweet.get("attachments") or {}).get("media_keys") or [])


class XAdapter(PlatformAdapter):
    platform = "x"
    option_names = frozenset({"thread", "reply_settings"})
    uses_oauth = True

    def __init__(self, http: httpx.AsyncClient, app: PlatformApp) -> None:
        self._http = http
        self._app = app
        self._api = XApi(http, app)

    def validate(
        self, request: PublishRequest, limits: ServerLimits = DOCUMENTED_LIMITS
    ) -> list[ValidationProblem]:
        return validate_request(request)

    # -- publishing ---------------------------------------------------------------------------

    async def publish(self, account: AccountContext, request: PublishRequest) -> PublishedPost:
        body: dict[str, Any] = {"text": request.text}
        if request.media:
            body["media"] = {
                "media_ids": [await upload(self._api, account, item) for item in request.media]
            }
        reply_settings = request.options.get("reply_settings")
        if isinstance(reply_settings, str) and reply_settings:
            body["reply_settings"] = reply_settings
        try:
            head = await self._create(account, body)
        except Duplicate:
            # An earlier attempt got through: that Tweet is this post.
            since = datetime.now(UTC) - DUPLICATE_LOOKBACK
            found = await self.find_existing(account, request, since)
            if found is None:
                raise
            return found
        replies = await self._continue_thread(account, head, request.thread, [])
        return self._published(account, head, datetime.now(UTC), replies)

    async def _create(self, account: AccountContext, body: dict[str, Any]) -> str:
        created = await self._api.call(account, "POST", "/2/tweets", json=body)
        return str(created["data"]["id"])

    async def _continue_thread(
        self,
        account: AccountContext,
        head: str,
        parts: list[str],
        known: list[dict[str, Any]],
    ) -> tuple[str, ...]:
        """Each part a reply to the one before; parts already among `known` are reused."""
        previous = head
        made: list[str] = []
        for part in parts:
            existing = self._reply_in(known, previous, part)
            if existing is None:
                try:
                    existing = await self._create(
                        account, {"text": part, "reply": {"in_reply_to_tweet_id": previous}}
                    )
                except Duplicate:
                    known = await self._timeline(account, {"since_id": previous})
                    existing = self._reply_in(known, previous, part)
                    if existing is None:
                        raise
            made.append(existing)
            previous = existing
        return tuple(made)

    @staticmethod
    def _reply_in(tweets: list[dict[str, Any]], parent: str, text: str) -> str | None:
        wanted = _canonical(text)
        for tweet in tweets:
            if _replied_to(tweet) == parent and _canonical(tweet_text(tweet)) == wanted:
                return str(tweet["id"])
        return None

    @staticmethod
    def _published(
        account: AccountContext, tweet_id: str, at: datetime | None, replies: tuple[str, ...]
    ) -> PublishedPost:
        return PublishedPost(
            platform_post_id=tweet_id,
            url=TWEET_URL.format(username=account.username, id=tweet_id),
            published_at=at,
            extra_post_ids=replies,
        )

    # -- finding and listing ------------------------------------------------------------------

    async def find_existing(
        self, account: AccountContext, request: PublishRequest, since: datetime
    ) -> PublishedPost | None:
        """The head Tweet by its text and media count among the account's Tweets since
        `since`; thread parts that never got made are added now."""
        cutoff = since - FIND_EXISTING_SLACK
        tweets = await self._timeline(account, {}, stop_before=cutoff)
        wanted = _canonical(request.text)
        for tweet in reversed(tweets):  # oldest first: the first attempt's Tweet wins
            created = parse_timestamp(tweet.get("created_at"))
            if created is None or created < cutoff or _replied_to(tweet) is not None:
                continue
            if _media_count(tweet) != len(request.media):
                continue
            if _canonical(tweet_text(tweet)) != wanted:
                continue
            head = str(tweet["id"])
            replies = await self._continue_thread(account, head, request.thread, tweets)
            return self._published(account, head, created, replies)
        return None

    async def _timeline(
        self,
        account: AccountContext,
        params: dict[str, str],
        stop_before: datetime | None = None,
        pages: int = PAGES,
        page_size: int = PAGE,
    ) -> list[dict[str, Any]]:
        """The account's Tweets, newest first, each with its `media` from the includes."""
        user_id = await self._user_id(account)
        query: dict[str, Any] = {**TIMELINE_FIELDS, "max_results": page_size, **params}
        found: list[dict[str, Any]] = []
        for _ in range(pages):
            answer = await self._api.call(
                account, "GET", f"/2/users/{user_id}/tweets", params=query
            )
            media = {
                str(m.get("media_key")): m
                for m in (answer.get("includes") or {}).get("media") or []
                if isinstance(m, dict)
            }
            tweets = [t for t in answer.get("data") or [] if isinstance(t, dict)]
            for tweet in tweets:
                keys = (tweet.get("attachments") or {}).get("media_keys") or []
                tweet["media"] = [media[k] for k in keys if k in media]
            found += tweets
            oldest = parse_timestamp(tweets[-1].get("created_at")) if tweets else None
            token = (answer.get("meta") or {}).get("next_token")
            if not token or (stop_before and oldest and oldest < stop_before):
                break
            query["pagination_token"] = token
        return found

    async def list_recent(
        self, account: AccountContext, after: str | None, limit: int
    ) -> list[SourcePost]:
        if limit <= 0:
            return []
        params = {"exclude": "replies,retweets"}
        if after:
            tweets = await self._timeline(account, {**params, "since_id": after})
            posts = sorted((self._source(account, t) for t in tweets), key=_order)
            return posts[:limit]  # the ones just newer than the cursor
        size = min(max(limit, 5), PAGE)  # X takes 5 to 100
        tweets = await self._timeline(account, params, pages=1, page_size=size)
        posts = sorted((self._source(account, t) for t in tweets), key=_order)
        return posts[-limit:]

    def _source(self, account: AccountContext, tweet: dict[str, Any]) -> SourcePost:
        media = tweet.get("media") or []
        types = {str(m.get("type")) for m in media}
        refs = {str(r.get("type")) for r in tweet.get("referenced_tweets") or []}
        if "quoted" in refs:
            kind = "quote"
        elif types & {"video", "animated_gif"}:
            kind = "video"
        elif media or _media_count(tweet):
            kind = "image"
        else:
            kind = "text"
        text = tweet_text(tweet)
        tags = (tweet.get("entities") or {}).get("hashtags")
        if isinstance(tags, list):
            hashtags = tuple(str(t.get("tag", "")).lower() for t in tags if isinstance(t, dict))
        else:
            hashtags = tuple(t.lower() for t in _HASHTAG.findall(text))
        urls = []
        for item in media:
            variants = [v for v in item.get("variants") or [] if v.get("url")]
            url = item.get("url") or (variants[0]["url"] if variants else None)
            url = url or item.get("preview_image_url")
            if url:
                urls.append(str(url))
        tweet_id = str(tweet["id"])
        return SourcePost(
            id=tweet_id,
            created_at=parse_timestamp(tweet.get("created_at")) or datetime.now(UTC),
            text=text,
            kind=kind,
            hashtags=hashtags,
            url=TWEET_URL.format(username=account.username, id=tweet_id),
            media_urls=tuple(urls),
        )

    # -- account ------------------------------------------------------------------------------

    async def _user_id(self, account: AccountContext) -> str:
        return account.platform_account_id or (await self.verify(account)).platform_account_id

    async def verify(self, account: AccountContext) -> AccountIdentity:
        answer = await self._api.call(
            account, "GET", "/2/users/me", params={"user.fields": "profile_image_url"}
        )
        me = answer.get("data") or {}
        if not me.get("id"):
            raise Rejected("X did not say who this token belongs to")
        return AccountIdentity(
            platform_account_id=str(me["id"]),
            username=str(me.get("username") or me["id"]),
            display_name=me.get("name") or None,
            avatar_url=me.get("profile_image_url") or None,
        )

    async def delete(self, account: AccountContext, platform_post_id: str) -> None:
        """The Tweet and its thread: the account's replies chained under it, newest first.
        Deviation from a plain delete: a reply the user added to the thread by hand on X is
        part of that chain and goes too."""
        newer = await self._timeline(account, {"since_id": platform_post_id})
        chain = {platform_post_id}
        for tweet in reversed(newer):  # oldest first, so parents come before their replies
            if _replied_to(tweet) in chain:
                chain.add(str(tweet["id"]))
        ordered = sorted(chain - {platform_post_id}, key=int, reverse=True)
        for tweet_id in [*ordered, platform_post_id]:
            try:
                await self._api.call(account, "DELETE", f"/2/tweets/{tweet_id}")
            except Rejected as err:
                if err.status != 404:
                    raise
                # Already gone (deleted on X, or by an earlier attempt): nothing to do.

    async def fetch_metrics(self, account: AccountContext, platform_post_id: str) -> Metrics:
        """The Tweet's ``public_metrics``: impressions, likes, replies, reposts, bookmarks."""
        answer = await self._api.call(
            account,
            "GET",
            f"/2/tweets/{platform_post_id}",
            params={"tweet.fields": "public_metrics"},
        )
        tweet = answer.get("data")
        if not isinstance(tweet, dict):
            errors = answer.get("errors") or [{}]
            raise Rejected(str(errors[0].get("detail") or "the Tweet was not found"), status=404)
        raw = tweet.get("public_metrics") or {}
        return metrics_of(
            raw,
            impressions=count(raw.get("impression_count")),
            likes=count(raw.get("like_count")),
            comments=count(raw.get("reply_count")),
            shares=count(raw.get("retweet_count")),
            saves=count(raw.get("bookmark_count")),
        )

    async def fetch_account_metrics(self, account: AccountContext) -> Metrics:
        answer = await self._api.call(
            account, "GET", "/2/users/me", params={"user.fields": "public_metrics"}
        )
        raw = (answer.get("data") or {}).get("public_metrics") or {}
        return metrics_of(raw, followers=count(raw.get("followers_count")))

    # -- OAuth --------------------------------------------------------------------------------

    def authorization_url(self, start: OAuthStart) -> str:
        if not self._app.authorize_url or not self._app.client_id:
            raise Rejected("no X app is configured (client id and authorize URL)")
        query = {
            "response_type": "code",
            "client_id": self._app.client_id,
            "redirect_uri": start.redirect_uri,
            "scope": " ".join(start.scopes or SCOPES),
            "state": start.state,
            "code_challenge": start.code_challenge,
            "code_challenge_method": "S256",
        }
        return f"{self._app.authorize_url}?{urlencode(query, quote_via=quote)}"

    async def exchange_code(self, code: str, code_verifier: str, redirect_uri: str) -> OAuthGrant:
        answer = await self._token(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "code_verifier": code_verifier,
            },
            refreshing=False,
        )
        return self._grant({}, answer)

    async def refresh(self, account: AccountContext) -> OAuthGrant:
        refresh_token = account.credentials.get("refresh_token")
        if not refresh_token:
            raise AuthExpired("X issued no refresh token for this account; connect it again")
        answer = await self._token(
            {"grant_type": "refresh_token", "refresh_token": str(refresh_token)},
            refreshing=True,
        )
        return self._grant(account.credentials, answer)

    @staticmethod
    def _grant(old: dict[str, Any], answer: dict[str, Any]) -> OAuthGrant:
        if not isinstance(answer.get("access_token"), str):
            raise Rejected("X's token endpoint answered without an access token")
        credentials = {**old, "access_token": answer["access_token"]}
        if isinstance(answer.get("refresh_token"), str):
            credentials["refresh_token"] = answer["refresh_token"]
        return OAuthGrant(credentials, expires_after(answer.get("expires_in")))

    async def _token(self, form: dict[str, str], *, refreshing: bool) -> dict[str, Any]:
        """The token endpoint, with the client authenticated by HTTP Basic."""
        app = self._app
        if not app.token_url or not app.client_id or not app.client_secret:
            raise Rejected("no X app is configured (client id, secret and token URL)")
        auth = httpx.BasicAuth(app.client_id, app.client_secret)
        return await token_request(
            self._http, app.token_url, classify, refreshing=refreshing, data=form, auth=auth
        )


def _order(post: SourcePost) -> tuple[int, str]:
    return (int(post.id) if post.id.isdigit() else 0, post.id)
