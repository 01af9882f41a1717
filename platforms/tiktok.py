"""TikTok: Content Posting API (direct post and inbox upload of videos, photo posts), Display
API (user info, video list) and Login Kit OAuth v2 with PKCE.

Publishing follows developers.tiktok.com: query ``creator_info`` before every post (its
privacy options and maximum video duration decide whether the post can go at all), initialise
the post, send a video in chunks to ``upload_url`` with ``Content-Range`` (photos are pulled by
TikTok from Herald's signed media URLs), then poll ``status/fetch`` with back-off until
``PUBLISH_COMPLETE`` (direct) or ``SEND_TO_USER_INBOX`` (inbox: the creator finishes the post in
the app, so there is no public URL), or ``FAILED`` (Rejected with TikTok's ``fail_reason``).
The post id is the public post id when TikTok gives one (public posts, after moderation), the
``publish_id`` otherwise. Every error answer carries ``{"error": {"code", "message",
"log_id"}}``; a 200 whose ``error.code`` is not ``ok`` is a failure too.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx

from platforms.base import (
    DOCUMENTED_LIMITS,
    AccountContext,
    AccountIdentity,
    AuthExpired,
    MediaItem,
    OAuthGrant,
    OAuthStart,
    PlatformAdapter,
    PlatformApp,
    PlatformError,
    PublishedPost,
    PublishRequest,
    RateLimited,
    Rejected,
    ServerLimits,
    SourcePost,
    Transient,
    ValidationProblem,
)
from platforms.http import json_object, retry_after_seconds, send, transport_error
from platforms.matching import FIND_EXISTING_SLACK, normalised
from platforms.metrics import Metrics, count, metrics_of
from platforms.tiktok_mp4 import mp4_duration_s
from platforms.tiktok_rules import BOOLEAN_OPTIONS, is_video, publish_mode, validate

log = logging.getLogger(__name__)

PRODUCTION_APP = PlatformApp(
    api_url="https://open.tiktokapis.com",
    authorize_url="https://www.tiktok.com/v2/auth/authorize/",
    token_url="https://open.tiktokapis.com/v2/oauth/token/",
)
DEFAULT_SCOPES = ("user.info.basic", "video.publish", "video.upload", "video.list")
MB = 1024 * 1024
# The transfer guide: chunks of 5 to 64 MB, a video under 5 MB in one piece, at most 1000.
MIN_CHUNK = 5 * MB
MAX_CHUNK = 64 * MB
DEFAULT_CHUNK = 64 * MB
VIDEO_TYPES = ("video/mp4", "video/quicktime", "video/webm")
# TikTok documents per-minute windows but no rate-limit headers.
RATE_WINDOW_S = 60.0
POLL_FIRST_S = 0.5
POLL_MAX_S = 8.0
POLL_LIMIT_S = 120.0
LIST_PAGE = 20
LIST_MAX_PAGES = 5
USER_FIELDS = "open_id,union_id,avatar_url,display_name,username"
VIDEO_FIELDS = "id,create_time,share_url,video_description,title,cover_image_url"
METRIC_FIELDS = "id,view_count,like_count,comment_count,share_count"
ACCOUNT_METRIC_FIELDS = "open_id,follower_count,following_count,likes_count,video_count"
_HASHTAG = re.compile(r"#(\w+)")

# POST endpoints that only read: safe to send again after a 5xx or a dropped connection.
READ_PATHS = frozenset(
    {
        "/v2/post/publish/creator_info/query/",
        "/v2/post/publish/status/fetch/",
        "/v2/video/list/",
        "/v2/video/query/",
    }
)


def chunk_plan(size: int, chunk_size: int = DEFAULT_CHUNK) -> list[tuple[int, int]]:
    """(first, last) byte of each chunk: whole under 5 MB or up to ``chunk_size``; otherwise
    ``size // chunk_size`` chunks, the final one carrying the trailing bytes."""
    chunk_size = min(max(chunk_size, MIN_CHUNK), MAX_CHUNK)
    if size <= chunk_size:
        return [(0, size - 1)]
    count = size // chunk_size
    plan = [(i * chunk_size, (i + 1) * chunk_size - 1) for i in range(count - 1)]
    plan.append(((count - 1) * chunk_size, size - 1))
    return plan


