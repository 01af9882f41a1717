"""The reconciler: no post stays stuck. Every post that should be executing is checked against
Temporal; a lost start is started, a run that ended early is resumed for its unfinished
targets, and what cannot be repaired is reported. The same for the API's other jobs that start
a workflow after their commit: a media validation or an analytics export whose start was lost
is started. (A URL import whose start was lost stays pending: its URL, which may carry a token
of the file's host, is not stored, and a mirror's imports run inside its own workflow, so a
pending import without a workflow of its own is not always a lost one.)

Temporal's list of running post workflows is read once per pass (pages of LIST_PAGE): only the
posts missing from it are described one by one, instead of every sleeping post each minute."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import select, tuple_
from temporalio import activity
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from herald import temporal as names
from herald.db.engine import SessionFactory
from herald.db.models import AnalyticsExport, MediaValidation, Post, SocialAccount
from herald.db.types import utcnow
from herald.metrics import RECONCILER_REPAIRS
from herald.payloads import Disagreement, ReconcileReport
from herald.posts import transitions
from herald.repositories.posts import lock_target_and_post
from herald.status import (
    WAITING_TARGET_STATES,
    AccountStatus,
    MediaValidationStatus,
    PostPhase,
    PostStatus,
    TargetStatus,
)

log = logging.getLogger(__name__)

PAGE = 500
LIST_PAGE = 1000
# The API starts a post's workflow right after committing it; give it that long.
START_GRACE = timedelta(seconds=30)
SHOULD_RUN = (PostStatus.SCHEDULED, PostStatus.QUEUED, PostStatus.PROCESSING)


class Starts(Protocol):
    """The workflow starts a repair makes (the API's TemporalGateway, handed in by the worker)."""

    async def start_post(self, post: Post) -> bool: ...
    async def start_run(self, post: Post, target_ids: list[uuid.UUID]) -> None: ...
    async def ensure_account_tokens(self, account_id: uuid.UUID) -> None: ...
    async def ensure_analytics(self, account_id: uuid.UUID) -> None: ...
    async def start_media_validation(self, validation_id: uuid.UUID) -> None: ...
    async def start_export(self, export_id: uuid.UUID) -> None: ...


class ReconcilerActivities:
    def __init__(
        self, sessions: SessionFactory, client: Client, starts: Starts, task_queue: str
    ) -> None:
        self._sessions = sessions
        self._client = client
        self._gateway = starts
        self._task_queue = task_queue

    @activity.defn(name="reconcile_posts")
    async def reconcile_posts(self) -> ReconcileReport:
        report = ReconcileReport()
        cutoff = utcnow() - START_GRACE
        running = await self._running_posts()
        after: tuple[datetime, uuid.UUID] | None = None
        while True:
            async with self._sessions() as session:
                query = select(Post).where(
                    Post.phase.in_((PostPhase.SCHEDULED, PostPhase.QUEUED)),
                    Post.status.in_(SHOULD_RUN),
                    Post.created_at < cutoff,
                )
                if after is not None:
                    query = query.where(tuple_(Post.created_at, Post.id) > tuple_(*after))
                page = (
                    await session.scalars(query.order_by(Post.created_at, Post.id).limit(PAGE))
                ).all()
            for post in page:
                report.checked += 1
                if names.post_workflow_id(post.id) not in running:
                    await self._check(post, report)
                activity.heartbeat(report.checked)
            if len(page) < PAGE:
                break
            after = (page[-1].created_at, page[-1].id)
        await self._watch_expiring_tokens(report)
        await self._keep_analytics_schedules(report)
        await self._repair_lost_jobs(cutoff, report)
        RECONCILER_REPAIRS.inc(len(report.started) + len(report.jobs_started))
        return report

    async def _running_posts(self) -> set[str]:
        """The workflow ids Temporal lists as running post workflows of this deployment. The
        list lags a moment behind: a run missing from it is described (which is exact), and a
        run that closed just now is looked at in the next pass."""
        query = (
            f"WorkflowType = '{names.POST_WORKFLOW}' AND ExecutionStatus = 'Running' "
            f"AND TaskQueue = '{self._task_queue}'"
        )
        running: set[str] = set()
        async for execution in self._client.list_workflows(query, page_size=LIST_PAGE):
            running.add(execution.id)
            if len(running) % LIST_PAGE == 0:
                activity.heartbeat(f"listed {len(running)} running posts")
        return running

    async def _watch_expiring_tokens(self, report: ReconcileReport) -> None:
        """Every active account whose token expires has its token workflow (a start that was
        lost when the account connected is made here; a running one is left alone)."""
        async with self._sessions() as session:
            account_ids = (
                await session.scalars(
                    select(SocialAccount.id).where(
                        SocialAccount.status == AccountStatus.ACTIVE,
                        SocialAccount.token_expires_at.is_not(None),
                    )
                )
            ).all()
        for account_id in account_ids:
            await self._gateway.ensure_account_tokens(account_id)
        report.token_accounts_checked = len(account_ids)

    async def _keep_analytics_schedules(self, report: ReconcileReport) -> None:
        """Every active account has its analytics schedule: one whose making was lost (Temporal
        away at connect), or an account older than analytics, gets it here. One listing of
        the schedules, then a create for each account missing from it."""
        async with self._sessions() as session:
            active = (
                await session.scalars(
                    select(SocialAccount.id).where(SocialAccount.status == AccountStatus.ACTIVE)
                )
            ).all()
        if not active:
            return
        listed = {entry.id async for entry in await self._client.list_schedules()}
        for account_id in active:
            if names.analytics_schedule_id(account_id) not in listed:
                await self._gateway.ensure_analytics(account_id)
                report.analytics_schedules_made += 1

    async def _repair_lost_jobs(self, cutoff: datetime, report: ReconcileReport) -> None:
        """Validations and exports still pending past the start grace whose workflow Temporal
        has never heard of (there are few: each is described)."""
        async with self._sessions() as session:
            validations = (
                await session.scalars(
                    select(MediaValidation.id).where(
                        MediaValidation.status == MediaValidationStatus.PENDING,
                        MediaValidation.created_at < cutoff,
                    )
                )
            ).all()
            exports = (
                await session.scalars(
                    select(AnalyticsExport.id).where(
                        AnalyticsExport.status == "pending", AnalyticsExport.created_at < cutoff
                    )
                )
            ).all()
        for validation_id in validations:
            workflow_id = names.media_validation_workflow_id(validation_id)
            if not await self._exists(workflow_id):
                await self._gateway.start_media_validation(validation_id)
                report.jobs_started.append(workflow_id)
        for export_id in exports:
            workflow_id = names.analytics_export_workflow_id(export_id)
            if not await self._exists(workflow_id):
                await self._gateway.start_export(export_id)
                report.jobs_started.append(workflow_id)
        for workflow_id in report.jobs_started:
            log.warning("%s had no workflow: started it", workflow_id)

    async def _exists(self, workflow_id: str) -> bool:
        try:
            await self._client.get_workflow_handle(workflow_id).describe()
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND:
                raise
            return False
        return True

    async def _check(self, post: Post, report: ReconcileReport) -> None:
        handle = self._client.get_workflow_handle(names.post_workflow_id(post.id))
        report.described += 1
        try:
            description = await handle.describe()
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND:
                raise
            log.warning("post %s had no workflow: starting it", post.id)
            if await self._gateway.start_post(post):
                report.started.append(str(post.id))
            return
        if description.status == WorkflowExecutionStatus.RUNNING:
            return
        unfinished = [
            t
            for t in post.targets
            if t.status in WAITING_TARGET_STATES or t.status == TargetStatus.PUBLISHING
        ]
        if not unfinished:
            return
        # The run ended (completed, terminated, failed) with targets still waiting or
        # publishing: resume them; a target it was publishing is retried after the adapter
        # looks for what the interrupted call may have posted.
        await self._requeue([t.id for t in unfinished if t.status == TargetStatus.PUBLISHING])
        await self._gateway.start_run(post, [t.id for t in unfinished])
        report.started.append(str(post.id))
        status = description.status.name if description.status else "UNKNOWN"
        report.disagreements.append(
            Disagreement(post_id=str(post.id), db_status=post.status, workflow_status=status)
        )
        log.warning("post %s: its run ended %s with unfinished targets; resumed", post.id, status)

    async def _requeue(self, target_ids: list[uuid.UUID]) -> None:
        if not target_ids:
            return
        async with self._sessions() as session, session.begin():
            for target_id in target_ids:
                found = await lock_target_and_post(session, target_id)
                if found is not None:
                    transitions.requeue_interrupted(found[0])
