"""Mirror activities: poll the source account after the stored cursor, record every source post
once (the unique key guards restarts and overlapping polls), filter, create the copies.

A source post with media to carry is recorded `detected` with a pending media row for each
attachment, and copied only once its media settled (`create_mirrored_post`, after the imports
of its `mirror-post/{id}` workflow): the copy names the imported media, or, if one could not
be imported, no copy is made and the source post is `failed` with the reason (a copy without
its images says something the source did not, cannot take them afterwards without being
deleted, and platforms that need media refuse it anyway)."""

from __future__ import annotations

import logging
import mimetypes
import uuid
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.heartbeat import heartbeating
from herald.crypto import CredentialCipher
from herald.db.engine import SessionFactory
from herald.db.models import Mirror, MirrorPost, Post, SocialAccount
from herald.db.types import utcnow
from herald.errors import HeraldError
from herald.mirroring import carried_media, filter_reason
from herald.payloads import (
    MediaImportInput,
    MirroredPost,
    MirroredPostInput,
    MirrorInput,
    MirrorPoll,
    StartedPost,
)
from herald.posts.creation import create_post
from herald.posts.platform_checks import PlatformRules
from herald.principal import system_principal
from herald.repositories.media import get_media_many
from herald.schemas.mirrors import MirrorPostOut
from herald.schemas.posts import PostCreate, TargetIn
from herald.services.events import record_event
from herald.services.media import mark_failed, pending_import
from herald.status import AccountStatus, MediaStatus, Origin
from herald.storage.base import MediaStorage
from platforms.base import AccountContext, PlatformAdapter, PlatformError, SourcePost
from platforms.registry import AdapterRegistry

log = logging.getLogger(__name__)
PAGE = 40
BACKFILL_DEFAULT_LIMIT = 20
# Source posts still waiting for their media that one poll hands back to the workflow (those
# an interrupted poll recorded but never handed over are found this way).
PENDING_PER_POLL = 50
DETECTED = "detected"


