"""Mirror activity: poll the source account after the stored cursor, record every source post
once (the unique key guards restarts and overlapping polls), filter, create the copies."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.heartbeat import heartbeating
from herald.crypto import CredentialCipher
from herald.db.engine import SessionFactory
from herald.db.models import Mirror, MirrorPost, SocialAccount
from herald.db.types import utcnow
from herald.errors import HeraldError
from herald.mirroring import filter_reason
from herald.payloads import MirrorInput, MirrorPoll, StartedPost
from herald.posts.creation import create_post
from herald.posts.platform_checks import PlatformRules
from herald.principal import ActorType, Principal
from herald.schemas.mirrors import MirrorPostOut
from herald.schemas.posts import PostCreate, TargetIn
from herald.services.events import record_event
from herald.status import AccountStatus, Origin
from platforms.base import AccountContext, PlatformAdapter, PlatformError, SourcePost
from platforms.registry import AdapterRegistry

log = logging.getLogger(__name__)
PAGE = 40
BACKFILL_DEFAULT_LIMIT = 20


class MirrorActivities:
    def __init__(
        self, sessions: SessionFactory, adapters: AdapterRegistry, cipher: CredentialCipher
    ) -> None:
        self._sessions = sessions
        self._adapters = adapters
        self._cipher = cipher
        self._rules = PlatformRules(adapters, cipher)

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
            platform, cursor = source.platform, mirror.cursor
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
                    made = await self._mirror_one(session, mirror, post)
                    if made is not None:
                        started.append(made)
            if seen:
                mirror.cursor = seen[-1].id
            elif mirror.cursor is None:
                mirror.cursor = ""  # the source has no posts yet: everything later is new
            mirror.last_checked = utcnow()
        return MirrorPoll(started=started)

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
        self, session: AsyncSession, mirror: Mirror, post: SourcePost
    ) -> StartedPost | None:
        record = MirrorPost(
            mirror_id=mirror.id,
            source_post_id=post.id,
            source_created_at=post.created_at,
            detected_status="detected",
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
        started = await self._decide(session, mirror, post, record)
        data = MirrorPostOut.of(record, None, None).model_dump(mode="json")
        record_event(
            session,
            mirror.workspace_id,
            "mirror.post_detected",
            "mirror",
            mirror.id,
            {"mirror_id": str(mirror.id), **data},
        )
        return started

    async def _decide(
        self, session: AsyncSession, mirror: Mirror, post: SourcePost, record: MirrorPost
    ) -> StartedPost | None:
        """Filtered out, failed, or a post created for the targets (then started)."""
        reason = filter_reason(mirror.settings, post)
        if reason is not None:
            record.detected_status, record.reason = "filtered_out", reason
            return None
        now = utcnow()
        delay = int(mirror.settings.get("delay_minutes") or 0)
        timing: dict[str, object]
        if mirror.settings.get("use_queue"):
            timing = {"queue": True}
        elif delay > 0:
            timing = {"scheduled_at": now + timedelta(minutes=delay)}
        else:
            timing = {"publish_now": True}
        actor = Principal(
            mirror.workspace_id, ActorType.API_KEY, f"mirror:{mirror.id}", frozenset()
        )
        try:
            body = PostCreate.model_validate(
                {
                    "content": post.text,
                    "targets": [
                        TargetIn(account_id=uuid.UUID(a)) for a in mirror.target_account_ids
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
        return StartedPost(
            post_id=str(created.id),
            workspace_id=str(created.workspace_id),
            platforms=sorted({t.platform for t in created.targets}),
        )
