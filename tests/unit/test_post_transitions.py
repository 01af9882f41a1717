"""The post state machine (herald.posts.transitions) over in-memory models: which changes each
state allows, what each change does to the post and its targets, and the events it writes."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from herald.db.models import Event, Post, PostTarget, SocialAccount
from herald.errors import HeraldError, IllegalTransition
from herald.posts import transitions
from herald.posts.status import derive_post_status
from herald.rate_limits import rate_limit_wait
from herald.status import (
    AccountStatus,
    ApprovalStatus,
    Origin,
    PostPhase,
    PostStatus,
    TargetError,
    TargetStatus,
)

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
async def session() -> AsyncIterator[AsyncSession]:
    # Nothing is flushed: the session only collects the rows the transitions add (events).
    engine = create_async_engine("sqlite+aiosqlite://")
    async with AsyncSession(engine) as session:
        yield session
    await engine.dispose()


def _post(phase: PostPhase, *states: TargetStatus, at: datetime | None = NOW) -> Post:
    post = Post(
        id=uuid.uuid4(),
        workspace_id=uuid.uuid4(),
        brand_id=uuid.uuid4(),
        content="hello",
        media_ids=[],
        phase=phase,
        scheduled_at=at,
        version=1,
        created_by_type="api_key",
        created_by_id="author",
        origin=Origin.API,
        created_at=NOW - timedelta(hours=1),
        updated_at=NOW - timedelta(hours=1),
        targets=[
            PostTarget(
                id=uuid.uuid4(),
                account_id=uuid.uuid4(),
                position=i,
                platform="mastodon",
                status=state,
                options={},
                attempts=0,
            )
            for i, state in enumerate(states)
        ],
    )
    post.status = derive_post_status(phase, states)
    return post


def _events(session: AsyncSession) -> list[str]:
    return [row.type for row in session.new if isinstance(row, Event)]


async def test_a_draft_leaves_draft_scheduled_with_its_targets(session: AsyncSession) -> None:
    post = _post(PostPhase.DRAFT, TargetStatus.PENDING, TargetStatus.PENDING, at=None)
    transitions.leave_draft(session, post, PostPhase.SCHEDULED, NOW + timedelta(hours=1))
    assert post.status is PostStatus.SCHEDULED
    assert post.scheduled_at == NOW + timedelta(hours=1)
    assert {t.status for t in post.targets} == {TargetStatus.SCHEDULED}
    assert post.version == 2
    assert _events(session) == ["post.scheduled"]


async def test_the_rules_refuse_what_a_state_does_not_allow(session: AsyncSession) -> None:
    published = _post(PostPhase.SCHEDULED, TargetStatus.PUBLISHED)
    with pytest.raises(IllegalTransition, match="cannot delete a post that is published"):
        transitions.refuse_unless(published, transitions.DELETABLE, "delete")
    with pytest.raises(IllegalTransition, match="only posts that have not started"):
        transitions.refuse_unless_editable(published)
    waiting = _post(PostPhase.SCHEDULED, TargetStatus.SCHEDULED)
    with pytest.raises(IllegalTransition, match="cannot archive a post that is scheduled"):
        transitions.archive(session, waiting)
    assert waiting.phase is PostPhase.SCHEDULED and _events(session) == []
    transitions.archive(session, published)
    assert published.status is PostStatus.ARCHIVED


async def test_cancel_reschedule_and_publish_now(session: AsyncSession) -> None:
    post = _post(PostPhase.SCHEDULED, TargetStatus.SCHEDULED, TargetStatus.PUBLISHED)
    post.targets[0].scheduled_at = NOW + timedelta(minutes=5)  # a queue slot
    later = NOW + timedelta(days=1)
    assert transitions.reschedule(session, post, later) is PostStatus.PROCESSING
    assert post.scheduled_at == later and post.targets[0].scheduled_at is None
    assert transitions.publish_now(session, post) is PostStatus.PROCESSING
    assert post.phase is PostPhase.QUEUED
    assert transitions.cancel(session, post) is PostStatus.PUBLISHED  # the live target stays
    assert [t.status for t in post.targets] == [TargetStatus.CANCELLED, TargetStatus.PUBLISHED]
    assert post.version == 4


async def test_an_approval_decides_the_phase(session: AsyncSession) -> None:
    post = _post(PostPhase.SCHEDULED, TargetStatus.SCHEDULED)
    transitions.request_approval(session, post, NOW)
    assert (post.status, post.approval_status) == (
        PostStatus.PENDING_APPROVAL,
        ApprovalStatus.PENDING,
    )
    with pytest.raises(HeraldError, match="author cannot approve"):
        transitions.refuse_unless_decidable(post, "author")
    phase = transitions.decide_approval(
        session, post, ApprovalStatus.REJECTED, "reviewer", "off-brand", NOW
    )
    assert phase is PostPhase.REJECTED and post.targets[0].status is TargetStatus.CANCELLED
    assert transitions.frees_slots(ApprovalStatus.REJECTED)
    assert _events(session) == ["post.approval_requested", "post.rejected"]
    with pytest.raises(IllegalTransition, match="already rejected"):
        transitions.refuse_unless_decidable(post, "reviewer")


async def test_an_approved_post_without_a_time_publishes_at_once(session: AsyncSession) -> None:
    post = _post(PostPhase.PENDING_APPROVAL, TargetStatus.SCHEDULED, at=None)
    phase = transitions.decide_approval(
        session, post, ApprovalStatus.APPROVED, "reviewer", None, NOW
    )
    assert phase is PostPhase.QUEUED and post.status is PostStatus.QUEUED


async def test_a_batch_marks_due_targets_and_counts_only_fresh_attempts(
    session: AsyncSession,
) -> None:
    post = _post(
        PostPhase.SCHEDULED, TargetStatus.SCHEDULED, TargetStatus.SCHEDULED, TargetStatus.PUBLISHING
    )
    due_now, later, interrupted = post.targets
    later.scheduled_at = NOW + timedelta(hours=2)
    interrupted.attempts = 1
    batch = transitions.start_batch(session, post, None, publish_all=False, at=NOW, now=NOW)
    assert batch.due == [due_now, interrupted] and batch.later == [later]
    assert batch.fresh == {due_now.id}
    assert (due_now.attempts, interrupted.attempts) == (1, 1)
    assert due_now.first_attempt_at == NOW
    assert transitions.earliest(post, batch.later) == later.scheduled_at
    assert post.status is PostStatus.PROCESSING


async def test_a_claim_counts_the_attempt_or_fails_an_inactive_account(
    session: AsyncSession,
) -> None:
    post = _post(PostPhase.QUEUED, TargetStatus.PUBLISHING, TargetStatus.SCHEDULED)
    first, second = post.targets
    first.attempts, first.first_attempt_at = 1, NOW
    active = SocialAccount(platform="mastodon", username="a", status=AccountStatus.ACTIVE)
    assert transitions.claim(session, post, first, active, NOW + timedelta(seconds=5)) == NOW
    assert first.attempts == 2 and not transitions.is_decided(first)
    expired = SocialAccount(platform="x", username="b", status=AccountStatus.EXPIRED)
    assert transitions.claim(session, post, second, expired, NOW) is None
    assert transitions.is_decided(second)
    assert (second.status, second.error_code, second.error_retryable) == (
        TargetStatus.FAILED,
        TargetError.ACCOUNT_INACTIVE,
        False,
    )
    assert second.error_message == "the x account @b is expired"


async def test_a_rate_limit_gives_the_attempt_back_and_a_named_reset_holds_the_account(
    session: AsyncSession,
) -> None:
    post = _post(PostPhase.QUEUED, TargetStatus.SCHEDULED, TargetStatus.SCHEDULED)
    first, second = post.targets
    account = SocialAccount(platform="x", username="a", status=AccountStatus.ACTIVE)
    assert transitions.claim(session, post, first, account, NOW) is None
    reset = NOW + timedelta(minutes=15)
    transitions.rate_limited(first, "Too Many Requests", reset, hold=account)
    assert (first.attempts, first.error_code, first.next_attempt_at) == (
        0,
        TargetError.RATE_LIMITED,
        reset,
    )
    assert rate_limit_wait(account, NOW) == reset
    assert rate_limit_wait(account, reset) is None  # over once it resets
    # An earlier reset named later (another endpoint, a stale answer) does not shorten it.
    transitions.claim(session, post, second, account, NOW)
    transitions.rate_limited(second, "Too Many Requests", NOW + timedelta(minutes=1), hold=account)
    assert account.rate_limited_until == reset
    # The given-back attempt still counts as one that may have reached the platform.
    assert transitions.claim(session, post, first, account, reset) == NOW
    assert first.attempts == 1
    # Its batch counted it already: the claim does not count it twice.
    assert transitions.claim(session, post, second, account, reset, counted=True) == NOW
    assert second.attempts == 0


async def test_retry_requeues_failed_targets_and_reports_the_others(
    session: AsyncSession,
) -> None:
    post = _post(PostPhase.QUEUED, TargetStatus.FAILED, TargetStatus.PUBLISHED)
    failed, published = post.targets
    failed.error_code, failed.error_message = "rejected", "too long"
    unknown = uuid.uuid4()
    results = transitions.requeue_for_retry(session, post, [failed.id, published.id, unknown])
    assert [(r.target_id, r.status) for r in results] == [
        (failed.id, "queued"),
        (published.id, "skipped"),
        (unknown, "skipped"),
    ]
    assert results[1].error == {
        "code": "CONFLICT",
        "message": "the target is published; only failed targets retry",
    }
    assert results[2].error == {"code": "NOT_FOUND", "message": "no such target on this post"}
    assert failed.status is TargetStatus.SCHEDULED and failed.error_code is None
    assert post.status is PostStatus.PROCESSING

    with pytest.raises(IllegalTransition, match="only a failed target is fixed"):
        transitions.requeue_for_fix(session, post, published.id, {"content": "x"})
