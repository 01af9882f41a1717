"""Mastodon (and compatible servers): statuses with Idempotency-Key, per-account instance URL;
threads (`options.thread`) as replies, each part after the one before (`in_reply_to_id`)."""

from __future__ import annotations

import asyncio
import html
import re
from dataclasses import replace
from datetime import datetime
from typing import Any

import httpx

from platforms.base import (
    DOCUMENTED_LIMITS,
    AccountContext,
    AccountIdentity,
    MediaItem,
    PlatformAdapter,
    PublishedPost,
    PublishRequest,
    Rejected,
    ServerLimits,
    SourceMedia,
    SourcePost,
    Transient,
    ValidationProblem,
)
from platforms.http import classify_response, json_object, send, transport_error
from platforms.mastodon_instance import InstanceLimits
from platforms.matching import FIND_EXISTING_SLACK, normalised
from platforms.metrics import Metrics, count, metrics_of
from platforms.multipart import StreamedForm

DEFAULT_MAX_CHARACTERS = 500
CHARACTERS_PER_URL = 23
MAX_MEDIA = 4
MEDIA_POLL_FIRST_S = 0.5
MEDIA_PROCESSING_LIMIT_S = 60.0

_URL = re.compile(r"https?://[^\s]+")
_REMOTE_MENTION = re.compile(r"(@[A-Za-z0-9_]+)@[A-Za-z0-9.\-]+[A-Za-z0-9]")
_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
_PARAGRAPH = re.compile(r"</p>\s*<p>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]+>")


def count_characters(text: str, characters_per_url: int = CHARACTERS_PER_URL) -> int:
    """Length as Mastodon counts it: any URL is 23 characters (or what the instance reserves),
    remote mentions drop the domain."""
    text = _URL.sub("x" * characters_per_url, text)
    text = _REMOTE_MENTION.sub(r"\1", text)
    return len(text)


def html_to_text(content: str) -> str:
    text = _PARAGRAPH.sub("\n\n", content)
    text = _BREAK.sub("\n", text)
    return html.unescape(_TAG.sub("", text))


def _error_message(response: httpx.Response) -> str:
    error = (json_object(response) or {}).get("error")
    return error if isinstance(error, str) else f"HTTP {response.status_code}"


