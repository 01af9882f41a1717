"""Bluesky (any AT Protocol PDS): app-password sessions, app.bsky.feed.post records with
rich-text facets, images and video as blobs, threads as replies with strong refs.

Everything on the path of connecting, publishing, finding and listing is answered by the PDS
itself (com.atproto.*): a PDS without an AppView (a small community's, a test network's)
refuses every app.bsky.* read with UpstreamFailure, and on the real network the AppView lags
the PDS by its indexing delay, the worst moment for a duplicate check. Only post metrics come
from the AppView (app.bsky.feed.getPosts), and say NotAvailable where there is none.

At-most-once: every record key is a TID derived from the idempotency key, the thread part's
index and the time the publish began (the same on every attempt), so a createRecord re-sent
after a lost answer collides with the record the first one made (the PDS answers 500) instead
of posting twice; the adapter then reads the record at that key and carries on.
`find_existing` looks the head up by its key the same way. The key's time is the publish's
own, so the record sorts where it belongs when the account's repository is listed by key.

Video goes up with com.atproto.repo.uploadBlob and is embedded as app.bsky.embed.video. The
Bluesky app uses the video service (video.bsky.app uploadVideo with a service-auth token)
instead, which transcodes before the post is made; the direct upload is the documented
alternative and the one this adapter uses.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
from PIL import Image

from platforms.base import (
    DOCUMENTED_LIMITS,
    AccountContext,
    AccountIdentity,
    MediaItem,
    NotAvailable,
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
from platforms.bluesky_text import (
    find_links,
    find_mentions,
    find_tags,
    grapheme_count,
    hashtags_of,
    legacy_record_key,
    record_key,
    tid_time,
)
from platforms.bluesky_xrpc import Session, SessionInfo, Xrpc, classify, service_url
from platforms.http import parsed
from platforms.matching import parse_timestamp
from platforms.metrics import Metrics, count, metrics_of

POST = "app.bsky.feed.post"
PROFILE = "app.bsky.actor.profile"
MAX_GRAPHEMES = 300
MAX_TEXT_BYTES = 3000
MAX_IMAGES = 4
MAX_LANGS = 3
APP_URL = "https://bsky.app"
RECORDS_PAGE = 100
# How many pages of records list_recent looks through at most (replies are skipped).
MAX_RECORD_PAGES = 10
# How far before the cursor's key list_recent looks again for posts that landed after it.
LATE_KEY_WINDOW = timedelta(hours=1)
# How many record keys a part may take (the next ones only when another publish's record
# holds the first).
KEY_ALTERNATES = 3
# What an XRPC server says when the AppView it would proxy app.bsky.* to is missing.
NO_APPVIEW_ERRORS = frozenset({"UpstreamFailure", "MethodNotImplemented"})


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


def _aspect_ratio(data: bytes) -> dict[str, int] | None:
    """Width and height from the image header (optional in the lexicon; clients use it to
    lay the post out before the image loads)."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
    except (OSError, ValueError, Image.DecompressionBombError):
        return None  # not an image Pillow reads: the ratio is optional, the upload goes on
    return {"width": width, "height": height} if width > 0 and height > 0 else None


