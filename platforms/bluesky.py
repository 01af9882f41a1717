"""Bluesky (any AT Protocol PDS): app-password sessions, app.bsky.feed.post records with
rich-text facets, images and video as blobs, threads as replies with strong refs.

At-most-once: every record key is a TID derived from the idempotency key (and the thread
part's index), so a createRecord re-sent after a lost answer collides with the record the
first one made (the PDS answers 500) instead of posting twice; the adapter then reads the
record at that key and carries on. `find_existing` looks the root up by its key the same way,
and falls back to matching the text among the account's posts since the first attempt.

Video goes up with com.atproto.repo.uploadBlob and is embedded as app.bsky.embed.video. The
Bluesky app uses the video service (video.bsky.app uploadVideo with a service-auth token)
instead, which transcodes before the post is made; the direct upload is the documented
alternative and the one this adapter uses.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import httpx
from PIL import Image

from platforms.base import (
    AccountContext,
    AccountIdentity,
    MediaItem,
    PlatformAdapter,
    PublishedPost,
    PublishRequest,
    Rejected,
    SourcePost,
    Transient,
    ValidationProblem,
)
from platforms.bluesky_text import (
    find_links,
    find_mentions,
    find_tags,
    grapheme_count,
    hashtags_of,
    is_derived_tid,
    tid_for,
    tid_time,
)
from platforms.bluesky_xrpc import Session, Xrpc, classify, service_url
from platforms.matching import FIND_EXISTING_SLACK, normalised, parse_timestamp

POST = "app.bsky.feed.post"
MAX_GRAPHEMES = 300
MAX_TEXT_BYTES = 3000
MAX_IMAGES = 4
MAX_LANGS = 3
APP_URL = "https://bsky.app"
FEED_PAGE = 100
# How many feed pages list_recent, find_existing and delete look through at most.
MAX_FEED_PAGES = 10


@dataclass(frozen=True)
class StrongRef:
    uri: str
    cid: str

    def json(self) -> dict[str, str]:
        return {"uri": self.uri, "cid": self.cid}


def _split_uri(uri: str) -> tuple[str, str, str]:
    """at://<did>/<collection>/<rkey> → its three parts; Rejected if it is not one."""
    parts = uri.removeprefix("at://").split("/") if uri.startswith("at://") else []
    if len(parts) != 3 or not all(parts):
        raise Rejected(f"{uri!r} is not an AT URI of a record", "InvalidRequest", 400)
    return parts[0], parts[1], parts[2]


def post_url(handle: str, uri: str) -> str:
    return f"{APP_URL}/profile/{handle}/post/{_split_uri(uri)[2]}"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _sort_time(post: dict[str, Any]) -> datetime | None:
    """The AppView orders author feeds by the earlier of createdAt and indexedAt."""
    record = post.get("record") or {}
    times = [t for t in map(parse_timestamp, (record.get("createdAt"), post.get("indexedAt"))) if t]
    return min(times) if times else None


def _aspect_ratio(item: MediaItem) -> dict[str, int] | None:
    """Width and height from the image header (optional in the lexicon; clients use it to
    lay the post out before the image loads)."""
    try:
        with Image.open(io.BytesIO(item.data)) as image:
            width, height = image.size
    except (OSError, ValueError, Image.DecompressionBombError):
        return None  # not an image Pillow reads: the ratio is optional, the upload goes on
    return {"width": width, "height": height} if width > 0 and height > 0 else None


def _media_kind(media: list[MediaItem]) -> str:
    kinds = {item.mime_type.split("/")[0] for item in media}
    return "video" if "video" in kinds else "image" if media else "text"


