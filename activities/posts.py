"""The post workflow's database steps: load the plan, start a batch, record a schedule change
or an approval decision, record a failure the workflow decided, and finalize. Each is one
transaction over the state machine in herald.posts.transitions; publishing itself is in
activities.publish."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.outcomes import OutcomeStore
from herald.db.engine import SessionFactory
from herald.db.models import Post, PostTarget, Workspace
from herald.db.types import utcnow
from herald.metrics import TARGETS_FAILED
from herald.payloads import (
    ApprovalChange,
    PostPlan,
    PostWorkflowInput,
    PublishBatch,
    RetrySchedule,
    ScheduleChange,
    ScheduleChangeKind,
    StartPublishing,
    TargetFailure,
    TargetOutcome,
    TargetRef,
)
from herald.posts import transitions
from herald.posts.creation import post_facts
from herald.posts.status import refresh_status
from herald.principal import Actor, ActorType, system_actor
from herald.repositories.posts import get_post_for_execution
from herald.services import audit
from herald.services.queues import release_queue_slots
from herald.status import PostPhase, PostStatus

_SCHEDULE_ACTIONS = {
    ScheduleChangeKind.RESCHEDULE: "post.rescheduled",
    ScheduleChangeKind.PUBLISH_NOW: "post.publish_requested",
    ScheduleChangeKind.CANCEL: "post.cancelled",
}


def _actor(actor_type: str | None, actor_id: str | None, otherwise: str) -> Actor:
    """Who asked for the change the workflow carries; Herald itself when nobody did (a
    timeout), or when the Update was recorded before it named its caller."""
    if actor_type is None or actor_id is None:
        return system_actor(otherwise)
    return Actor(ActorType(actor_type), actor_id)


class PostActivities:
    def __init__(
        self,
        sessions: SessionFactory,
        max_attempts: int,
        read_sessions: SessionFactory | None = None,
        publish_retry: RetrySchedule | None = None,
        outcomes: OutcomeStore | None = None,
        publish_deadline_s: float = 86400.0,
    ) -> None:
        self._publish_deadline_s = publish_deadline_s
        self._sessions = sessions
        self._outcomes = outcomes or OutcomeStore(sessions)
        self._publish_retry = publish_retry or RetrySchedule()
        # Sessions that never write: on SQLite they take no write lock.
        self._read_sessions = read_sessions or sessions
        self._max_attempts = max_attempts

    async def _existing(self, session: AsyncSession, post_id: str) -> Post:
        post = await get_post_for_execution(session, uuid.UUID(post_id))
        if post is None:
            raise ApplicationError("post no longer exists", non_retryable=True)
        return post

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
        targets = transitions.unfinished_targets(post, input.target_ids)
        return PostPlan(
            post_id=str(post.id),
            workspace_id=str(post.workspace_id),
            phase=post.phase,
            status=post.status,
            scheduled_at=post.scheduled_at,
            targets=[TargetRef(id=str(t.id), platform=t.platform) for t in targets],
            max_attempts=self._max_attempts,
            publish_retry=self._publish_retry,
            publish_deadline_s=self._publish_deadline_s,
            next_due=transitions.earliest(post, targets),
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
        async with self._sessions() as session, session.begin():
            post = await self._existing(session, change.post_id)
            if transitions.frees_slots(change.decision):
                await release_queue_slots(session, post)
            now = utcnow()
            phase = transitions.decide_approval(
                session, post, change.decision, change.actor_id, change.reason, now
            )
            audit.record_as(
                session,
                post.workspace_id,
                _actor(change.actor_type, change.actor_id, "approval-timeout"),
                f"approval.{change.decision.value}",
                "post",
                post.id,
                post_facts(post, reason=change.reason),
                now,
            )
            return phase

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
        """Starts the batch and says when the next waiting target is due."""
        batch = transitions.start_batch(
            session,
            post,
            input.target_ids,
            publish_all=input.publish_all,
            at=input.now,
            now=utcnow(),
        )
        return PublishBatch(
            targets=[
                TargetRef(id=str(t.id), platform=t.platform, fresh=t.id in batch.fresh)
                for t in batch.due
            ],
            next_due=transitions.earliest(post, batch.later) if batch.later else None,
            platforms=sorted({t.platform for t in post.targets}),
        )

    @activity.defn(name="apply_schedule_change")
    async def apply_schedule_change(self, change: ScheduleChange) -> PostStatus:
        async with self._sessions() as session, session.begin():
            post = await self._existing(session, change.post_id)
            status = await self._apply(session, post, change)
            audit.record_as(
                session,
                post.workspace_id,
                _actor(change.actor_type, change.actor_id, "post-workflow"),
                _SCHEDULE_ACTIONS[change.kind],
                "post",
                post.id,
                post_facts(post),
            )
            return status

    @staticmethod
    async def _apply(session: AsyncSession, post: Post, change: ScheduleChange) -> PostStatus:
        if change.kind is ScheduleChangeKind.PUBLISH_NOW:
            return transitions.publish_now(session, post)
        # Cancelled or moved to one new time: the queue slots it held are free again.
        await release_queue_slots(session, post)
        if change.kind is ScheduleChangeKind.CANCEL:
            return transitions.cancel(session, post)
        assert change.scheduled_at is not None
        return transitions.reschedule(session, post, change.scheduled_at)

    @activity.defn(name="record_target_failure")
    async def record_target_failure(self, failure: TargetFailure) -> TargetOutcome:
        outcome = await self._outcomes.store_failure(
            failure.target_id, failure.code, failure.message, failure.retryable
        )
        async with self._read_sessions() as session:  # rare: a target out of time
            platform = await session.scalar(
                select(PostTarget.platform).where(PostTarget.id == uuid.UUID(failure.target_id))
            )
        TARGETS_FAILED.labels(platform or "unknown", failure.code).inc()
        return outcome

    @activity.defn(name="finalize_post")
    async def finalize_post(self, post_id: str) -> PostStatus:
        async with self._sessions() as session, session.begin():
            post = await self._existing(session, post_id)
            return refresh_status(session, post)
