"""Post activities: load the plan, publish one target through its adapter, record outcomes.

Publishing is at most once per target: the stored state is checked first, the platform gets the
idempotency key `post/{post_id}/target/{target_id}`, and before any call that follows an earlier
attempt whose outcome is unknown, the adapter looks for the post it may already have made.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.heartbeat import heartbeating
from herald.crypto import CredentialCipher
from herald.db.engine import SessionFactory
from herald.db.models import Post, PostTarget, SocialAccount, Workspace
from herald.db.types import utcnow
from herald.payloads import (
    ApprovalChange,
    PostPlan,
    PostWorkflowInput,
    PublishBatch,
    PublishTargetInput,
    ScheduleChange,
    ScheduleChangeKind,
    StartPublishing,
    TargetFailure,
    TargetOutcome,
    TargetRef,
)
from herald.repositories.media import get_media_many
from herald.repositories.posts import (
    get_post_for_execution,
    get_target_for_publishing,
    lock_target_and_post,
)
from herald.schemas.posts import PostOut
from herald.services.account_tokens import refresh_account_tokens
from herald.services.events import record_event
from herald.services.post_actions import release_queue_slots
from herald.services.post_state import refresh_status
from herald.services.target_outcomes import store_outcome
from herald.status import (
    WAITING_TARGET_STATES,
    AccountStatus,
    ApprovalStatus,
    PostPhase,
    PostStatus,
    TargetStatus,
)
from herald.storage.base import MediaStorage
from platforms.base import (
    AccountContext,
    AuthExpired,
    MediaItem,
    PlatformAdapter,
    PlatformError,
    PublishedPost,
    PublishRequest,
    RateLimited,
    Rejected,
    request_from,
)
from platforms.registry import AdapterRegistry

log = logging.getLogger(__name__)

# Long enough for a platform that fetches media by URL to finish processing it.
MEDIA_URL_LIFETIME = timedelta(hours=6)

# Error codes users see on a target, by error class.
RATE_LIMITED = "rate_limited"
PLATFORM_UNAVAILABLE = "platform_unavailable"
AUTH_EXPIRED = "auth_expired"
REJECTED = "rejected"
ACCOUNT_INACTIVE = "account_inactive"


# What publishing a target needs: its platform, the account, the content, and since when an
# earlier attempt may already have posted it (None: nothing can have reached the platform).
Claimed = tuple[str, AccountContext, PublishRequest, datetime | None]


def _time_of(post: Post, target: PostTarget) -> datetime | None:
    return target.scheduled_at or post.scheduled_at


def _waiting_targets(post: Post, target_ids: list[str] | None) -> list[PostTarget]:
    wanted = set(target_ids) if target_ids is not None else None
    return [
        t
        for t in post.targets
        if t.status in WAITING_TARGET_STATES and (wanted is None or str(t.id) in wanted)
    ]


def _earliest(post: Post, targets: list[PostTarget]) -> datetime | None:
    times = [time for t in targets if (time := _time_of(post, t)) is not None]
    return min(times) if times else None


def idempotency_key(post_id: str, target_id: str) -> str:
    return f"post/{post_id}/target/{target_id}"


def _outcome(target: PostTarget, post: Post | None = None) -> TargetOutcome:
    return TargetOutcome(
        post_status=post.status if post is not None else None,
        target_id=str(target.id),
        status=target.status,
        platform_post_id=target.platform_post_id,
        platform_post_url=target.platform_post_url,
        error_code=target.error_code,
        error_message=target.error_message,
    )


class PostActivities:
    def __init__(
        self,
        sessions: SessionFactory,
        adapters: AdapterRegistry,
        cipher: CredentialCipher,
        max_attempts: int,
        storage: MediaStorage,
        read_sessions: SessionFactory | None = None,
    ) -> None:
        self._storage = storage
        self._sessions = sessions
        # Sessions that never write: on SQLite they take no write lock.
        self._read_sessions = read_sessions or sessions
        self._adapters = adapters
        self._cipher = cipher
        self._max_attempts = max_attempts

    @activity.defn(name="load_post_plan")
    async def load_post_plan(self, input: PostWorkflowInput) -> PostPlan | None:
        if input.start_if_due and (input.expect_due or input.target_ids is not None):
            # Most likely due at once: one write transaction reads the post and starts it.
            async with self._sessions() as session, session.begin():
                post = await get_post_for_execution(session, uuid.UUID(input.post_id))
                if post is None:
                    return None
                plan = await self._plan(session, post, input)
                if self._due_now(plan, input):
                    batch = self._start_on(session, post, self._start_request(plan, input))
                    plan = plan.model_copy(update={"batch": batch})
                return plan
        async with self._read_sessions() as session:
            post = await get_post_for_execution(session, uuid.UUID(input.post_id))
            if post is None:
                return None
            plan = await self._plan(session, post, input)
        if input.start_if_due and self._due_now(plan, input):
            started = await self._start(self._start_request(plan, input))
            plan = plan.model_copy(update={"batch": started})
        return plan

    @staticmethod
    def _start_request(plan: PostPlan, input: PostWorkflowInput) -> StartPublishing:
        return StartPublishing(
            post_id=plan.post_id,
            now=utcnow(),
            publish_all=plan.phase is PostPhase.QUEUED or input.target_ids is not None,
            target_ids=input.target_ids,
        )

    async def _plan(self, session: AsyncSession, post: Post, input: PostWorkflowInput) -> PostPlan:
        targets = _waiting_targets(post, input.target_ids)
        return PostPlan(
            post_id=str(post.id),
            workspace_id=str(post.workspace_id),
            phase=post.phase,
            status=post.status,
            scheduled_at=post.scheduled_at,
            targets=[TargetRef(id=str(t.id), platform=t.platform) for t in targets],
            max_attempts=self._max_attempts,
            next_due=_earliest(post, targets),
            author_id=post.created_by_id,
            approval_timeout_s=(
                await self._approval_timeout(session, post.workspace_id)
                if post.phase is PostPhase.PENDING_APPROVAL
                else None
            ),
        )

    @staticmethod
    def _due_now(plan: PostPlan, input: PostWorkflowInput) -> bool:
        """Publishing may start at once: asked for now, or a time that has already passed."""
        if not plan.targets or plan.phase not in (PostPhase.QUEUED, PostPhase.SCHEDULED):
            return False
        if plan.phase is PostPhase.QUEUED or input.target_ids is not None:
            return True
        return plan.next_due is not None and plan.next_due <= utcnow()

    @staticmethod
    async def _approval_timeout(session: AsyncSession, workspace_id: uuid.UUID) -> float | None:
        workspace = await session.get(Workspace, workspace_id)
        value = (workspace.settings if workspace else {}).get("approval_timeout_s")
        return float(value) if value else None

    @activity.defn(name="decide_approval")
    async def decide_approval(self, change: ApprovalChange) -> PostPhase:
        """Records approve, reject or expiry; an approved post goes on to its schedule (or
        straight to publishing when it has no time), a refused one is rejected for good."""
        async with self._sessions() as session, session.begin():
            post = await get_post_for_execution(session, uuid.UUID(change.post_id))
            if post is None:
                raise ApplicationError("post no longer exists", non_retryable=True)
            post.approval_status = change.decision
            post.approval_decided_by = change.actor_id
            post.approval_reason = change.reason
            post.approval_decided_at = utcnow()
            if change.decision is ApprovalStatus.APPROVED:
                post.phase = PostPhase.SCHEDULED if post.scheduled_at else PostPhase.QUEUED
                event = "post.approved"
            else:
                post.phase = PostPhase.REJECTED
                for target in post.targets:
                    if target.status in WAITING_TARGET_STATES:
                        target.status = TargetStatus.CANCELLED
                await release_queue_slots(session, post)
                event = "post.rejected"
            post.version += 1
            refresh_status(session, post)
            record_event(
                session,
                post.workspace_id,
                event,
                "post",
                post.id,
                PostOut.of(post).model_dump(mode="json"),
            )
            return post.phase

    @activity.defn(name="start_publishing")
    async def start_publishing(self, input: StartPublishing) -> PublishBatch:
        return await self._start(input)

    async def _start(self, input: StartPublishing) -> PublishBatch:
        async with self._sessions() as session, session.begin():
            post = await get_post_for_execution(session, uuid.UUID(input.post_id))
            if post is None:
                return PublishBatch(targets=[], next_due=None)
            return self._start_on(session, post, input)

    @staticmethod
    def _start_on(session: AsyncSession, post: Post, input: StartPublishing) -> PublishBatch:
        """Marks the due targets publishing (from here on the post can no longer be edited),
        counts their first attempt, and says when the next waiting one is due."""
        waiting = _waiting_targets(post, input.target_ids)
        due = [
            t for t in waiting if input.publish_all or (_time_of(post, t) or input.now) <= input.now
        ]
        # Already marked by an earlier attempt of this activity whose answer was lost
        # (the worker died after committing): they are due too, or nothing would publish them.
        wanted = set(input.target_ids) if input.target_ids is not None else None
        due += [
            t
            for t in post.targets
            if t.status == TargetStatus.PUBLISHING and (wanted is None or str(t.id) in wanted)
        ]
        fresh = {t.id for t in due if t.status != TargetStatus.PUBLISHING}
        now = utcnow()
        for target in due:
            if target.id in fresh:
                target.attempts += 1
                target.first_attempt_at = target.first_attempt_at or now
            target.status = TargetStatus.PUBLISHING
        refresh_status(session, post)
        later = [t for t in waiting if t not in due]
        return PublishBatch(
            targets=[
                TargetRef(id=str(t.id), platform=t.platform, fresh=t.id in fresh) for t in due
            ],
            next_due=_earliest(post, later) if later else None,
            platforms=sorted({t.platform for t in post.targets}),
        )

    @activity.defn(name="apply_schedule_change")
    async def apply_schedule_change(self, change: ScheduleChange) -> PostStatus:
        async with self._sessions() as session, session.begin():
            post = await get_post_for_execution(session, uuid.UUID(change.post_id))
            if post is None:
                raise ApplicationError("post no longer exists", non_retryable=True)
            if change.kind is not ScheduleChangeKind.PUBLISH_NOW:
                # Cancelled or moved to one new time: the queue slots it held are free again.
                await release_queue_slots(session, post)
            if change.kind is ScheduleChangeKind.CANCEL:
                for target in post.targets:
                    if target.status in WAITING_TARGET_STATES:
                        target.status = TargetStatus.CANCELLED
            elif change.kind is ScheduleChangeKind.PUBLISH_NOW:
                post.phase = PostPhase.QUEUED
            else:
                post.phase = PostPhase.SCHEDULED
                post.scheduled_at = change.scheduled_at
                for target in post.targets:
                    target.scheduled_at = None  # one new time for every target
            post.version += 1
            return refresh_status(
                session, post, always_emit=change.kind is ScheduleChangeKind.RESCHEDULE
            )

    @activity.defn(name="publish_target")
    async def publish_target(self, input: PublishTargetInput) -> TargetOutcome:
        claimed: TargetOutcome | Claimed | None = None
        if input.fresh and activity.info().attempt == 1:
            claimed = await self._read_fresh(input)
        if claimed is None:
            claimed = await self._claim(input)
        if isinstance(claimed, TargetOutcome):
            return claimed
        target_platform, account, request, resume_since = claimed
        adapter = self._adapters.get(target_platform)
        try:
            async with heartbeating():
                try:
                    published = await self._attempt(
                        adapter, account, request, resume_since, input.target_id
                    )
                except AuthExpired:
                    if not adapter.uses_oauth:
                        raise
                    # Refresh once, then try again with the new tokens.
                    renewed = await self._renewed_context(account)
                    if isinstance(renewed, str):
                        message = (
                            f"the account's tokens could not be renewed ({renewed}); reconnect it"
                        )
                        return await self._finish_failed(
                            input.target_id, AUTH_EXPIRED, message, False
                        )
                    published = await self._attempt(
                        adapter, renewed, request, resume_since, input.target_id
                    )
        except Rejected as err:
            return await self._finish_failed(input.target_id, REJECTED, err.message, False)
        except AuthExpired as err:
            message = f"the account's access was refused ({err.message}); reconnect it"
            return await self._finish_failed(input.target_id, AUTH_EXPIRED, message, False)
        except PlatformError as err:
            await self._note_error(input.target_id, err)
            delay = err.retry_after_s if isinstance(err, RateLimited) else None
            raise ApplicationError(
                err.message,
                type=RATE_LIMITED if isinstance(err, RateLimited) else PLATFORM_UNAVAILABLE,
                next_retry_delay=timedelta(seconds=delay) if delay else None,
            ) from err
        return await self._finish_published(input.target_id, published)

    @staticmethod
    async def _attempt(
        adapter: PlatformAdapter,
        account: AccountContext,
        request: PublishRequest,
        resume_since: datetime | None,
        target_id: str,
    ) -> PublishedPost:
        """Publishes, unless an earlier attempt whose answer we never saw already did."""
        if resume_since is not None:
            existing = await adapter.find_existing(account, request, resume_since)
            if existing:
                log.info("target %s: found the post an earlier attempt made", target_id)
                return existing
        return await adapter.publish(account, request)

    async def _renewed_context(self, account: AccountContext) -> AccountContext | str:
        """The account with freshly refreshed tokens, or why they could not be renewed."""
        outcome = await refresh_account_tokens(
            self._sessions, self._adapters, self._cipher, uuid.UUID(account.account_id)
        )
        if not outcome.refreshed:
            return outcome.message or "the platform refused"
        async with self._sessions() as session:
            row = await session.get(SocialAccount, uuid.UUID(account.account_id))
            assert row is not None
            return self._cipher.context_of(row)

    async def _read_fresh(self, input: PublishTargetInput) -> Claimed | None:
        """The first attempt of a target its batch just marked: nothing to write (the batch
        counted the attempt) and nothing to look for on the platform. None: take the claim
        path after all (the target or its account changed meanwhile)."""
        async with self._read_sessions() as session:
            found = await get_target_for_publishing(session, uuid.UUID(input.target_id))
            if found is None:
                return None
            target, post, account = found
            if (
                target.status != TargetStatus.PUBLISHING
                or target.attempts != 1
                or account.status != AccountStatus.ACTIVE
            ):
                return None
            return (
                target.platform,
                self._cipher.context_of(account),
                await self._request(session, input, post, target),
                None,
            )

    async def _request(
        self, session: AsyncSession, input: PublishTargetInput, post: Post, target: PostTarget
    ) -> PublishRequest:
        media_ids = target.media_ids if target.media_ids is not None else post.media_ids
        return request_from(
            target.content if target.content is not None else post.content,
            idempotency_key(input.post_id, input.target_id),
            await self._media(session, post.workspace_id, media_ids),
            target.options,
        )

    async def _claim(self, input: PublishTargetInput) -> TargetOutcome | Claimed:
        """Marks the target publishing and counts the attempt, or answers if nothing is to do."""
        async with self._sessions() as session, session.begin():
            found = await lock_target_and_post(session, uuid.UUID(input.target_id))
            if found is None:
                raise ApplicationError("target no longer exists", type="Gone", non_retryable=True)
            target, post = found
            if target.status not in (*WAITING_TARGET_STATES, TargetStatus.PUBLISHING):
                return _outcome(target)  # already decided: published, failed or cancelled
            account = await session.get(SocialAccount, target.account_id)
            assert account is not None
            if account.status != AccountStatus.ACTIVE:
                message = f"the {account.platform} account @{account.username} is {account.status}"
                self._fail(target, ACCOUNT_INACTIVE, message, retryable=False)
                refresh_status(session, post)
                return _outcome(target)
            # An earlier call may have reached the platform even though we never saw its answer.
            resume_since = target.first_attempt_at if target.attempts > 0 else None
            target.status = TargetStatus.PUBLISHING
            target.attempts += 1
            target.first_attempt_at = target.first_attempt_at or utcnow()
            refresh_status(session, post)
            context = self._cipher.context_of(account)
            request = await self._request(session, input, post, target)
            return target.platform, context, request, resume_since

    async def _media(
        self, session: AsyncSession, workspace_id: uuid.UUID, media_ids: list[str]
    ) -> list[MediaItem]:
        """The attachments' bytes, in the post's order, read from the media library."""
        found = await get_media_many(session, workspace_id, [uuid.UUID(m) for m in media_ids])
        items = []
        for media_id in media_ids:
            media = found.get(uuid.UUID(media_id))
            if media is None or media.mime_type is None:
                raise ApplicationError(
                    f"media {media_id} is gone", type=REJECTED, non_retryable=True
                )
            items.append(
                MediaItem(
                    media_id=media_id,
                    mime_type=media.mime_type,
                    filename=media.filename,
                    data=await self._storage.read(media.storage_key),
                    url=await self._storage.download_url(
                        media.storage_key, utcnow() + MEDIA_URL_LIFETIME
                    ),
                )
            )
        return items

    async def _finish_published(self, target_id: str, published: PublishedPost) -> TargetOutcome:
        values: dict[str, Any] = {
            "status": TargetStatus.PUBLISHED,
            "platform_post_id": published.platform_post_id,
            "platform_post_url": published.url,
            "extra_post_ids": list(published.extra_post_ids) or None,
            "published_at": published.published_at or utcnow(),
            "error_code": None,
            "error_message": None,
            "error_retryable": None,
        }
        return await self._store(target_id, values, unless_published=False)

    async def _finish_failed(
        self, target_id: str, code: str, message: str, retryable: bool
    ) -> TargetOutcome:
        values: dict[str, Any] = {
            "status": TargetStatus.FAILED,
            "error_code": code,
            "error_message": message,
            "error_retryable": retryable,
        }
        # A target an earlier attempt published stays published.
        return await self._store(target_id, values, unless_published=True)

    async def _store(
        self, target_id: str, values: dict[str, Any], *, unless_published: bool
    ) -> TargetOutcome:
        async with self._sessions() as session, session.begin():
            stored = await store_outcome(
                session, uuid.UUID(target_id), values, unless_published=unless_published
            )
        if stored is None:
            raise ApplicationError("target no longer exists", type="Gone", non_retryable=True)
        return TargetOutcome(
            target_id=target_id,
            status=stored.status,
            platform_post_id=stored.platform_post_id,
            platform_post_url=stored.platform_post_url,
            error_code=stored.error_code,
            error_message=stored.error_message,
            post_status=stored.post_status,
        )

    async def _note_error(self, target_id: str, err: PlatformError) -> None:
        """Keeps the last error visible on a target that is still being retried."""
        async with self._sessions() as session, session.begin():
            found = await lock_target_and_post(session, uuid.UUID(target_id))
            target = found[0] if found else None
            if target is not None and target.status == TargetStatus.PUBLISHING:
                target.error_code = (
                    RATE_LIMITED if isinstance(err, RateLimited) else PLATFORM_UNAVAILABLE
                )
                target.error_message = err.message
                target.error_retryable = True

    @staticmethod
    def _fail(target: PostTarget, code: str, message: str, retryable: bool) -> None:
        target.status = TargetStatus.FAILED
        target.error_code = code
        target.error_message = message
        target.error_retryable = retryable

    @activity.defn(name="record_target_failure")
    async def record_target_failure(self, failure: TargetFailure) -> TargetOutcome:
        return await self._finish_failed(
            failure.target_id, failure.code, failure.message, failure.retryable
        )

    @activity.defn(name="finalize_post")
    async def finalize_post(self, post_id: str) -> PostStatus:
        async with self._sessions() as session, session.begin():
            post = await get_post_for_execution(session, uuid.UUID(post_id))
            if post is None:
                raise ApplicationError("post no longer exists", non_retryable=True)
            return refresh_status(session, post)