def _error_of(response: httpx.Response) -> tuple[str | None, str]:
    """TikTok's (code, message) from an answer, API or OAuth shaped."""
    body = json_object(response)
    if body is not None:
        error = body.get("error")
        if isinstance(error, dict):
            code = error.get("code")
            return (str(code) if code else None), str(error.get("message") or code or "")
        if isinstance(error, str):
            return error, str(body.get("error_description") or error)
    return None, f"HTTP {response.status_code}"


def _classify(response: httpx.Response) -> PlatformError:
    code, message = _error_of(response)
    status = response.status_code
    text = f"{message} ({code})" if code and code not in message else message
    if status == 429 or code == "rate_limit_exceeded":
        return RateLimited(text, retry_after_seconds(response) or RATE_WINDOW_S, code)
    if status == 401 or code == "access_token_invalid":
        return AuthExpired(text, code, status)
    if status >= 500 or status in (408, 425) or code == "internal_error":
        return Transient(text, code, status)
    return Rejected(text, code, status)


@dataclass
class _Publish:
    """A publish TikTok acknowledged: what the next attempt needs to follow it or carry it on
    (kept in the request's `progress`)."""

    publish_id: str
    kind: str  # "video" or "photo": the public URL's path
    size: int = 0  # bytes of a FILE_UPLOAD video
    chunk_size: int = 0  # as declared at init: the chunks must stay the same
    upload_url: str | None = None
    transferred: bool = False

    @classmethod
    def of(cls, saved: dict[str, Any] | None) -> _Publish | None:
        if not saved or not isinstance(saved.get("publish_id"), str):
            return None
        try:
            return cls(**{f.name: saved[f.name] for f in fields(cls) if f.name in saved})
        except TypeError:
            return None  # written by another version: start over rather than guess