class BlueskyAdapter(PlatformAdapter):
    platform = "bluesky"

    def __init__(self, http: httpx.AsyncClient) -> None:
        self._xrpc = Xrpc(http)

    # -- validation -----------------------------------------------------------------------

    def validate(self, request: PublishRequest) -> list[ValidationProblem]:
        problems: list[ValidationProblem] = []
        if not request.text.strip() and not request.media:
            problems.append(ValidationProblem("empty", "Bluesky needs text or media", "content"))
        problems += self._text_problems(request.text, "content")
        raw_thread = request.options.get("thread")
        if isinstance(raw_thread, list):
            for index, part in enumerate(raw_thread):
                text = part.get("text") if isinstance(part, dict) else part
                if isinstance(text, str):
                    problems += self._text_problems(text, f"options.thread.{index}")
        problems += self._media_problems(request.media)
        language = request.options.get("language")
        if language is not None and not isinstance(language, str | list):
            problems.append(
                ValidationProblem(
                    "invalid_language", "language is a BCP 47 tag", "options.language"
                )
            )
        return problems

    @staticmethod
    def _text_problems(text: str, path: str) -> list[ValidationProblem]:
        length = grapheme_count(text)
        if length > MAX_GRAPHEMES:
            return [
                ValidationProblem(
                    "text_too_long",
                    f"{length} characters; Bluesky allows {MAX_GRAPHEMES}",
                    path,
                )
            ]
        if len(text.encode()) > MAX_TEXT_BYTES:
            return [
                ValidationProblem(
                    "text_too_long", f"Bluesky allows {MAX_TEXT_BYTES} bytes of text", path
                )
            ]
        return []

    @staticmethod
    def _media_problems(media: list[MediaItem]) -> list[ValidationProblem]:
        problems: list[ValidationProblem] = []
        videos = [m for m in media if m.mime_type.startswith("video/")]
        images = [m for m in media if m.mime_type.startswith("image/")]
        for index, item in enumerate(media):
            if not item.mime_type.startswith("image/") and item.mime_type != "video/mp4":
                problems.append(
                    ValidationProblem(
                        "unsupported_media",
                        f"Bluesky takes images and MP4 video, not {item.mime_type}",
                        f"media_ids.{index}",
                    )
                )
        if videos and images:
            problems.append(
                ValidationProblem(
                    "video_with_other_media",
                    "Bluesky takes one video alone, not with images",
                    "media_ids",
                )
            )
        elif len(videos) > 1:
            problems.append(
                ValidationProblem("too_many_media", "Bluesky takes one video per post", "media_ids")
            )
        if len(images) > MAX_IMAGES:
            problems.append(
                ValidationProblem(
                    "too_many_media", f"Bluesky allows {MAX_IMAGES} images", "media_ids"
                )
            )
        return problems

    # -- publishing -----------------------------------------------------------------------

    async def publish(self, account: AccountContext, request: PublishRequest) -> PublishedPost:
        session = await self._xrpc.session(account)
        embed = await self._embed(account, request.media) if request.media else None
        root = await self._create_post(account, session, request, 0, request.text, embed, None)
        replies = await self._publish_thread(account, session, request, root)
        return PublishedPost(
            platform_post_id=root.uri,
            url=post_url(session.handle, root.uri),
            published_at=datetime.now(UTC),
            extra_post_ids=tuple(r.uri for r in replies),
        )

    async def _publish_thread(
        self, account: AccountContext, session: Session, request: PublishRequest, root: StrongRef
    ) -> list[StrongRef]:
        """Each part a reply to the one before; all name the head as root. Parts made by an
        earlier attempt are found at their keys rather than made again."""
        parent = root
        replies: list[StrongRef] = []
        for index, text in enumerate(request.thread, start=1):
            reply = {"root": root.json(), "parent": parent.json()}
            parent = await self._create_post(account, session, request, index, text, None, reply)
            replies.append(parent)
        return replies

    async def _create_post(
        self,
        account: AccountContext,
        session: Session,
        request: PublishRequest,
        part: int,
        text: str,
        embed: dict[str, Any] | None,
        reply: dict[str, Any] | None,
    ) -> StrongRef:
        rkey = tid_for(f"{request.idempotency_key}#{part}")
        record: dict[str, Any] = {"$type": POST, "text": text, "createdAt": _now()}
        facets = await self._facets(account, text)
        if facets:
            record["facets"] = facets
        langs = self._langs(request.options)
        if langs:
            record["langs"] = langs
        if embed is not None:
            record["embed"] = embed
        if reply is not None:
            record["reply"] = reply
        body = {"repo": session.did, "collection": POST, "rkey": rkey, "record": record}
        try:
            created = await self._xrpc.call(
                account, "POST", "com.atproto.repo.createRecord", json=body
            )
        except (Rejected, Transient):
            # A record already at this key (made by an earlier attempt whose answer was lost)
            # makes the PDS refuse the write, with a bare 500: that record is ours.
            found = await self._get_record(account, session.did, rkey)
            if found is None:
                raise
            return found
        return StrongRef(str(created["uri"]), str(created["cid"]))

    async def _get_record(self, account: AccountContext, did: str, rkey: str) -> StrongRef | None:
        try:
            found = await self._xrpc.call(
                account,
                "GET",
                "com.atproto.repo.getRecord",
                params={"repo": did, "collection": POST, "rkey": rkey},
            )
        except Rejected as err:
            if err.code == "RecordNotFound" or err.status == 404:
                return None
            raise
        return StrongRef(str(found["uri"]), str(found["cid"]))

    @staticmethod
    def _langs(options: dict[str, Any]) -> list[str]:
        language = options.get("language")
        if isinstance(language, str) and language.strip():
            return [language.strip()]
        if isinstance(language, list):
            return [str(tag) for tag in language if isinstance(tag, str)][:MAX_LANGS]
        return []

    async def _facets(self, account: AccountContext, text: str) -> list[dict[str, Any]]:
        facets: list[dict[str, Any]] = []
        for span in find_links(text):
            feature = {"$type": "app.bsky.richtext.facet#link", "uri": span.value}
            facets.append(self._facet(span.byte_start, span.byte_end, feature))
        dids: dict[str, str | None] = {}
        for span in find_mentions(text):
            if span.value not in dids:
                dids[span.value] = await self._resolve_handle(account, span.value)
            did = dids[span.value]
            if did is not None:  # an unknown handle stays plain text, as in the app
                feature = {"$type": "app.bsky.richtext.facet#mention", "did": did}
                facets.append(self._facet(span.byte_start, span.byte_end, feature))
        for span in find_tags(text):
            feature = {"$type": "app.bsky.richtext.facet#tag", "tag": span.value}
            facets.append(self._facet(span.byte_start, span.byte_end, feature))
        return sorted(facets, key=lambda f: int(f["index"]["byteStart"]))

    @staticmethod
    def _facet(start: int, end: int, feature: dict[str, str]) -> dict[str, Any]:
        return {"index": {"byteStart": start, "byteEnd": end}, "features": [feature]}

    async def _resolve_handle(self, account: AccountContext, handle: str) -> str | None:
        response = await self._xrpc.public(
            account, "com.atproto.identity.resolveHandle", {"handle": handle}
        )
        if response.status_code >= 500 or response.status_code == 429:
            raise classify(response)
        if not response.is_success:
            return None
        did = response.json().get("did")
        return did if isinstance(did, str) and did.startswith("did:") else None

    async def _embed(self, account: AccountContext, media: list[MediaItem]) -> dict[str, Any]:
        videos = [m for m in media if m.mime_type.startswith("video/")]
        if videos:
            item = videos[0]
            embed: dict[str, Any] = {
                "$type": "app.bsky.embed.video",
                "video": await self._upload(account, item),
            }
            if item.description:
                embed["alt"] = item.description
            return embed
        images = []
        for item in media:
            image: dict[str, Any] = {
                "alt": item.description or "",
                "image": await self._upload(account, item),
            }
            ratio = _aspect_ratio(item)
            if ratio is not None:
                image["aspectRatio"] = ratio
            images.append(image)
        return {"$type": "app.bsky.embed.images", "images": images}

    async def _upload(self, account: AccountContext, item: MediaItem) -> dict[str, Any]:
        uploaded = await self._xrpc.call(
            account,
            "POST",
            "com.atproto.repo.uploadBlob",
            content=item.data,
            content_type=item.mime_type,
        )
        blob: dict[str, Any] = uploaded["blob"]
        return blob

    # -- finding, listing, deleting -------------------------------------------------------

    async def find_existing(
        self, account: AccountContext, request: PublishRequest, since: datetime
    ) -> PublishedPost | None:
        """The root at its deterministic key, else a post since `since` with the same text
        and kind of media. Thread parts still missing are added, so an interrupted thread is
        completed rather than started again."""
        session = await self._xrpc.session(account)
        root = await self._get_record(account, session.did, tid_for(f"{request.idempotency_key}#0"))
        if root is None:
            root = await self._match_by_text(account, session, request, since)
        if root is None:
            return None
        replies = await self._publish_thread(account, session, request, root)
        return PublishedPost(
            platform_post_id=root.uri,
            url=post_url(session.handle, root.uri),
            extra_post_ids=tuple(r.uri for r in replies),
        )

    async def _match_by_text(
        self, account: AccountContext, session: Session, request: PublishRequest, since: datetime
    ) -> StrongRef | None:
        wanted = (normalised(request.text), _media_kind(request.media))
        cutoff = since - FIND_EXISTING_SLACK
        cursor: str | None = None
        for _ in range(MAX_FEED_PAGES):
            items, cursor = await self._feed(account, session.did, cursor, "posts_no_replies")
            for item in items:
                post = item["post"]
                when = _sort_time(post)
                if when is not None and when < cutoff:
                    return None  # newest first: nothing older can be ours
                if item.get("reason") or (post.get("author") or {}).get("did") != session.did:
                    continue
                if is_derived_tid(_split_uri(str(post["uri"]))[2]):
                    continue  # another Herald publish (ours would be at our own key)
                source = self._source(post, session, "")
                kind = "text" if source.kind == "quote" else source.kind
                if (normalised(source.text), kind) == wanted:
                    return StrongRef(str(post["uri"]), str(post["cid"]))
            if not cursor or not items:
                return None
        return None

    async def _feed(
        self, account: AccountContext, did: str, cursor: str | None, feed_filter: str
    ) -> tuple[list[dict[str, Any]], str | None]:
        params: dict[str, Any] = {"actor": did, "limit": FEED_PAGE, "filter": feed_filter}
        if cursor:
            params["cursor"] = cursor
        page = await self._xrpc.call(account, "GET", "app.bsky.feed.getAuthorFeed", params=params)
        items = [i for i in page.get("feed") or [] if isinstance(i, dict) and "post" in i]
        next_cursor = page.get("cursor")
        return items, next_cursor if isinstance(next_cursor, str) and next_cursor else None

    async def list_recent(
        self, account: AccountContext, after: str | None, limit: int
    ) -> list[SourcePost]:
        """Top-level posts (no replies, no reposts), oldest first. The cursor is the AT URI
        of the newest post seen before: the feed is read newest first until that post (or,
        if it was deleted meanwhile, the time its key names) comes up."""
        session = await self._xrpc.session(account)
        stop_uri, stop_time = None, None
        if after:
            stop_uri = after
            stop_time = await self._post_time(account, after)
        newer: list[dict[str, Any]] = []
        cursor: str | None = None
        for _ in range(MAX_FEED_PAGES):
            items, cursor = await self._feed(account, session.did, cursor, "posts_no_replies")
            reached = False
            for item in items:
                post = item["post"]
                if post.get("uri") == stop_uri:
                    reached = True
                    break
                when = _sort_time(post)
                if stop_time is not None and when is not None and when < stop_time:
                    reached = True
                    break
                if item.get("reason") or (post.get("author") or {}).get("did") != session.did:
                    continue
                newer.append(post)
            if reached or not cursor or not items or (after is None and len(newer) >= limit):
                break
        if after is None:
            newer = newer[:limit]
        pds = session.pds_url or service_url(account)
        oldest_first = [self._source(p, session, pds) for p in reversed(newer)]
        return oldest_first[:limit]

    async def _post_time(self, account: AccountContext, uri: str) -> datetime | None:
        """When the cursor post sits in the feed; for a deleted one, the time its TID names."""
        found = await self._xrpc.call(
            account, "GET", "app.bsky.feed.getPosts", params={"uris": [uri]}
        )
        posts = found.get("posts") or []
        if posts:
            return _sort_time(posts[0])
        try:
            return tid_time(_split_uri(uri)[2])
        except Rejected:
            return None

    def _source(self, post: dict[str, Any], session: Session, pds: str) -> SourcePost:
        """A feed post as mirrors see it; `pds` serves the account's blobs."""
        record = post.get("record") or {}
        embed = post.get("embed") or {}
        kind_of_view = str(embed.get("$type") or "")
        media_view = embed.get("media") or {} if "recordWithMedia" in kind_of_view else embed
        if kind_of_view.startswith(("app.bsky.embed.record#", "app.bsky.embed.recordWithMedia")):
            kind = "quote"
        elif str(media_view.get("$type") or "").startswith("app.bsky.embed.video"):
            kind = "video"
        elif str(media_view.get("$type") or "").startswith("app.bsky.embed.images"):
            kind = "image"
        else:
            kind = "text"
        author = post.get("author") or {}
        handle = str(author.get("handle") or session.handle)
        created = (
            parse_timestamp(record.get("createdAt"))
            or parse_timestamp(post.get("indexedAt"))
            or _epoch()
        )
        return SourcePost(
            id=str(post["uri"]),
            created_at=created,
            text=str(record.get("text") or ""),
            kind=kind,
            hashtags=self._hashtags(record),
            url=post_url(handle, str(post["uri"])),
            media_urls=self._media_urls(pds, str(author.get("did")), record, media_view),
        )

    @staticmethod
    def _hashtags(record: dict[str, Any]) -> tuple[str, ...]:
        """Tag facets and the record's own `tags`; text without facets (some clients write
        none) is read for #tags instead."""
        tags: list[str] = []
        facets = record.get("facets")
        if isinstance(facets, list):
            for facet in facets:
                for feature in (facet or {}).get("features") or []:
                    if str(feature.get("$type", "")).endswith("#tag") and feature.get("tag"):
                        tags.append(str(feature["tag"]).lower())
        else:
            tags += hashtags_of(str(record.get("text") or ""))
        tags += [str(t).lower() for t in record.get("tags") or [] if isinstance(t, str)]
        return tuple(dict.fromkeys(tags))

    @staticmethod
    def _media_urls(
        pds: str, did: str, record: dict[str, Any], view: dict[str, Any]
    ) -> tuple[str, ...]:
        """Images: the AppView's full-size URLs. Video: the original blob from the PDS (the
        view only offers an HLS playlist, which cannot be re-uploaded elsewhere)."""
        view_type = str(view.get("$type") or "")
        if view_type.startswith("app.bsky.embed.images"):
            return tuple(str(i["fullsize"]) for i in view.get("images") or [] if i.get("fullsize"))
        if view_type.startswith("app.bsky.embed.video"):
            embed = record.get("embed") or {}
            video = (embed.get("media") or embed).get("video") or {}
            link = (video.get("ref") or {}).get("$link") or video.get("cid")
            if isinstance(link, str):
                query = urlencode({"did": did, "cid": link})
                return (f"{pds}/xrpc/com.atproto.sync.getBlob?{query}",)
        return ()

    async def delete(self, account: AccountContext, platform_post_id: str) -> None:
        """The post and the thread parts the account replied under it (found in its feed);
        deleting what is already gone is a no-op on the PDS."""
        _split_uri(platform_post_id)  # refuse what is not an AT URI before any call
        session = await self._xrpc.session(account)
        parts = await self._own_replies(account, session, platform_post_id)
        for uri in [*reversed(parts), platform_post_id]:
            part_did, part_collection, part_rkey = _split_uri(uri)
            await self._xrpc.call(
                account,
                "POST",
                "com.atproto.repo.deleteRecord",
                json={"repo": part_did, "collection": part_collection, "rkey": part_rkey},
            )

    async def _own_replies(
        self, account: AccountContext, session: Session, root_uri: str
    ) -> list[str]:
        """The account's replies in the thread under `root_uri`, oldest first."""
        found: list[str] = []
        cursor: str | None = None
        for _ in range(MAX_FEED_PAGES):
            items, cursor = await self._feed(account, session.did, cursor, "posts_with_replies")
            for item in items:
                post = item["post"]
                root = ((post.get("record") or {}).get("reply") or {}).get("root") or {}
                if root.get("uri") == root_uri and post["uri"].startswith(f"at://{session.did}/"):
                    found.append(str(post["uri"]))
                if post.get("uri") == root_uri:
                    return list(reversed(found))  # nothing older can reply to it
            if not cursor or not items:
                break
        return list(reversed(found))

    # -- the account ----------------------------------------------------------------------

    async def verify(self, account: AccountContext) -> AccountIdentity:
        session = await self._xrpc.new_session(account)
        profile = await self._xrpc.call(
            account, "GET", "app.bsky.actor.getProfile", params={"actor": session.did}
        )
        return AccountIdentity(
            platform_account_id=session.did,
            username=str(profile.get("handle") or session.handle),
            display_name=profile.get("displayName") or None,
            avatar_url=profile.get("avatar") or None,
        )

    async def fetch_metrics(self, account: AccountContext, platform_post_id: str) -> dict[str, int]:
        found = await self._xrpc.call(
            account, "GET", "app.bsky.feed.getPosts", params={"uris": [platform_post_id]}
        )
        posts = found.get("posts") or []
        if not posts:
            raise Rejected(f"no Bluesky post {platform_post_id}", "NotFound", 404)
        post = posts[0]
        names = {
            "likes": "likeCount",
            "reposts": "repostCount",
            "replies": "replyCount",
            "quotes": "quoteCount",
        }
        return {name: int(post.get(field) or 0) for name, field in names.items()}


def _epoch() -> datetime:
    return datetime.fromtimestamp(0, UTC)


__all__ = ["BlueskyAdapter", "grapheme_count", "post_url", "service_url"]