class BlueskyAdapter(PlatformAdapter):
    platform = "bluesky"
    option_names = frozenset({"thread", "language"})

    def __init__(self, http: httpx.AsyncClient) -> None:
        self._xrpc = Xrpc(http)

    # -- validation -----------------------------------------------------------------------

    def validate(
        self, request: PublishRequest, limits: ServerLimits = DOCUMENTED_LIMITS
    ) -> list[ValidationProblem]:
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
        for alternate in range(KEY_ALTERNATES):
            rkey = _record_key(request, part, alternate)
            body = {"repo": session.did, "collection": POST, "rkey": rkey, "record": record}
            try:
                created = await self._xrpc.call(
                    account, "POST", "com.atproto.repo.createRecord", json=body
                )
            except (Rejected, Transient):
                # A record already at this key makes the PDS refuse the write, with a bare
                # 500. It is ours (an earlier attempt whose answer was lost) if it says what
                # we write; else another publish that began in the same millisecond holds the
                # key, and the next one is ours.
                found = await self._record(account, session.did, POST, rkey)
                if found is None:
                    raise
                if _says(found, text):
                    return _ref(found)
                continue
            return StrongRef(str(created["uri"]), str(created["cid"]))
        raise Rejected(
            "every record key this post may use holds another post", "RecordKeysTaken", 409
        )

    async def _find_part(
        self, account: AccountContext, did: str, request: PublishRequest, part: int, text: str
    ) -> StrongRef | None:
        """The part an earlier attempt made, at one of the keys it may have used."""
        for alternate in range(KEY_ALTERNATES):
            found = await self._record(account, did, POST, _record_key(request, part, alternate))
            if found is not None and _says(found, text):
                return _ref(found)
        return None

    async def _record(
        self, account: AccountContext, did: str, collection: str, rkey: str
    ) -> dict[str, Any] | None:
        """com.atproto.repo.getRecord: `{uri, cid, value}`, or None if nothing is there."""
        try:
            found: dict[str, Any] = await self._xrpc.call(
                account,
                "GET",
                "com.atproto.repo.getRecord",
                params={"repo": did, "collection": collection, "rkey": rkey},
            )
        except Rejected as err:
            if err.code == "RecordNotFound" or err.status == 404:
                return None
            raise
        return found

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
            # Images are small (a megabyte at most): read once, for the header and the upload.
            data = await item.content.read()
            image: dict[str, Any] = {
                "alt": item.description or "",
                "image": await self._upload(account, item, data),
            }
            ratio = _aspect_ratio(data)
            if ratio is not None:
                image["aspectRatio"] = ratio
            images.append(image)
        return {"$type": "app.bsky.embed.images", "images": images}

    async def _upload(
        self, account: AccountContext, item: MediaItem, data: bytes | None = None
    ) -> dict[str, Any]:
        """`data`: the bytes, when already read; otherwise they stream from the content."""
        uploaded = await self._xrpc.call(
            account,
            "POST",
            "com.atproto.repo.uploadBlob",
            content=data if data is not None else item.content.body(),
            content_type=item.mime_type,
        )
        blob: dict[str, Any] = uploaded["blob"]
        return blob

    # -- finding, listing, deleting -------------------------------------------------------

    async def find_existing(
        self, account: AccountContext, request: PublishRequest, since: datetime
    ) -> PublishedPost | None:
        """The head at its record key, read from the PDS (authoritative: no indexing lag).
        Thread parts still missing are added, so an interrupted thread is completed rather
        than started again. A publish begun before keys carried its start time is found at
        the key it used then."""
        session = await self._xrpc.session(account)
        head = await self._find_part(account, session.did, request, 0, request.text)
        if head is None and request.started_at is not None:
            legacy = replace(request, started_at=None)
            head = await self._find_part(account, session.did, legacy, 0, request.text)
            if head is not None:
                request = legacy  # its parts sit at keys of the same kind
        if head is None:
            return None
        replies = await self._publish_thread(account, session, request, head)
        return PublishedPost(
            platform_post_id=head.uri,
            url=post_url(session.handle, head.uri),
            extra_post_ids=tuple(r.uri for r in replies),
        )

    async def list_recent(
        self, account: AccountContext, after: str | None, limit: int
    ) -> list[SourcePost]:
        """Top-level posts (no replies; reposts are records of another collection), oldest
        first, read from the account's repository on the PDS. The cursor is the AT URI of
        the newest post seen before. Records are listed by key, a TID that says when the
        post was made, so what comes after the cursor's key is newer, even if the cursor
        post was deleted meanwhile. A key is chosen by the writer, though: one whose publish
        began before the cursor post but landed after it (Herald names a record by the time
        its publish began) sorts behind the cursor, so the hour of keys before it is read
        again for posts made after it, and those come first, then the cursor post itself
        (to keep the cursor where it was), then the newer ones."""
        session = await self._xrpc.session(account)
        pds = session.pds_url or service_url(account)
        if not after:
            newest = await self._top_level(account, session, limit, None, lambda _: True)
            return [self._source(r, session, pds) for r in reversed(newest)]
        key = _split_uri(after)[2]
        records = await self._top_level(account, session, limit, key, lambda _: True)
        late_room = (limit - 2) // 2  # the cursor post and one newer post always fit
        cursor_time = tid_time(key)
        if late_room > 0 and cursor_time is not None:
            cursor = await self._record(account, session.did, POST, key)
            late = await self._landed_late(account, session, key, cursor, cursor_time, late_room)
            records = [*late, *([cursor] if cursor and late else []), *records][:limit]
        return [self._source(r, session, pds) for r in records]

    async def _landed_late(
        self,
        account: AccountContext,
        session: Session,
        key: str,
        cursor: dict[str, Any] | None,
        cursor_time: datetime,
        limit: int,
    ) -> list[dict[str, Any]]:
        """Top-level posts keyed within LATE_KEY_WINDOW before `key` but made after the
        cursor post (by their createdAt), oldest key first."""
        made_after = _created_at(cursor) if cursor else None
        made_after = made_after or cursor_time
        floor = cursor_time - LATE_KEY_WINDOW

        def landed_late(record: dict[str, Any]) -> bool:
            created = _created_at(record)
            return created is not None and created > made_after

        def below_floor(record: dict[str, Any]) -> bool:
            made = tid_time(_split_uri(str(record["uri"]))[2])
            return made is not None and made < floor

        found = await self._top_level(
            account, session, limit, key, landed_late, newer=False, stop=below_floor
        )
        return list(reversed(found))

    async def _top_level(
        self,
        account: AccountContext,
        session: Session,
        limit: int,
        key: str | None,
        wanted: Callable[[dict[str, Any]], bool],
        *,
        newer: bool = True,
        stop: Callable[[dict[str, Any]], bool] = lambda _: False,
    ) -> list[dict[str, Any]]:
        """Up to `limit` wanted top-level post records, in the order read: after the key
        `key` oldest first (`newer`), before it newest first, or without a key the newest,
        newest first; reading ends at the first record that `stop`s it."""
        params: dict[str, Any] = {"repo": session.did, "collection": POST, "limit": RECORDS_PAGE}
        if key is not None:
            params["cursor"] = key
            if newer:
                params["reverse"] = "true"
        found: list[dict[str, Any]] = []
        for _ in range(MAX_RECORD_PAGES):
            page = await self._xrpc.call(
                account, "GET", "com.atproto.repo.listRecords", params=params
            )
            records = [r for r in page.get("records") or [] if _is_record(r)]
            for record in records:
                if stop(record):
                    return found
                if not record["value"].get("reply") and wanted(record):
                    found.append(record)
                    if len(found) >= limit:
                        return found
            cursor = page.get("cursor")
            if not records or not isinstance(cursor, str) or not cursor:
                break
            params["cursor"] = cursor
        return found

    def _source(self, record: dict[str, Any], session: Session, pds: str) -> SourcePost:
        """A post record as mirrors see it; `pds` serves the account's blobs."""
        value: dict[str, Any] = record["value"]
        uri = str(record["uri"])
        raw_embed = value.get("embed")
        embed: dict[str, Any] = raw_embed if isinstance(raw_embed, dict) else {}
        embed_type = str(embed.get("$type") or "")
        media = embed.get("media") if "recordWithMedia" in embed_type else embed
        media = media if isinstance(media, dict) else {}
        media_type = str(media.get("$type") or "")
        if embed_type in ("app.bsky.embed.record", "app.bsky.embed.recordWithMedia"):
            kind = "quote"
        elif media_type.startswith("app.bsky.embed.video"):
            kind = "video"
        elif media_type.startswith("app.bsky.embed.images"):
            kind = "image"
        else:
            kind = "text"
        created = _created_at(record) or tid_time(_split_uri(uri)[2]) or _epoch()
        carried = self._media(pds, session.did, media)
        return SourcePost(
            id=uri,
            created_at=created,
            text=_text_with_links(value, media),
            kind=kind,
            hashtags=self._hashtags(value),
            url=post_url(session.handle, uri),
            media_urls=tuple(m.url for m in carried),
            media=carried,
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
    def _media(pds: str, did: str, media: dict[str, Any]) -> tuple[SourceMedia, ...]:
        """The original blobs, from the PDS that holds them (the AppView's image CDN and
        video playlists may not exist, and a playlist cannot be re-uploaded elsewhere), each
        with the MIME type its blob ref declares and its alt text."""
        media_type = str(media.get("$type") or "")
        if media_type.startswith("app.bsky.embed.images"):
            items = [
                (i.get("image"), i.get("alt"), "image/*")
                for i in media.get("images") or []
                if isinstance(i, dict)
            ]
        elif media_type.startswith("app.bsky.embed.video"):
            items = [(media.get("video"), media.get("alt"), "video/mp4")]
        else:
            return ()
        found = []
        for blob, alt, fallback in items:
            cid = _blob_cid(blob)
            if cid is None:
                continue
            declared = blob.get("mimeType") if isinstance(blob, dict) else None
            found.append(
                SourceMedia(
                    url=_blob_url(pds, did, cid),
                    mime_type=declared if isinstance(declared, str) and declared else fallback,
                    alt=(alt.strip() or None) if isinstance(alt, str) else None,
                )
            )
        return tuple(found)

    async def delete(self, account: AccountContext, platform_post_id: str) -> None:
        """The one record; deleting what is already gone is a no-op on the PDS. (Thread parts
        are records of their own: Herald deletes each of them the same way.)"""
        did, collection, rkey = _split_uri(platform_post_id)
        await self._xrpc.call(
            account,
            "POST",
            "com.atproto.repo.deleteRecord",
            json={"repo": did, "collection": collection, "rkey": rkey},
        )

    # -- the account ----------------------------------------------------------------------

    async def verify(self, account: AccountContext) -> AccountIdentity:
        """Who the app password signs in as, from the PDS: a fresh session, checked with
        getSession, and the display name and avatar of the account's own profile record."""
        session = await self._xrpc.new_session(account)
        who = parsed(
            SessionInfo,
            await self._xrpc.call(account, "GET", "com.atproto.server.getSession"),
            "getSession",
        )
        did = who.did
        profile = await self._profile(account, did)
        avatar = _blob_cid(profile.get("avatar"))
        pds = session.pds_url or service_url(account)
        return AccountIdentity(
            platform_account_id=did,
            username=who.handle or did,
            display_name=str(profile.get("displayName") or "").strip() or None,
            avatar_url=_blob_url(pds, did, avatar) if avatar else None,
        )

    async def _profile(self, account: AccountContext, did: str) -> dict[str, Any]:
        """The app.bsky.actor.profile record (at key "self"); {} for an account without one."""
        found = await self._record(account, did, PROFILE, "self")
        value = (found or {}).get("value")
        return value if isinstance(value, dict) else {}

    async def fetch_metrics(self, account: AccountContext, platform_post_id: str) -> Metrics:
        """The AppView's postView counts; Bluesky reports no views, reach or clicks."""
        found = await self._appview(account, "app.bsky.feed.getPosts", {"uris": [platform_post_id]})
        posts = found.get("posts") or []
        if not posts:
            raise Rejected(f"no Bluesky post {platform_post_id}", "NotFound", 404)
        post = posts[0]
        names = ("likeCount", "repostCount", "replyCount", "quoteCount", "bookmarkCount")
        raw = {name: post.get(name) for name in names}
        return metrics_of(
            raw,
            likes=count(raw["likeCount"]),
            shares=count(raw["repostCount"]),
            comments=count(raw["replyCount"]),
            saves=count(raw["bookmarkCount"]),
        )

    async def fetch_account_metrics(self, account: AccountContext) -> Metrics:
        actor = account.platform_account_id or account.username
        profile = await self._appview(account, "app.bsky.actor.getProfile", {"actor": actor})
        raw = {n: profile.get(n) for n in ("followersCount", "followsCount", "postsCount")}
        return metrics_of(raw, followers=count(raw["followersCount"]))

    async def _appview(
        self, account: AccountContext, method: str, params: dict[str, Any]
    ) -> dict[str, Any]:
        """An AppView read through the PDS; NotAvailable where the server has no AppView."""
        try:
            answer: dict[str, Any] = await self._xrpc.call(account, "GET", method, params=params)
        except Transient as err:
            if err.code in NO_APPVIEW_ERRORS:
                raise NotAvailable(
                    "post metrics are not available on this server: it has no AppView",
                    err.code,
                    err.status,
                ) from err
            raise
        return answer


def _record_key(request: PublishRequest, part: int, alternate: int) -> str:
    if request.started_at is None:
        seed = request.idempotency_key
        return legacy_record_key(seed if alternate == 0 else f"{seed}#alternate-{alternate}", part)
    return record_key(request.idempotency_key, part, request.started_at, alternate)


def _says(record: dict[str, Any], text: str) -> bool:
    """Whether a post record holds this text: ours, if it sits at one of our keys."""
    return bool(record["value"].get("text") == text)


def _ref(record: dict[str, Any]) -> StrongRef:
    return StrongRef(str(record["uri"]), str(record["cid"]))


def _text_with_links(value: dict[str, Any], media: dict[str, Any]) -> str:
    """The text with each link as its facet names it (the Bluesky app shows a long link
    shortened, "example.com/a-long-pa...", and keeps the whole URI in the facet), and the
    link of a card (app.bsky.embed.external) at the end when the text does not have it."""
    data = str(value.get("text") or "").encode()
    links: list[tuple[int, int, str]] = []
    for facet in value.get("facets") or []:
        index = facet.get("index") if isinstance(facet, dict) else None
        if not isinstance(index, dict):
            continue
        start, end = index.get("byteStart"), index.get("byteEnd")
        uris = [
            f.get("uri")
            for f in facet.get("features") or []
            if isinstance(f, dict) and str(f.get("$type", "")).endswith("#link")
        ]
        if isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(data):
            links += [(start, end, uri) for uri in uris[:1] if isinstance(uri, str) and uri]
    expanded, position = bytearray(), 0
    for start, end, uri in sorted(links):
        if start >= position:  # overlapping facets: the first one counts
            expanded += data[position:start] + uri.encode()
            position = end
    text = (expanded + data[position:]).decode(errors="replace")
    card = media.get("external") if str(media.get("$type")) == "app.bsky.embed.external" else None
    link = card.get("uri") if isinstance(card, dict) else None
    if isinstance(link, str) and link and link not in text:
        text = f"{text}\n\n{link}" if text else link
    return text


def _created_at(record: dict[str, Any]) -> datetime | None:
    return parse_timestamp(record["value"].get("createdAt"))


def _is_record(item: Any) -> bool:
    return isinstance(item, dict) and isinstance(item.get("value"), dict) and "uri" in item


def _blob_cid(blob: Any) -> str | None:
    """A blob ref's CID: `{"$type": "blob", "ref": {"$link": cid}}`, or the legacy
    `{"cid": cid, "mimeType": ...}` older records carry."""
    if not isinstance(blob, dict):
        return None
    ref = blob.get("ref")
    link = ref.get("$link") if isinstance(ref, dict) else None
    cid = link or blob.get("cid")
    return cid if isinstance(cid, str) and cid else None


def _blob_url(pds: str, did: str, cid: str) -> str:
    return f"{pds}/xrpc/com.atproto.sync.getBlob?{urlencode({'did': did, 'cid': cid})}"


def _epoch() -> datetime:
    return datetime.fromtimestamp(0, UTC)


__all__ = ["BlueskyAdapter", "grapheme_count", "post_url", "service_url"]