class MirrorActivities:
    def __init__(
        self,
        sessions: SessionFactory,
        adapters: AdapterRegistry,
        cipher: CredentialCipher,
        storage: MediaStorage,
    ) -> None:
        self._sessions = sessions
        self._adapters = adapters
        self._cipher = cipher
        self._rules = PlatformRules(adapters, cipher)
        self._storage = storage

    @activity.defn(name="poll_mirror")
    async def poll_mirror(self, input: MirrorInput) -> MirrorPoll:
        # Heartbeats: a worker killed mid-poll is noticed within the workflow's heartbeat
        # timeout, not after the whole start-to-close timeout.
        async with heartbeating():
            return await self._poll(input)

    async def _poll(self, input: MirrorInput) -> MirrorPoll:
        async with self._sessions() as session:
            mirror = await session.get(Mirror, uuid.UUID(input.mirror_id))
            if mirror is None:
                return MirrorPoll(exists=False, active=False)
            if not mirror.is_active:
                return MirrorPoll(active=False)
            source = await session.get(SocialAccount, mirror.source_account_id)
            if source is None or source.status != AccountStatus.ACTIVE:
                return MirrorPoll(active=True)
            context = self._cipher.context_of(source)
            platform, cursor, brand_id = source.platform, mirror.cursor, source.brand_id
            backfill = cursor is None and mirror.existing_content_enabled
            config = dict(mirror.existing_content_config)
        adapter = self._adapters.get(platform)
        try:
            if cursor is None:
                seen = await adapter.list_recent(
                    context, None, int(config.get("limit") or BACKFILL_DEFAULT_LIMIT)
                )
            else:
                seen = await self._all_after(adapter, context, cursor)
        except PlatformError as err:
            raise ApplicationError(f"polling the source failed: {err.message}") from err
        since = config.get("since")
        started: list[StartedPost] = []
        async with self._sessions() as session, session.begin():
            mirror = await session.get(Mirror, uuid.UUID(input.mirror_id))
            if mirror is None:
                return MirrorPoll(exists=False, active=False)
            for post in seen:
                is_new = cursor is not None
                wanted = (is_new and mirror.future_content_enabled) or (
                    backfill and (not since or post.created_at.isoformat() >= str(since))
                )
                if wanted:
                    made = await self._mirror_one(session, mirror, post, brand_id, platform)
                    if made is not None:
                        started.append(made)
            if seen:
                mirror.cursor = seen[-1].id
            elif mirror.cursor is None:
                mirror.cursor = ""  # the source has no posts yet: everything later is new
            mirror.last_checked = utcnow()
            await session.flush()
            imports = await self._pending_imports(session, mirror)
        return MirrorPoll(started=started, imports=imports)

    @staticmethod
    async def _pending_imports(session: AsyncSession, mirror: Mirror) -> list[MirroredPostInput]:
        """Source posts recorded with media to import and no copy decided yet, oldest first:
        the ones this poll found, and any a poll interrupted after its commit left behind (the
        workflow starts each one's `mirror-post/{id}` workflow once)."""
        records = await session.scalars(
            select(MirrorPost)
            .where(
                MirrorPost.mirror_id == mirror.id,
                MirrorPost.detected_status == DETECTED,
                MirrorPost.post_id.is_(None),
            )
            .order_by(MirrorPost.created_at, MirrorPost.id)
            .limit(PENDING_PER_POLL)
        )
        return [_import_of(record) for record in records]

    @staticmethod
    async def _all_after(
        adapter: PlatformAdapter, context: AccountContext, cursor: str
    ) -> list[SourcePost]:
        posts: list[SourcePost] = []
        after: str | None = cursor or None
        for _ in range(25):  # at most 1,000 new posts per poll; the rest come next time
            page = await adapter.list_recent(context, after, PAGE)
            if not page:
                break
            posts += page
            after = page[-1].id
            if len(page) < PAGE:
                break
        return posts

    async def _mirror_one(
        self,
        session: AsyncSession,
        mirror: Mirror,
        post: SourcePost,
        brand_id: uuid.UUID,
        platform: str,
    ) -> StartedPost | None:
        record = MirrorPost(
            mirror_id=mirror.id,
            source_post_id=post.id,
            source_created_at=post.created_at,
            detected_status=DETECTED,
            platform_metadata={
                "url": post.url,
                "kind": post.kind,
                "hashtags": list(post.hashtags),
                "media_urls": list(post.media_urls),
            },
        )
        try:
            async with session.begin_nested():
                session.add(record)
        except IntegrityError:
            return None  # seen before: mirrored at most once
        reason = filter_reason(mirror.settings, post)
        if reason is not None:
            record.detected_status, record.reason = "filtered_out", reason
            _announce(session, mirror, record)
            return None
        carried = carried_media(mirror.settings, post)
        if carried:
            # Copied once the media settled (create_mirrored_post); the text waits with it.
            now = utcnow()
            rows = [
                pending_import(
                    mirror.workspace_id,
                    brand_id,
                    _filename(platform, index, item.mime_type),
                    now,
                    item.mime_type,
                )
                for index, item in enumerate(carried)
            ]
            session.add_all(rows)
            record.platform_metadata = {
                **record.platform_metadata,
                "text": post.text,
                "media": [
                    {
                        "url": item.url,
                        "mime_type": item.mime_type,
                        "alt": item.alt,
                        "media_id": str(row.id),
                    }
                    for item, row in zip(carried, rows, strict=True)
                ],
            }
            return None
        started = await self._copy(session, mirror, record, post.text, [], {})
        _announce(session, mirror, record)
        return started

    @activity.defn(name="create_mirrored_post")
    async def create_mirrored_post(self, input: MirroredPostInput) -> MirroredPost:
        """The copy of a source post whose media imports ended: made with the media if all
        are ready, else none (the source post failed, saying which media and why). Once only:
        the record, locked, says whether a copy was made before (an attempt whose answer was
        lost), and then the same post is started again (a no-op if it runs)."""
        async with self._sessions() as session, session.begin():
            record = await session.get(
                MirrorPost,
                uuid.UUID(input.mirror_post_id),
                with_for_update=True,
                populate_existing=True,
            )
            mirror = await session.get(Mirror, record.mirror_id) if record else None
            if record is None or mirror is None:
                return MirroredPost()  # the mirror was deleted meanwhile
            if record.post_id is not None:
                post = await session.get(Post, record.post_id)
                return MirroredPost(started=_started(post) if post else None)
            if record.detected_status != DETECTED:
                return MirroredPost()
            wanted = [m for m in record.platform_metadata.get("media") or [] if m.get("media_id")]
            ids = [uuid.UUID(m["media_id"]) for m in wanted]
            found = await get_media_many(session, mirror.workspace_id, ids)
            problems = []
            for index, item in enumerate(wanted):
                media = found.get(ids[index])
                if media is not None and media.status == MediaStatus.PENDING:
                    # Its import gave up (every attempt failed without settling it).
                    await mark_failed(session, self._storage, media, "the import did not finish")
                if media is None or media.status != MediaStatus.READY:
                    why = media.failure_reason if media else "the media was deleted"
                    problems.append(
                        f"media {index + 1} ({item.get('mime_type')} from {item.get('url')}): {why}"
                    )
            if problems:
                record.detected_status = "failed"
                record.reason = (
                    f"{len(problems)} of {len(wanted)} media could not be imported, so no copy "
                    "was made: " + "; ".join(problems)
                )
                _announce(session, mirror, record)
                return MirroredPost()
            descriptions = {m["media_id"]: m["alt"] for m in wanted if m.get("alt")}
            text = str(record.platform_metadata.get("text") or "")
            started = await self._copy(session, mirror, record, text, ids, descriptions)
            _announce(session, mirror, record)
            return MirroredPost(started=started)

    async def _copy(
        self,
        session: AsyncSession,
        mirror: Mirror,
        record: MirrorPost,
        text: str,
        media_ids: list[uuid.UUID],
        descriptions: dict[str, str],
    ) -> StartedPost | None:
        """A post for the targets (then started), or the record failed with the reason."""
        now = utcnow()
        delay = int(mirror.settings.get("delay_minutes") or 0)
        timing: dict[str, object]
        if mirror.settings.get("use_queue"):
            timing = {"queue": True}
        elif delay > 0:
            timing = {"scheduled_at": now + timedelta(minutes=delay)}
        else:
            timing = {"publish_now": True}
        actor = system_principal(mirror.workspace_id, f"mirror:{mirror.id}")
        try:
            options = {"media_descriptions": descriptions} if descriptions else {}
            body = PostCreate.model_validate(
                {
                    "content": text,
                    "media_ids": media_ids,
                    "targets": [
                        TargetIn(account_id=uuid.UUID(a), options=options)
                        for a in mirror.target_account_ids
                    ],
                    **timing,
                }
            )
            async with session.begin_nested():
                created = await create_post(session, actor, self._rules, body, now, Origin.MIRROR)
        except (HeraldError, ValueError) as err:
            record.detected_status = "failed"
            record.reason = getattr(err, "message", str(err))
            return None
        record.detected_status = "auto_scheduled"
        record.post_id = created.id
        record.scheduled_for = created.scheduled_at
        return _started(created)