class MastodonAdapter(PlatformAdapter):
    platform = "mastodon"
    option_names = frozenset({"thread", "visibility", "spoiler_text", "language"})

    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http
        self._instances = InstanceLimits(http)

    def validate(
        self, request: PublishRequest, limits: ServerLimits = DOCUMENTED_LIMITS
    ) -> list[ValidationProblem]:
        problems: list[ValidationProblem] = []
        if not request.text.strip() and not request.media:
            problems.append(ValidationProblem("empty", "Mastodon needs text or media", "content"))
        # The content warning counts toward the limit with the text (StatusLengthValidator).
        spoiler = request.options.get("spoiler_text")
        warning = len(spoiler) if isinstance(spoiler, str) else 0
        problems += _length_problems(request.text, "content", limits, warning)
        for index, part in enumerate(request.thread):
            problems += _length_problems(part, f"options.thread.{index}", limits, warning)
        kinds = {item.mime_type.split("/")[0] for item in request.media}
        if "video" in kinds and len(request.media) > 1:
            problems.append(
                ValidationProblem(
                    "video_with_other_media",
                    "Mastodon takes one video alone, not with other attachments",
                    "media_ids",
                )
            )
        most = limits.max_media or MAX_MEDIA
        if len(request.media) > most:
            problems.append(
                ValidationProblem(
                    "too_many_media", f"this instance allows {most} attachments", "media_ids"
                )
            )
        for index, item in enumerate(request.media):
            problems += _media_problems(item, limits, f"media_ids.{index}")
        return problems

    async def server_limits(self, account: AccountContext) -> ServerLimits:
        return await self._instances.of(str(account.credentials["instance_url"]))

    async def publish(self, account: AccountContext, request: PublishRequest) -> PublishedPost:
        body = _status_body(request.text, request.options)
        if request.media:
            body["media_ids"] = [await self._upload(account, item) for item in request.media]
        status = await self._call(
            account,
            "POST",
            "/api/v1/statuses",
            json=body,
            headers={"Idempotency-Key": request.idempotency_key},
        )
        return await self._with_thread(account, request, status)

    async def _with_thread(
        self, account: AccountContext, request: PublishRequest, head: dict[str, Any]
    ) -> PublishedPost:
        """The thread's other parts, each a reply to the one before. Each part has its own
        Idempotency-Key, so an attempt after a lost answer gets back the part already made
        (Mastodon keeps a key for an hour) instead of posting it again."""
        previous = str(head["id"])
        replies = []
        for index, part in enumerate(request.thread, start=1):
            body = {**_status_body(part, request.options), "in_reply_to_id": previous}
            status = await self._call(
                account,
                "POST",
                "/api/v1/statuses",
                json=body,
                headers={"Idempotency-Key": f"{request.idempotency_key}/part/{index}"},
            )
            previous = str(status["id"])
            replies.append(previous)
        published = self._published(head)
        return replace(published, extra_post_ids=tuple(replies))

    async def find_existing(
        self, account: AccountContext, request: PublishRequest, since: datetime
    ) -> PublishedPost | None:
        account_id = account.platform_account_id
        if not account_id:
            me = await self._call(account, "GET", "/api/v1/accounts/verify_credentials")
            account_id = str(me["id"])
        statuses = await self._call(
            account, "GET", f"/api/v1/accounts/{account_id}/statuses", params={"limit": 40}
        )
        wanted = normalised(request.text)
        cutoff = since - FIND_EXISTING_SLACK
        for status in statuses:
            created = datetime.fromisoformat(str(status["created_at"]))
            if created < cutoff:
                break  # newest first: nothing older can be ours
            if status.get("in_reply_to_id") is None and (
                normalised(html_to_text(str(status.get("content") or ""))) == wanted
            ):
                return await self._with_thread(account, request, status)
        return None

    async def list_recent(
        self, account: AccountContext, after: str | None, limit: int
    ) -> list[SourcePost]:
        account_id = account.platform_account_id or str(
            (await self.verify(account)).platform_account_id
        )
        params: dict[str, Any] = {
            "limit": min(limit, 40),
            "exclude_reblogs": "true",
            "exclude_replies": "true",
        }
        if after:
            params["min_id"] = after  # the page just newer than the cursor, not the newest
        statuses = await self._call(
            account, "GET", f"/api/v1/accounts/{account_id}/statuses", params=params
        )
        return sorted((self._source(s) for s in statuses), key=lambda p: (p.created_at, p.id))

    @staticmethod
    def _source(status: dict[str, Any]) -> SourcePost:
        media = status.get("media_attachments") or []
        types = {str(m.get("type")) for m in media}
        if status.get("quote"):
            kind = "quote"
        elif types & {"video", "gifv"}:
            kind = "video"
        elif media:
            kind = "image"
        else:
            kind = "text"
        return SourcePost(
            id=str(status["id"]),
            created_at=datetime.fromisoformat(str(status["created_at"])),
            text=html_to_text(str(status.get("content") or "")).strip(),
            kind=kind,
            hashtags=tuple(str(t.get("name", "")).lower() for t in status.get("tags") or []),
            url=status.get("url"),
            media_urls=tuple(str(m.get("url")) for m in media if m.get("url")),
            media=tuple(
                _source_media(m)
                for m in media
                if m.get("url") and str(m.get("type")) in _MEDIA_TYPES
            ),
        )

    async def verify(self, account: AccountContext) -> AccountIdentity:
        me = await self._call(account, "GET", "/api/v1/accounts/verify_credentials")
        return AccountIdentity(
            platform_account_id=str(me["id"]),
            username=str(me.get("acct") or me["username"]),
            display_name=me.get("display_name") or None,
            avatar_url=me.get("avatar") or None,
        )

    async def delete(self, account: AccountContext, platform_post_id: str) -> None:
        await self._call(account, "DELETE", f"/api/v1/statuses/{platform_post_id}")

    async def fetch_metrics(self, account: AccountContext, platform_post_id: str) -> Metrics:
        """The Status entity's counts; Mastodon reports no views, reach or clicks."""
        status = await self._call(account, "GET", f"/api/v1/statuses/{platform_post_id}")
        raw = {
            name: status.get(name)
            for name in ("favourites_count", "reblogs_count", "replies_count", "quotes_count")
        }
        return metrics_of(
            raw,
            likes=count(raw["favourites_count"]),
            shares=count(raw["reblogs_count"]),
            comments=count(raw["replies_count"]),
        )

    async def fetch_account_metrics(self, account: AccountContext) -> Metrics:
        me = await self._call(account, "GET", "/api/v1/accounts/verify_credentials")
        raw = {n: me.get(n) for n in ("followers_count", "following_count", "statuses_count")}
        return metrics_of(raw, followers=count(raw["followers_count"]))

    async def _upload(self, account: AccountContext, item: MediaItem) -> str:
        """v2 media: 200 when processed at once, 202 then 206 until ready (videos) — and some
        servers answer 200 even for video; both are handled."""
        fields = {"description": item.description} if item.description else {}
        form = StreamedForm(fields, "file", item)  # a video of 99 MB is never read whole
        attachment = await self._call(
            account, "POST", "/api/v2/media", content=form, headers=form.headers
        )
        media_id = str(attachment["id"])
        delay = MEDIA_POLL_FIRST_S
        waited = 0.0
        while attachment.get("url") is None:
            if waited > MEDIA_PROCESSING_LIMIT_S:
                raise Transient(f"the instance is still processing media {media_id}")
            await asyncio.sleep(delay)
            waited += delay
            delay = min(delay * 2, 5.0)
            attachment = await self._call(account, "GET", f"/api/v1/media/{media_id}")
        return media_id

    @staticmethod
    def _published(status: dict[str, Any]) -> PublishedPost:
        created = status.get("created_at")
        return PublishedPost(
            platform_post_id=str(status["id"]),
            url=status.get("url") or status.get("uri"),
            published_at=datetime.fromisoformat(str(created)) if created else None,
        )

    async def _call(self, account: AccountContext, method: str, path: str, **kwargs: Any) -> Any:
        base = str(account.credentials["instance_url"]).rstrip("/")
        headers = {"Authorization": f"Bearer {account.credentials['access_token']}"}
        headers.update(kwargs.pop("headers", {}))
        try:
            response = await send(
                self._http,
                method,
                base + path,
                repeatable=method == "GET",
                headers=headers,
                **kwargs,
            )
        except httpx.InvalidURL as exc:
            raise Rejected(f"the account's instance URL is not usable: {exc}") from exc
        except httpx.HTTPError as exc:
            raise transport_error(exc) from exc
        if response.is_success:
            # 206 Partial Content: media still processing; the body is the attachment so far.
            return response.json()
        raise classify_response(response, _error_message, reset_header="x-ratelimit-reset")