class TikTokAdapter(PlatformAdapter):
    """A publish is three steps (init, chunks, status) and TikTok has no idempotency keys, so
    the adapter saves each acknowledged step in the request's ``progress`` (publish_id, upload
    URL, whether every byte went). The next attempt carries on from there: it follows a
    transferred publish's status instead of posting again (at-most-once rests on the
    publish_id), and sends an unfinished upload's remaining chunks to the same upload URL from
    the publish's ``uploaded_bytes``; a publish TikTok failed, or an upload URL that no longer
    takes chunks (they live an hour), is forgotten and the post starts over. Without saved
    progress ``find_existing`` looks for the text among the account's public videos (Display
    API ``video/list``: needs the ``video.list`` scope, lists public posts only) and returns
    None when that finds nothing. A lost answer to a video's init is harmless (that publish
    never gets the bytes); a lost answer to its last chunk is recognised by the publish's
    ``uploaded_bytes``. What stays uncovered, for posts that are private or still in
    moderation: a photo post whose init answer was lost (TikTok pulls the photos itself)."""

    platform = "tiktok"
    option_names = frozenset(
        {
            "privacy_level",
            "publish_mode",
            "title",
            "video_cover_timestamp_ms",
            "photo_cover_index",
            *BOOLEAN_OPTIONS,
        }
    )
    uses_oauth = True

    def __init__(
        self,
        http: httpx.AsyncClient,
        app: PlatformApp,
        *,
        chunk_size: int = DEFAULT_CHUNK,
        poll_limit_s: float = POLL_LIMIT_S,
    ) -> None:
        self._http = http
        self._app = app
        self._chunk_size = chunk_size
        self._poll_limit_s = poll_limit_s

    def validate(
        self, request: PublishRequest, limits: ServerLimits = DOCUMENTED_LIMITS
    ) -> list[ValidationProblem]:
        return validate(request)

    # -- publishing ------------------------------------------------------------------------------

    async def publish(self, account: AccountContext, request: PublishRequest) -> PublishedPost:
        problems = validate(request)
        if problems:
            raise Rejected(problems[0].message, problems[0].code)
        resumed = await self._resume(account, request)
        if resumed is not None:
            return await self._finish(account, request, resumed)
        direct = publish_mode(request.options) == "direct"
        creator = await self._creator_info(account, direct)
        privacy = request.options.get("privacy_level")
        options = creator.get("privacy_level_options") or []
        if direct and privacy not in options:
            raise Rejected(
                f"privacy_level {privacy} is not available to this TikTok account; "
                f"it allows {', '.join(options)}",
                "privacy_level_option_mismatch",
            )
        if is_video(request.media[0]):
            await self._check_duration(request.media[0], creator)
            started = await self._send_video(account, request, creator, direct)
        else:
            started = await self._send_photos(account, request, creator, direct)
        return await self._finish(account, request, started)

    async def _finish(
        self, account: AccountContext, request: PublishRequest, started: _Publish
    ) -> PublishedPost:
        try:
            return await self._outcome(account, started)
        except Rejected:
            await request.progress.save(None)  # TikTok failed it: a retry posts anew
            raise

    async def _resume(self, account: AccountContext, request: PublishRequest) -> _Publish | None:
        """The saved publish, its upload completed, or None to start a new one."""
        saved = _Publish.of(request.progress.saved)
        if saved is None or saved.transferred:
            return saved
        video = request.media[0]
        status = await self._status(account, saved.publish_id)
        uploaded = status.get("uploaded_bytes")
        plan = chunk_plan(saved.size, saved.chunk_size)
        remaining = [(first, last) for first, last in plan if first >= (uploaded or 0)]
        if (
            status.get("status") == "FAILED"
            or saved.upload_url is None
            or video.size != saved.size
            or not isinstance(uploaded, int)
            or (uploaded < saved.size and (not remaining or remaining[0][0] != uploaded))
        ):
            await request.progress.save(None)
            return None
        log.info("tiktok publish %s: resuming its upload at byte %d", saved.publish_id, uploaded)
        try:
            await self._put_chunks(saved.upload_url, request.media[0], remaining)
        except Rejected:
            await request.progress.save(None)  # the upload URL has expired
            return None
        saved.transferred = True
        await request.progress.save(asdict(saved))
        return saved

    async def _creator_info(self, account: AccountContext, direct: bool) -> dict[str, Any]:
        """creator_info needs the video.publish scope; an app that only uploads to the inbox
        (video.upload) cannot read it, and then sends the video unchecked."""
        try:
            return await self._call(account, "POST", "/v2/post/publish/creator_info/query/")
        except AuthExpired as exc:
            if direct or exc.code != "scope_not_authorized":
                raise
            return {}

    @staticmethod
    async def _check_duration(item: MediaItem, creator: dict[str, Any]) -> None:
        longest = creator.get("max_video_post_duration_sec")
        duration = await mp4_duration_s(item.content)
        if isinstance(longest, int) and duration is not None and duration > longest:
            raise Rejected(
                f"the video lasts {duration:.1f} s; this TikTok account can post at most "
                f"{longest} s",
                "video_too_long",
            )

    @staticmethod
    def _interactions(request: PublishRequest, creator: dict[str, Any]) -> dict[str, bool]:
        """The creator's own "No one" settings win over what the post asks for."""
        settings = {
            name: bool(request.options.get(name, False))
            for name in BOOLEAN_OPTIONS
            if name.startswith("disable_")
        }
        for name, disabled in (
            ("disable_comment", "comment_disabled"),
            ("disable_duet", "duet_disabled"),
            ("disable_stitch", "stitch_disabled"),
        ):
            settings[name] = settings[name] or bool(creator.get(disabled))
        return settings

    async def _send_video(
        self,
        account: AccountContext,
        request: PublishRequest,
        creator: dict[str, Any],
        direct: bool,
    ) -> _Publish:
        item = request.media[0]
        plan = chunk_plan(item.size, self._chunk_size)
        body: dict[str, Any] = {
            "source_info": {
                "source": "FILE_UPLOAD",
                "video_size": item.size,
                "chunk_size": plan[0][1] + 1,
                "total_chunk_count": len(plan),
            }
        }
        if direct:
            options = request.options
            interactions = self._interactions(request, creator)
            info: dict[str, Any] = {
                "title": request.text,
                "privacy_level": options["privacy_level"],
                **interactions,
                "brand_content_toggle": bool(options.get("brand_content_toggle", False)),
                "brand_organic_toggle": bool(options.get("brand_organic_toggle", False)),
            }
            if options.get("video_cover_timestamp_ms") is not None:
                info["video_cover_timestamp_ms"] = options["video_cover_timestamp_ms"]
            body["post_info"] = info
        path = "/v2/post/publish/video/init/" if direct else "/v2/post/publish/inbox/video/init/"
        answer = await self._call(account, "POST", path, json=body)
        started = _Publish(
            str(answer["publish_id"]),
            "video",
            item.size,
            plan[0][1] + 1,
            str(answer["upload_url"]),
        )
        await request.progress.save(asdict(started))
        await self._put_chunks(str(started.upload_url), item, plan)
        started.transferred = True
        await request.progress.save(asdict(started))
        return started

    async def _put_chunks(self, url: str, item: MediaItem, chunks: list[tuple[int, int]]) -> None:
        mime = item.mime_type if item.mime_type in VIDEO_TYPES else "video/mp4"
        for first, last in chunks:
            await self._put_chunk(url, item, first, last, mime)

    async def _put_chunk(self, url: str, item: MediaItem, first: int, last: int, mime: str) -> None:
        headers = {
            "Content-Type": mime,
            "Content-Length": str(last + 1 - first),
            "Content-Range": f"bytes {first}-{last}/{item.size}",
        }
        try:
            # Not repeated here: once TikTok has every chunk it refuses the same chunk again, so
            # a lost answer is settled by the next attempt, which knows the publish_id. The
            # chunk streams from storage as it is sent (up to 128 MB, never in memory at once).
            response = await self._http.put(
                url, content=item.content.body(first, last + 1), headers=headers
            )
        except httpx.HTTPError as exc:
            raise transport_error(exc) from exc
        if response.status_code not in (200, 201, 206):
            raise _classify(response)

    async def _send_photos(
        self,
        account: AccountContext,
        request: PublishRequest,
        creator: dict[str, Any],
        direct: bool,
    ) -> _Publish:
        urls = [item.url for item in request.media]
        if any(url is None for url in urls):
            raise Rejected("TikTok pulls photos from URLs, and this media has no URL")
        options = request.options
        info: dict[str, Any] = {
            "title": str(options.get("title") or ""),
            "description": request.text,
            "disable_comment": self._interactions(request, creator)["disable_comment"],
            "brand_content_toggle": bool(options.get("brand_content_toggle", False)),
            "brand_organic_toggle": bool(options.get("brand_organic_toggle", False)),
        }
        if direct:
            info["privacy_level"] = options["privacy_level"]
        body = {
            "media_type": "PHOTO",
            "post_mode": "DIRECT_POST" if direct else "MEDIA_UPLOAD",
            "post_info": info,
            "source_info": {
                "source": "PULL_FROM_URL",
                "photo_cover_index": int(options.get("photo_cover_index") or 0),
                "photo_images": urls,
            },
        }
        answer = await self._call(account, "POST", "/v2/post/publish/content/init/", json=body)
        started = _Publish(str(answer["publish_id"]), "photo", transferred=True)
        await request.progress.save(asdict(started))
        return started

    async def _status(self, account: AccountContext, publish_id: str) -> dict[str, Any]:
        return await self._call(
            account, "POST", "/v2/post/publish/status/fetch/", json={"publish_id": publish_id}
        )

    async def _fully_uploaded(self, account: AccountContext, known: _Publish) -> bool:
        """Whether TikTok got every byte although we never saw the last chunk's answer."""
        status = await self._status(account, known.publish_id)
        uploaded = status.get("uploaded_bytes")
        return (
            status.get("status") != "FAILED"
            and isinstance(uploaded, int)
            and (0 < known.size <= uploaded)
        )

    async def _outcome(self, account: AccountContext, known: _Publish) -> PublishedPost:
        """Polls the publish with back-off until TikTok has decided."""
        delay, waited = POLL_FIRST_S, 0.0
        while True:
            status = await self._status(account, known.publish_id)
            state = status.get("status")
            if state == "PUBLISH_COMPLETE":
                ids = status.get("publicaly_available_post_id") or []
                if ids:
                    post_id = str(ids[0])
                    url = f"https://www.tiktok.com/@{account.username}/{known.kind}/{post_id}"
                    return PublishedPost(post_id, url, datetime.now(UTC))
                return PublishedPost(known.publish_id, None, datetime.now(UTC))
            if state == "SEND_TO_USER_INBOX":
                return PublishedPost(known.publish_id, None, datetime.now(UTC))
            if state == "FAILED":
                reason = str(status.get("fail_reason") or "unknown")
                raise Rejected(f"TikTok could not publish the post: {reason}", reason)
            if waited >= self._poll_limit_s:
                raise Transient(f"TikTok is still processing publish {known.publish_id}")
            await asyncio.sleep(delay)
            waited += delay
            delay = min(delay * 2, POLL_MAX_S)

    # -- lookups ----------------------------------------------------------------------------------

    async def find_existing(
        self, account: AccountContext, request: PublishRequest, since: datetime
    ) -> PublishedPost | None:
        known = _Publish.of(request.progress.saved)
        if known is not None:
            if not known.transferred and not await self._fully_uploaded(account, known):
                return None  # the upload never finished: publish() carries it on
            try:
                return await self._outcome(account, known)
            except Rejected:
                return None  # it failed: nothing was posted
        wanted = normalised(request.text)
        cutoff = since - FIND_EXISTING_SLACK
        try:
            videos = await self._videos(account, stop_at=None, cutoff=cutoff)
        except Rejected:
            return None  # no video.list scope: nothing more to look at
        for video in videos:
            if normalised(str(video.get("video_description") or "")) == wanted:
                created = datetime.fromtimestamp(int(video["create_time"]), UTC)
                return PublishedPost(str(video["id"]), video.get("share_url"), created)
        return None

    async def _videos(
        self, account: AccountContext, stop_at: str | None, cutoff: datetime | None
    ) -> list[dict[str, Any]]:
        """The account's public videos, newest first, down to `stop_at` (excluded) or
        `cutoff`, over at most LIST_MAX_PAGES pages."""
        found: list[dict[str, Any]] = []
        cursor: int | None = None
        for _ in range(LIST_MAX_PAGES):
            body: dict[str, Any] = {"max_count": LIST_PAGE}
            if cursor is not None:
                body["cursor"] = cursor
            page = await self._call(
                account, "POST", "/v2/video/list/", json=body, params={"fields": VIDEO_FIELDS}
            )
            for video in page.get("videos") or []:
                if stop_at is not None and str(video.get("id")) == stop_at:
                    return found
                created = datetime.fromtimestamp(int(video.get("create_time") or 0), UTC)
                if cutoff is not None and created < cutoff:
                    return found
                found.append(video)
            if not page.get("has_more"):
                break
            cursor = int(page["cursor"])
        return found

    async def list_recent(
        self, account: AccountContext, after: str | None, limit: int
    ) -> list[SourcePost]:
        videos = await self._videos(account, stop_at=after, cutoff=None)
        chosen = videos[-limit:] if after else videos[:limit]
        return sorted((self._source(v) for v in chosen), key=lambda p: (p.created_at, p.id))

    @staticmethod
    def _source(video: dict[str, Any]) -> SourcePost:
        text = str(video.get("video_description") or "")
        share = video.get("share_url")
        cover = video.get("cover_image_url")
        return SourcePost(
            id=str(video["id"]),
            created_at=datetime.fromtimestamp(int(video.get("create_time") or 0), UTC),
            text=text,
            kind="image" if share and "/photo/" in str(share) else "video",
            hashtags=tuple(t.lower() for t in _HASHTAG.findall(text)),
            url=share,
            media_urls=(str(cover),) if cover else (),
        )

    async def fetch_metrics(self, account: AccountContext, platform_post_id: str) -> Metrics:
        """Display API ``video/query``: only public posts have an id TikTok can look up.
        ``view_count`` counts plays (video views); TikTok reports no impressions."""
        if "~" in platform_post_id:
            raise Rejected(
                "TikTok reports metrics for public posts only; this one has no public id yet",
                "not_supported",
            )
        data = await self._call(
            account,
            "POST",
            "/v2/video/query/",
            json={"filters": {"video_ids": [platform_post_id]}},
            params={"fields": METRIC_FIELDS},
        )
        videos = [v for v in data.get("videos") or [] if str(v.get("id")) == platform_post_id]
        if not videos:
            raise Rejected(f"TikTok does not list video {platform_post_id}", "not_found")
        raw = {
            n: videos[0].get(n)
            for n in ("view_count", "like_count", "comment_count", "share_count")
        }
        return metrics_of(
            raw,
            video_views=count(raw["view_count"]),
            likes=count(raw["like_count"]),
            comments=count(raw["comment_count"]),
            shares=count(raw["share_count"]),
        )

    async def fetch_account_metrics(self, account: AccountContext) -> Metrics:
        data = await self._call(
            account, "GET", "/v2/user/info/", params={"fields": ACCOUNT_METRIC_FIELDS}
        )
        raw = data.get("user") or {}
        return metrics_of(raw, followers=count(raw.get("follower_count")))

    async def verify(self, account: AccountContext) -> AccountIdentity:
        data = await self._call(account, "GET", "/v2/user/info/", params={"fields": USER_FIELDS})
        user = data.get("user") or {}
        return AccountIdentity(
            platform_account_id=str(user["open_id"]),
            username=str(user.get("username") or user.get("display_name") or user["open_id"]),
            display_name=user.get("display_name") or None,
            avatar_url=user.get("avatar_url") or None,
        )

    async def delete(self, account: AccountContext, platform_post_id: str) -> None:
        raise Rejected(
            "TikTok's API cannot delete posts; delete it in the TikTok app", "not_supported"
        )

    # -- OAuth (Login Kit v2) ---------------------------------------------------------------------

    def authorization_url(self, start: OAuthStart) -> str:
        if not self._app.authorize_url or not self._app.client_id:
            raise Rejected("no TikTok app is configured (client key and authorize URL)")
        query = {
            "client_key": self._app.client_id,
            "scope": ",".join(start.scopes or DEFAULT_SCOPES),
            "redirect_uri": start.redirect_uri,
            "state": start.state,
            "response_type": "code",
            "code_challenge": start.code_challenge,
            "code_challenge_method": "S256",
        }
        return f"{self._app.authorize_url}?{urlencode(query)}"

    async def exchange_code(self, code: str, code_verifier: str, redirect_uri: str) -> OAuthGrant:
        return await self._token(
            {
                "code": code,
                "grant_type": "authorization_code",
                "redirect_uri": redirect_uri,
                "code_verifier": code_verifier,
            },
            refreshing=False,
        )

    async def refresh(self, account: AccountContext) -> OAuthGrant:
        refresh_token = account.credentials.get("refresh_token")
        if not refresh_token:
            raise AuthExpired("the TikTok account has no refresh token; reconnect it")
        return await self._token(
            {"grant_type": "refresh_token", "refresh_token": str(refresh_token)}, refreshing=True
        )

    async def _token(self, form: dict[str, str], refreshing: bool) -> OAuthGrant:
        if not self._app.token_url or not self._app.client_id:
            raise Rejected("no TikTok app is configured (client key and token URL)")
        data = {
            "client_key": self._app.client_id,
            "client_secret": self._app.client_secret or "",
            **form,
        }
        try:
            response = await self._http.post(
                self._app.token_url,
                data=data,
                headers={"Cache-Control": "no-cache"},
            )
        except httpx.HTTPError as exc:
            raise transport_error(exc) from exc
        code, _ = _error_of(response)
        if response.is_success and code is None:
            body = response.json()
            expires_in = body.get("expires_in")
            return OAuthGrant(
                credentials={
                    "access_token": body["access_token"],
                    "refresh_token": body.get("refresh_token"),
                    "open_id": body.get("open_id"),
                    "scope": body.get("scope"),
                },
                expires_at=(
                    datetime.now(UTC) + timedelta(seconds=int(expires_in)) if expires_in else None
                ),
            )
        error = _classify(response)
        if code == "invalid_grant" and refreshing:
            raise AuthExpired(error.message, code, response.status_code)
        if isinstance(error, AuthExpired) and not refreshing:
            raise Rejected(error.message, code, response.status_code)
        raise error

    # -- HTTP -------------------------------------------------------------------------------------

    async def _call(
        self,
        account: AccountContext,
        method: str,
        path: str,
        *,
        json: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {account.credentials['access_token']}"}
        if method == "POST":
            headers["Content-Type"] = "application/json; charset=UTF-8"
        try:
            response = await send(
                self._http,
                method,
                self._app.api_url.rstrip("/") + path,
                repeatable=method == "GET" or path in READ_PATHS,
                headers=headers,
                json=json if json is not None else ({} if method == "POST" else None),
                params=params,
            )
        except httpx.HTTPError as exc:
            raise transport_error(exc) from exc
        code, _ = _error_of(response)
        if response.is_success and code in (None, "ok"):
            body = response.json()
            data = body.get("data") if isinstance(body, dict) else None
            return data if isinstance(data, dict) else {}
        raise _classify(response)
