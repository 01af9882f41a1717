"""Publishing one target through its adapter: at most once per target.

The stored state is checked first, the platform gets the idempotency key
`post/{post_id}/target/{target_id}`, and before any call that follows an earlier attempt whose
outcome is unknown, the adapter looks for the post it may already have made. The state changes
(claim, fail, record the outcome) are herald.posts.transitions'.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.heartbeat import heartbeating
from activities.outcomes import OutcomeStore, outcome_of
from herald.crypto import CredentialCipher
from herald.db.engine import SessionFactory
from herald.db.models import Post, PostTarget, SocialAccount
from herald.db.types import utcnow
from herald.metrics import (
    PLATFORM_CALLS,
    PUBLISH_LATENCY,
    RATE_LIMITED,
    TARGETS_FAILED,
    TARGETS_PUBLISHED,
)
from herald.payloads import (
    PublishBatchInput,
    PublishTargetInput,
    TargetAttempt,
    TargetOutcome,
    TargetRef,
)
from herald.posts import transitions
from herald.rate_limits import rate_limit_wait
from herald.repositories.media import get_media_many
from herald.repositories.posts import (
    get_targets_for_publishing,
    lock_target_and_post,
    save_publish_progress,
)
from herald.services.account_tokens import refresh_account_tokens
from herald.status import AccountStatus, TargetError, TargetStatus
from herald.storage.base import MediaStorage
from herald.storage.content import StoredContent
from platforms.base import (
    AccountContext,
    AuthExpired,
    Duplicate,
    MediaItem,
    PlatformAdapter,
    PlatformError,
    PublishedPost,
    PublishProgress,
    PublishRequest,
    RateLimited,
    Rejected,
    media_descriptions,
    request_from,
)
from platforms.registry import AdapterRegistry

log = logging.getLogger(__name__)

# Long enough for a platform that fetches media by URL to finish processing it.
MEDIA_URL_LIFETIME = timedelta(hours=6)


class Claimed(NamedTuple):
    """What publishing a target needs."""

    platform: str
    account: AccountContext
    request: PublishRequest
    # Since when an earlier attempt may already have posted it (None: nothing can have
    # reached the platform).
    resume_since: datetime | None
    # When it was due (for the publish-latency series).
    due_at: datetime


@dataclass(frozen=True)
class Held:
    """The account's rate limit is not over: the target waits until then without a call."""

    until: datetime


def idempotency_key(post_id: str, target_id: str) -> str:
    return f"post/{post_id}/target/{target_id}"


def _outcome(target: PostTarget) -> TargetOutcome:
    return outcome_of(str(target.id), target)


def _next_attempt_in(platform_delay: float | None) -> timedelta | None:
    """When Temporal will run the next attempt: after the platform's own wait (a 429's
    reset), else after this attempt's backoff under the activity's retry policy."""
    if platform_delay:
        return timedelta(seconds=platform_delay)
    info = activity.info()
    policy = info.retry_policy
    if policy is None or policy.initial_interval is None:
        return None
    if policy.maximum_attempts and info.attempt >= policy.maximum_attempts:
        return None  # this was the last one
    wait = policy.initial_interval * policy.backoff_coefficient ** (info.attempt - 1)
    if policy.maximum_interval is not None:
        wait = min(wait, policy.maximum_interval)
    return wait


class StoredProgress(PublishProgress):
    """A target's publish progress, kept with the target: an attempt in another worker process,
    after this one died, carries the publish on from the same step."""

    def __init__(
        self, sessions: SessionFactory, target_id: uuid.UUID, saved: dict[str, Any] | None
    ) -> None:
        super().__init__(saved)
        self._sessions = sessions
        self._target_id = target_id

    async def save(self, state: dict[str, Any] | None) -> None:
        await super().save(state)
        try:
            async with self._sessions() as session, session.begin():
                await save_publish_progress(session, self._target_id, state)
        except SQLAlchemyError as err:
            # Not worth abandoning an upload half-way for: without it the next attempt knows
            # only what was stored before (at worst it starts over, as it did before progress
            # was kept).
            log.warning("target %s: publish progress not stored: %s", self._target_id, err)