def _started(post: Post) -> StartedPost:
    return StartedPost(
        post_id=str(post.id),
        workspace_id=str(post.workspace_id),
        platforms=sorted({t.platform for t in post.targets}),
    )


def _announce(session: AsyncSession, mirror: Mirror, record: MirrorPost) -> None:
    """mirror.post_detected, once per source post, when what becomes of it is decided."""
    data = MirrorPostOut.of(record, None, None).model_dump(mode="json")
    record_event(
        session,
        mirror.workspace_id,
        "mirror.post_detected",
        "mirror",
        mirror.id,
        {"mirror_id": str(mirror.id), **data},
    )


def _import_of(record: MirrorPost) -> MirroredPostInput:
    media = [m for m in record.platform_metadata.get("media") or [] if m.get("media_id")]
    return MirroredPostInput(
        mirror_post_id=str(record.id),
        media=[
            MediaImportInput(
                media_id=str(m["media_id"]),
                url=str(m["url"]),
                expected_mime_type=m.get("mime_type"),
            )
            for m in media
        ],
    )


def _filename(platform: str, index: int, mime_type: str) -> str:
    """`bluesky-1.png`: the source's URL names no file (getBlob?did=&cid=)."""
    extension = mimetypes.guess_extension(mime_type) if "*" not in mime_type else None
    return f"{platform}-{index + 1}{extension or ''}"
