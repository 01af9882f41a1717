"""The post state machine: every change of a post's or a target's state, and the rules that
say which states allow it, stated once. Routes, command services and activities call these
functions; none of them sets a phase or a status itself.

A post has a phase (what the post itself is doing: draft, waiting for approval, scheduled,
queued to publish now, rejected, archived) and targets with states of their own; its status is
derived from both and re-derived after every change (herald.posts.status), which also writes
the event row of the status it enters. Functions here change models in the caller's session
and never commit.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from herald.db.models import Post, PostTarget, SocialAccount
from herald.errors import ErrorCode, HeraldError, IllegalTransition
from herald.posts.status import emit, refresh_status
from herald.status import (
    WAITING_TARGET_STATES,
    AccountStatus,
    ApprovalStatus,
    PostPhase,
    PostStatus,
    TargetError,
    TargetStatus,
)

# --- The rules: which statuses allow which change ------------------------------------------

_S = PostStatus
EDITABLE = frozenset({_S.DRAFT, _S.SCHEDULED, _S.QUEUED})
# Waiting on its timer: the workflow's Updates may still move, publish or cancel it.
WAITING = frozenset({_S.SCHEDULED, _S.QUEUED})
DELETABLE = frozenset({_S.DRAFT, _S.CANCELLED, _S.FAILED, _S.ARCHIVED, _S.REJECTED})
ARCHIVABLE = frozenset(
    {_S.DRAFT, _S.PUBLISHED, _S.PARTIAL, _S.FAILED, _S.CANCELLED, _S.REJECTED, _S.UNPUBLISHED}
)
UNPUBLISHABLE = frozenset({_S.PUBLISHED, _S.PARTIAL})
RETRYABLE = frozenset({_S.FAILED, _S.PARTIAL})
SUBMITTABLE = frozenset({_S.DRAFT})


def refuse_unless(post: Post, allowed: frozenset[PostStatus], action: str) -> None:
    if post.status not in allowed:
        names = ", ".join(sorted(s.value for s in allowed))
        raise IllegalTransition(f"cannot {action} a post that is {post.status} (only {names})")


def refuse_unless_editable(post: Post) -> None:
    if post.status not in EDITABLE or any(
        t.status not in WAITING_TARGET_STATES for t in post.targets
    ):
        raise IllegalTransition(
            f"the post is {post.status}; only posts that have not started publishing change"
        )


def refuse_in_past(at: datetime, now: datetime) -> None:
    if at <= now:
        raise HeraldError.invalid("scheduled_at", "must be in the future")


def _changed(session: AsyncSession, post: Post, *, always_emit: bool = False) -> PostStatus:
    post.version += 1
    return refresh_status(session, post, always_emit=always_emit)


# --- Creation and drafts --------------------------------------------------------------------


def initial_phase(*, draft: bool, needs_approval: bool, publish_now: bool) -> PostPhase:
    if draft:
        return PostPhase.DRAFT
    if needs_approval:
        return PostPhase.PENDING_APPROVAL
    return PostPhase.QUEUED if publish_now else PostPhase.SCHEDULED


def waiting_state(phase: PostPhase) -> TargetStatus:
    """The state a new target of a post in this phase waits in."""
    return TargetStatus.PENDING if phase is PostPhase.DRAFT else TargetStatus.SCHEDULED


def created(session: AsyncSession, post: Post, *, always_emit: bool = False) -> None:
    """A new post is stored: its status is derived and `post.created` written."""
    refresh_status(session, post, always_emit=always_emit)
    emit(session, post, "post.created")


def leave_draft(session: AsyncSession, post: Post, phase: PostPhase, at: datetime) -> None:
    """A draft becomes scheduled (or queued to publish now) at `at`."""
    post.phase = phase
    post.scheduled_at = at
    for target in post.targets:
        target.status = TargetStatus.SCHEDULED
    _changed(session, post)


def edited(session: AsyncSession, post: Post, now: datetime) -> None:
    post.updated_at = now
    _changed(session, post)


def archive(session: AsyncSession, post: Post) -> None:
    refuse_unless(post, ARCHIVABLE, "archive")
    post.phase = PostPhase.ARCHIVED
    _changed(session, post)


# --- Approval -------------------------------------------------------------------------------


def request_approval(session: AsyncSession, post: Post, now: datetime) -> None:
    post.phase = PostPhase.PENDING_APPROVAL
    post.approval_status = ApprovalStatus.PENDING
    post.approval_requested_at = now
    post.approval_decided_by = post.approval_reason = None
    refresh_status(session, post)
    emit(session, post, "post.approval_requested")


def refuse_unless_decidable(post: Post, actor_id: str) -> None:
    """What the API checks before it asks the workflow to record a decision."""
    if post.created_by_id == actor_id:
        raise HeraldError(ErrorCode.FORBIDDEN, "the author cannot approve or reject their own post")
    if post.approval_status != ApprovalStatus.PENDING:
        raise IllegalTransition(f"the approval is already {post.approval_status}")


def decide_approval(
    session: AsyncSession,
    post: Post,
    decision: ApprovalStatus,
    actor_id: str | None,
    reason: str | None,
    now: datetime,
) -> PostPhase:
    """Approve, reject or expire. An approved post goes on to its schedule (or straight to
    publishing when it has no time); a refused one is rejected for good. The caller frees the
    queue slots of a refused post (`frees_slots`)."""
    post.approval_status = decision
    post.approval_decided_by = actor_id
    post.approval_reason = reason
    post.approval_decided_at = now
    if decision is ApprovalStatus.APPROVED:
        post.phase = PostPhase.SCHEDULED if post.scheduled_at else PostPhase.QUEUED
        event = "post.approved"
    else:
        post.phase = PostPhase.REJECTED
        _cancel_waiting(post)
        event = "post.rejected"
    _changed(session, post)
    emit(session, post, event)
    return post.phase


def frees_slots(decision: ApprovalStatus) -> bool:
    return decision is not ApprovalStatus.APPROVED


# --- The schedule, while the workflow waits -------------------------------------------------


def _cancel_waiting(post: Post) -> None:
    for target in post.targets:
        if target.status in WAITING_TARGET_STATES:
            target.status = TargetStatus.CANCELLED


def cancel(session: AsyncSession, post: Post) -> PostStatus:
    _cancel_waiting(post)
    return _changed(session, post)


def publish_now(session: AsyncSession, post: Post) -> PostStatus:
    post.phase = PostPhase.QUEUED
    return _changed(session, post)


def reschedule(session: AsyncSession, post: Post, at: datetime) -> PostStatus:
    post.phase = PostPhase.SCHEDULED
    post.scheduled_at = at
    for target in post.targets:
        target.scheduled_at = None  # one new time for every target
    return _changed(session, post, always_emit=True)


# --- Publishing -----------------------------------------------------------------------------


def time_of(post: Post, target: PostTarget) -> datetime | None:
    return target.scheduled_at or post.scheduled_at


def _named(target: PostTarget, target_ids: list[str] | None) -> bool:
    return target_ids is None or str(target.id) in target_ids


def unfinished_targets(post: Post, target_ids: list[str] | None) -> list[PostTarget]:
    """Targets still to publish: waiting, or marked publishing by an attempt whose answer was
    lost (a step that committed in a worker that died before the workflow saw it)."""
    return [t for t in post.targets if not is_decided(t) and _named(t, target_ids)]


def earliest(post: Post, targets: list[PostTarget]) -> datetime | None:
    times = [time for t in targets if (time := time_of(post, t)) is not None]
    return min(times) if times else None


@dataclass(frozen=True)
class Batch:
    """Targets a batch marked publishing, those it marked for the first time, and the rest."""

    due: list[PostTarget]
    fresh: set[uuid.UUID]
    later: list[PostTarget]


def start_batch(
    session: AsyncSession,
    post: Post,
    target_ids: list[str] | None,
    *,
    publish_all: bool,
    at: datetime,
    now: datetime,
) -> Batch:
    """Marks the targets due at `at` publishing (from here on the post can no longer be
    edited) and counts their first attempt."""
    unfinished = unfinished_targets(post, target_ids)
    # Those already publishing are due too, or nothing would publish them.
    due = [
        t
        for t in unfinished
        if publish_all or t.status == TargetStatus.PUBLISHING or (time_of(post, t) or at) <= at
    ]
    fresh = {t.id for t in due if t.status != TargetStatus.PUBLISHING}
    for target in due:
        if target.id in fresh:
            target.attempts += 1
            target.first_attempt_at = target.first_attempt_at or now
        target.status = TargetStatus.PUBLISHING
    refresh_status(session, post)
    return Batch(due=due, fresh=fresh, later=[t for t in unfinished if t not in due])


def is_decided(target: PostTarget) -> bool:
    """Published, failed or cancelled: no attempt changes it any more."""
    return target.status not in (*WAITING_TARGET_STATES, TargetStatus.PUBLISHING)


def claim(
    session: AsyncSession,
    post: Post,
    target: PostTarget,
    account: SocialAccount,
    now: datetime,
    *,
    counted: bool = False,
) -> datetime | None:
    """One more attempt at an undecided target: marks it publishing and counts the attempt
    (unless `counted`: its batch did). Returns since when an earlier attempt may have posted
    it (None: nothing can have reached the platform). An inactive account fails the target
    instead (then check `is_decided`)."""
    if account.status != AccountStatus.ACTIVE:
        message = f"the {account.platform} account @{account.username} is {account.status}"
        fail(target, TargetError.ACCOUNT_INACTIVE, message, retryable=False)
        refresh_status(session, post)
        return None
    # An earlier call may have reached the platform even though we never saw its answer
    # (first_attempt_at, not attempts: a rate-limited attempt is given back, not forgotten).
    resume_since = target.first_attempt_at
    target.status = TargetStatus.PUBLISHING
    if not counted:
        target.attempts += 1
    target.first_attempt_at = target.first_attempt_at or now
    target.next_attempt_at = None
    refresh_status(session, post)
    return resume_since


def requeue_interrupted(target: PostTarget) -> None:
    """A target whose run ended while it was publishing waits again (the reconciler resumes
    it, and its next attempt looks for what the interrupted call may have posted)."""
    if target.status == TargetStatus.PUBLISHING:
        target.status = TargetStatus.SCHEDULED


def fail(target: PostTarget, code: str, message: str, *, retryable: bool) -> None:
    target.status = TargetStatus.FAILED
    target.error_code = code
    target.error_message = message
    target.error_retryable = retryable


def note_retrying(
    target: PostTarget, code: str, message: str, next_attempt_at: datetime | None
) -> None:
    """Keeps the last error, and when the next attempt comes, visible on a target that is
    still being retried."""
    if target.status == TargetStatus.PUBLISHING:
        target.error_code = code
        target.error_message = message
        target.error_retryable = True
        target.next_attempt_at = next_attempt_at


def rate_limited(
    target: PostTarget,
    message: str,
    next_attempt_at: datetime | None,
    *,
    hold: SocialAccount | None = None,
) -> None:
    """A 429, or the account's rate limit not over yet: the attempt counted for it is given
    back (waiting for the platform is not trying). `hold`: the platform named when its limit
    resets, so every target of that account waits until then, not just this one."""
    if target.status != TargetStatus.PUBLISHING:
        return
    target.attempts = max(0, target.attempts - 1)
    note_retrying(target, TargetError.RATE_LIMITED, message, next_attempt_at)
    if hold is not None and next_attempt_at is not None:
        held = hold.rate_limited_until
        hold.rate_limited_until = max(held, next_attempt_at) if held else next_attempt_at


def published_values(
    platform_post_id: str,
    url: str | None,
    extra_post_ids: list[str] | None,
    published_at: datetime,
) -> dict[str, Any]:
    """The target columns of a published outcome (written with plain statements on the hot
    path, see herald.posts.outcomes)."""
    return {
        "status": TargetStatus.PUBLISHED,
        "platform_post_id": platform_post_id,
        "platform_post_url": url,
        "extra_post_ids": extra_post_ids or None,
        "published_at": published_at,
        "error_code": None,
        "error_message": None,
        "error_retryable": None,
        "next_attempt_at": None,
    }


def failed_values(code: str, message: str, retryable: bool) -> dict[str, Any]:
    """The target columns of a failed outcome; never written over a published target."""
    return {
        "status": TargetStatus.FAILED,
        "error_code": code,
        "error_message": message,
        "error_retryable": retryable,
        "next_attempt_at": None,
    }


def deleted(session: AsyncSession, post: Post, target: PostTarget) -> None:
    """The target's post was removed from its platform (unpublish)."""
    target.status = TargetStatus.DELETED
    refresh_status(session, post)