class PublishActivities:
    def __init__(
        self,
        sessions: SessionFactory,
        adapters: AdapterRegistry,
        cipher: CredentialCipher,
        storage: MediaStorage,
        read_sessions: SessionFactory | None = None,
        outcomes: OutcomeStore | None = None,
        *,
        concurrency: Callable[[str], int],
    ) -> None:
        self._sessions = sessions
        self._outcomes = outcomes or OutcomeStore(sessions)
        # Sessions that never write: on SQLite they take no write lock.
        self._read_sessions = read_sessions or sessions
        self._adapters = adapters
        self._cipher = cipher
        self._storage = storage
        self._concurrency = concurrency
        self._calls: dict[str, asyncio.Semaphore] = {}

    def _calls_to(self, platform: str) -> asyncio.Semaphore:
        """What bounds this process's publishes in flight to one platform: a batch holds one
        activity slot for all its targets, so the slots alone would not."""
        calls = self._calls.get(platform)
        if calls is None:
            calls = self._calls[platform] = asyncio.Semaphore(self._concurrency(platform))
        return calls

    @activity.defn(name="publish_target")
    async def publish_target(self, input: PublishTargetInput) -> TargetOutcome:
        """One target: its first attempt in runs recorded before batches, and every attempt
        after the first in the others."""
        counted = input.fresh and activity.info().attempt == 1
        fresh = (await self._read_fresh([input])).get(input.target_id) if counted else None
        return await self._publish(input, counted, _next_attempt_in, fresh)

    @activity.defn(name="publish_targets")
    async def publish_targets(self, input: PublishBatchInput) -> list[TargetAttempt]:
        """The first attempts of a batch's targets on one platform, side by side: one task for
        the server to dispatch and record instead of one per target. A target that must be
        tried again is answered with its error, and its workflow tries it alone. The batch
        itself is retried only when it did not finish (its worker died): then each target takes
        the claim path, which finds what an earlier attempt already did."""
        first = activity.info().attempt == 1
        retry = input.publish_retry
        ones = {
            target.id: PublishTargetInput(
                post_id=input.post_id, target_id=target.id, fresh=target.fresh
            )
            for target in input.targets
        }
        counted = {target.id for target in input.targets if target.fresh and first}
        fresh = await self._read_fresh([ones[t] for t in counted]) if counted else {}

        def next_in(platform_delay: float | None) -> timedelta:
            return timedelta(seconds=platform_delay or retry.initial_s)

        async def attempt(target: TargetRef) -> TargetAttempt:
            try:
                outcome = await self._publish(
                    ones[target.id], target.id in counted, next_in, fresh.get(target.id)
                )
            except ApplicationError as err:
                wait = err.next_retry_delay
                return TargetAttempt(
                    target_id=target.id,
                    error_code=err.type or "platform_error",
                    error_message=err.message,
                    retry=not err.non_retryable,
                    retry_after_s=wait.total_seconds() if wait else None,
                )
            except Exception as err:
                # What would have failed a single target's activity (the database, say): the
                # target is tried again, as Temporal would have.
                log.warning("target %s: attempt failed: %r", target.id, err, exc_info=True)
                return TargetAttempt(
                    target_id=target.id, error_code="publish_failed", error_message=str(err)
                )
            return TargetAttempt(target_id=target.id, outcome=outcome)

        return list(await asyncio.gather(*(attempt(target) for target in input.targets)))

    async def _publish(
        self,
        input: PublishTargetInput,
        batch_counted: bool,
        next_attempt_in: Callable[[float | None], timedelta | None],
        fresh: Claimed | ApplicationError | None = None,
    ) -> TargetOutcome:
        """One attempt at one target (`batch_counted`: its batch marked it and counted the
        attempt; `fresh`: what _read_fresh found for it); a retryable error raises
        ApplicationError with the platform's wait."""
        if isinstance(fresh, ApplicationError):
            raise fresh
        claimed: TargetOutcome | Claimed | Held | None = fresh
        if claimed is None:
            claimed = await self._claim(input, batch_counted)
        if isinstance(claimed, TargetOutcome):
            return claimed
        if isinstance(claimed, Held):
            raise ApplicationError(
                "the account is rate-limited until its window resets",
                type=TargetError.RATE_LIMITED,
                next_retry_delay=max(claimed.until - utcnow(), timedelta(milliseconds=1)),
            )
        target_platform, account, request, resume_since, due_at = claimed
        adapter = self._adapters.get(target_platform)
        calling = time.monotonic()

        def observe(outcome: str) -> None:
            PLATFORM_CALLS.labels(target_platform, outcome).observe(time.monotonic() - calling)

        try:
            async with heartbeating(), self._calls_to(target_platform):
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
                        observe("auth_expired")
                        return await self._finish_failed(
                            input.target_id, target_platform, TargetError.AUTH_EXPIRED, message
                        )
                    published = await self._attempt(
                        adapter, renewed, request, resume_since, input.target_id
                    )
        except Rejected as err:
            observe("rejected")
            return await self._finish_failed(
                input.target_id, target_platform, TargetError.REJECTED, err.message
            )
        except AuthExpired as err:
            observe("auth_expired")
            message = f"the account's access was refused ({err.message}); reconnect it"
            return await self._finish_failed(
                input.target_id, target_platform, TargetError.AUTH_EXPIRED, message
            )
        except PlatformError as err:
            limited = isinstance(err, RateLimited)
            observe("rate_limited" if limited else "unavailable")
            if limited:
                RATE_LIMITED.labels(target_platform).inc()
            delay = err.retry_after_s if isinstance(err, RateLimited) else None
            await self._note_error(input.target_id, err, next_attempt_in(delay))
            raise ApplicationError(
                err.message,
                type=TargetError.RATE_LIMITED
                if isinstance(err, RateLimited)
                else TargetError.PLATFORM_UNAVAILABLE,
                next_retry_delay=timedelta(seconds=delay) if delay else None,
            ) from err
        observe("published")
        outcome = await self._finish_published(input.target_id, published)
        TARGETS_PUBLISHED.labels(target_platform).inc()
        PUBLISH_LATENCY.labels(target_platform).observe(
            max(0.0, (utcnow() - due_at).total_seconds())
        )
        return outcome

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
        try:
            return await adapter.publish(account, request)
        except Duplicate:
            if resume_since is None:
                raise  # nothing of ours can be there: the account's own earlier post
            # A call we gave up on can still land after the look above: the platform holds it.
            existing = await adapter.find_existing(account, request, resume_since)
            if existing is None:
                raise
            log.info("target %s: an earlier attempt landed late; adopting its post", target_id)
            return existing

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

    async def _read_fresh(
        self, inputs: list[PublishTargetInput]
    ) -> dict[str, Claimed | ApplicationError]:
        """The first attempts of targets their batch just marked, read in one statement:
        nothing to write (the batch counted the attempts) and nothing to look for on the
        platform. A target missing from the answer takes the claim path after all (it or its
        account changed meanwhile); one whose request cannot be made has its error."""
        fresh: dict[str, Claimed | ApplicationError] = {}
        async with self._read_sessions() as session:
            found = await get_targets_for_publishing(
                session, [uuid.UUID(input.target_id) for input in inputs]
            )
            now = utcnow()
            for input in inputs:
                row = found.get(uuid.UUID(input.target_id))
                if row is None:
                    continue
                target, post, account = row
                if (
                    target.status != TargetStatus.PUBLISHING
                    or target.attempts != 1
                    or account.status != AccountStatus.ACTIVE
                    or rate_limit_wait(account, now) is not None
                ):
                    continue
                try:
                    request = await self._request(session, input, post, target)
                except ApplicationError as err:
                    fresh[input.target_id] = err
                    continue
                fresh[input.target_id] = Claimed(
                    target.platform,
                    self._cipher.context_of(account),
                    request,
                    None,
                    transitions.time_of(post, target) or post.created_at,
                )
        return fresh

    async def _request(
        self, session: AsyncSession, input: PublishTargetInput, post: Post, target: PostTarget
    ) -> PublishRequest:
        media_ids = target.media_ids if target.media_ids is not None else post.media_ids
        return request_from(
            target.content if target.content is not None else post.content,
            idempotency_key(input.post_id, input.target_id),
            await self._media(
                session, post.workspace_id, media_ids, media_descriptions(target.options)
            ),
            target.options,
            StoredProgress(self._sessions, target.id, target.publish_progress),
            target.first_attempt_at,
        )

    async def _claim(
        self, input: PublishTargetInput, batch_counted: bool
    ) -> TargetOutcome | Claimed | Held:
        """Marks the target publishing and counts the attempt (unless its batch did), or
        answers if nothing is to do (or not yet: the account's rate limit holds it)."""
        async with self._sessions() as session, session.begin():
            found = await lock_target_and_post(session, uuid.UUID(input.target_id))
            if found is None:
                raise ApplicationError("target no longer exists", type="Gone", non_retryable=True)
            target, post = found
            if transitions.is_decided(target):
                return _outcome(target)  # published, failed or cancelled
            account = await session.get(SocialAccount, target.account_id)
            assert account is not None
            now = utcnow()
            resume_since = transitions.claim(
                session, post, target, account, now, counted=batch_counted
            )
            if transitions.is_decided(target):
                return _outcome(target)  # the account is inactive
            held_until = rate_limit_wait(account, now)
            if held_until is not None:
                message = "another post of this account met the platform's rate limit"
                transitions.rate_limited(target, message, held_until)
                return Held(held_until)
            context = self._cipher.context_of(account)
            request = await self._request(session, input, post, target)
            due_at = transitions.time_of(post, target) or post.created_at
            return Claimed(target.platform, context, request, resume_since, due_at)

    async def _media(
        self,
        session: AsyncSession,
        workspace_id: uuid.UUID,
        media_ids: list[str],
        descriptions: dict[str, str],
    ) -> list[MediaItem]:
        """The attachments, in the post's order, each with its alt text from the target's
        `options.media_descriptions`. Their bytes stay in storage: adapters stream them from
        there as they upload (nothing here reads them)."""
        found = await get_media_many(session, workspace_id, [uuid.UUID(m) for m in media_ids])
        items = []
        for media_id in media_ids:
            media = found.get(uuid.UUID(media_id))
            if media is None or media.mime_type is None or media.size is None:
                raise ApplicationError(
                    f"media {media_id} is gone", type=TargetError.REJECTED, non_retryable=True
                )
            items.append(
                MediaItem(
                    media_id=media_id,
                    mime_type=media.mime_type,
                    filename=media.filename,
                    content=StoredContent(self._storage, media.storage_key, media.size),
                    description=descriptions.get(media_id),
                    url=await self._storage.download_url(
                        media.storage_key, utcnow() + MEDIA_URL_LIFETIME, media.mime_type
                    ),
                )
            )
        return items

    async def _finish_published(self, target_id: str, published: PublishedPost) -> TargetOutcome:
        values = transitions.published_values(
            published.platform_post_id,
            published.url,
            list(published.extra_post_ids),
            published.published_at or utcnow(),
        )
        return await self._outcomes.store(target_id, values, unless_published=False)

    async def _finish_failed(
        self, target_id: str, platform: str, code: str, message: str
    ) -> TargetOutcome:
        """A failure no retry changes (the platform refused, or the account's access is
        gone)."""
        outcome = await self._outcomes.store_failure(target_id, code, message, False)
        TARGETS_FAILED.labels(platform, code).inc()
        return outcome

    async def _note_error(
        self, target_id: str, err: PlatformError, next_in: timedelta | None
    ) -> None:
        """Keeps the last error, and when the next attempt comes, visible on a target that is
        still being retried; a rate limit gives its attempt back and, when the platform named
        its reset, holds the account's other targets too."""
        async with self._sessions() as session, session.begin():
            found = await lock_target_and_post(session, uuid.UUID(target_id))
            if found is None:
                return
            target = found[0]
            next_at = utcnow() + next_in if next_in is not None else None
            if not isinstance(err, RateLimited):
                transitions.note_retrying(
                    target, TargetError.PLATFORM_UNAVAILABLE, err.message, next_at
                )
                return
            named = bool(err.retry_after_s)
            account = await session.get(SocialAccount, target.account_id) if named else None
            transitions.rate_limited(target, err.message, next_at, hold=account)