# Attachment types a mirror can carry, as the kind the media import should find: Mastodon
# names the kind only (a gifv is an MP4 without sound); audio and unknown files are not carried.
_MEDIA_TYPES = {"image": "image/*", "gifv": "video/mp4", "video": "video/*"}


def _source_media(attachment: dict[str, Any]) -> SourceMedia:
    """The original file (`url`, not the `preview_url` thumbnail) and its description."""
    description = attachment.get("description")
    return SourceMedia(
        url=str(attachment.get("url")),
        mime_type=_MEDIA_TYPES[str(attachment.get("type"))],
        alt=(description.strip() or None) if isinstance(description, str) else None,
    )


def _status_body(text: str, options: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {"status": text, "visibility": options.get("visibility", "public")}
    if options.get("spoiler_text"):
        body["spoiler_text"] = options["spoiler_text"]
    if options.get("language"):
        body["language"] = options["language"]
    return body


def _length_problems(
    text: str, path: str, limits: ServerLimits, warning: int
) -> list[ValidationProblem]:
    most = limits.max_characters or DEFAULT_MAX_CHARACTERS
    length = count_characters(text, limits.characters_per_url or CHARACTERS_PER_URL) + warning
    if length <= most:
        return []
    counted = " with the content warning" if warning else ""
    message = f"{length} characters{counted}; this instance allows {most}"
    return [ValidationProblem("text_too_long", message, path)]


def _media_problems(item: MediaItem, limits: ServerLimits, path: str) -> list[ValidationProblem]:
    if limits.media_types is not None and item.mime_type not in limits.media_types:
        message = f"this instance does not take {item.mime_type}"
        return [ValidationProblem("media_type_not_supported", message, path)]
    larger = item.mime_type.split("/")[0] in ("video", "audio")
    most = limits.video_size_limit if larger else limits.image_size_limit
    if most is not None and item.size > most:
        message = f"{item.size} bytes; this instance takes files up to {most} bytes"
        return [ValidationProblem("media_too_large", message, path)]
    return []