# --- Retry and fix: a new run for failed targets --------------------------------------------


@dataclass(frozen=True)
class RetryResult:
    target_id: uuid.UUID
    status: str
    error: dict[str, Any] | None = None


_NO_TARGET = "no such target on this post"


def _skipped(code: str, message: str) -> dict[str, Any]:
    return {"code": code, "message": message}


def _requeue(target: PostTarget) -> None:
    target.status = TargetStatus.SCHEDULED
    target.scheduled_at = None
    target.error_code = target.error_message = None
    target.error_retryable = None


def requeue_for_retry(
    session: AsyncSession, post: Post, target_ids: list[uuid.UUID] | None
) -> list[RetryResult]:
    """Re-queues failed targets (all failed ones when none are named); others are reported."""
    refuse_unless(post, RETRYABLE, "retry")
    by_id = {t.id: t for t in post.targets}
    wanted = (
        target_ids
        if target_ids is not None
        else [t.id for t in post.targets if t.status == TargetStatus.FAILED]
    )
    results: list[RetryResult] = []
    for target_id in wanted:
        target = by_id.get(target_id)
        if target is None:
            results.append(RetryResult(target_id, "skipped", _skipped("NOT_FOUND", _NO_TARGET)))
        elif target.status != TargetStatus.FAILED:
            message = f"the target is {target.status}; only failed targets retry"
            results.append(RetryResult(target_id, "skipped", _skipped("CONFLICT", message)))
        else:
            _requeue(target)
            results.append(RetryResult(target_id, "queued"))
    if any(r.status == "queued" for r in results):
        post.phase = PostPhase.QUEUED
        _changed(session, post)
    return results


def requeue_for_fix(
    session: AsyncSession, post: Post, target_id: uuid.UUID, changes: dict[str, Any]
) -> PostTarget:
    target = next((t for t in post.targets if t.id == target_id), None)
    if target is None:
        raise HeraldError.not_found("target")
    if target.status != TargetStatus.FAILED:
        raise IllegalTransition(f"the target is {target.status}; only a failed target is fixed")
    for field, value in changes.items():
        setattr(target, field, value)
    target.publish_progress = None  # the content changed: nothing of the old one carries on
    _requeue(target)
    post.phase = PostPhase.QUEUED
    _changed(session, post)
    return target
