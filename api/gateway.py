"""Starts and steers Herald's workflows: one Temporal client per process, lazily (re)connected,
and typed references to the workflows it calls (`PostWorkflow.run`, `PostWorkflow.cancel`).

It lives above `workflows/` (it imports the definitions for those references); the core only
knows it through herald.posts.commands.PostWorkflows, and the worker's reconciler is handed one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from temporalio.client import (
    Client,
    ScheduleAlreadyRunningError,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from herald import temporal as names
from herald.db.models import Post
from herald.errors import HeraldError, IllegalTransition
from herald.payloads import (
    AccountTokensInput,
    AnalyticsExportInput,
    AnalyticsSyncInput,
    ApprovalDecision,
    MediaImportInput,
    MediaValidationInput,
    MirrorInput,
    PostWorkflowInput,
    RescheduleRequest,
    ScheduleRequest,
    UnpublishInput,
)
from herald.principal import Actor
from herald.schedules import analytics_schedule
from herald.settings import Settings
from herald.status import PostPhase, PostStatus
from workflows.account_tokens import AccountTokensWorkflow
from workflows.analytics_export import AnalyticsExportWorkflow
from workflows.analytics_sync import AnalyticsSyncWorkflow
from workflows.media_import import MediaImportWorkflow
from workflows.media_validation import MediaValidationWorkflow
from workflows.mirror import MirrorWorkflow
from workflows.post import PostWorkflow
from workflows.unpublish import UnpublishWorkflow

log = logging.getLogger(__name__)


def _status_at_start(post: Post) -> PostStatus:
    # A post to publish now starts publishing in the workflow's first activity: show it as
    # processing from the start, which spares its workflow one search-attribute upsert (a
    # history event and a visibility write per post).
    if post.phase is PostPhase.QUEUED and post.status is PostStatus.QUEUED:
        return PostStatus.PROCESSING
    return post.status


def post_search_attributes(post: Post) -> TypedSearchAttributes:
    """What operators filter on in the Temporal UI, set when the workflow starts."""
    pairs: list[SearchAttributePair[Any]] = [
        SearchAttributePair(names.POST_ID, str(post.id)),
        SearchAttributePair(names.WORKSPACE_ID, str(post.workspace_id)),
        SearchAttributePair(names.PLATFORMS, sorted({t.platform for t in post.targets})),
        SearchAttributePair(names.STATUS, _status_at_start(post).value),
    ]
    if post.scheduled_at is not None:
        pairs.append(SearchAttributePair(names.SCHEDULED_AT, post.scheduled_at))
    return TypedSearchAttributes(pairs)


class TemporalGateway:
    """Holds the process's one Temporal client; connects on first use so the API can start
    (and answer 503 with Retry-After) while Temporal is still coming up."""

    def __init__(self, settings: Settings, client: Client | None = None) -> None:
        self._settings = settings
        self._client = client
        self._lock = asyncio.Lock()

    @property
    def task_queue(self) -> str:
        return self._settings.temporal_task_queue

    async def client(self) -> Client:
        if self._client is not None:
            return self._client
        async with self._lock:
            if self._client is None:
                try:
                    self._client = await asyncio.wait_for(names.connect(self._settings), 5)
                except (RuntimeError, OSError, TimeoutError) as exc:
                    raise HeraldError.engine_unreachable() from exc
            return self._client

    async def check(self) -> None:
        client = await self.client()
        try:
            await asyncio.wait_for(client.service_client.check_health(), 3)
        except (RPCError, RuntimeError, TimeoutError) as exc:
            raise HeraldError.engine_unreachable() from exc

    # --- posts ------------------------------------------------------------------------------

    async def start_post(self, post: Post) -> bool:
        """Starts `post/{id}`; a second start of the same id is a no-op. False if Temporal
        could not be reached: the post is stored and the reconciler starts it later."""
        try:
            client = await self.client()
            await client.start_workflow(
                PostWorkflow.run,
                PostWorkflowInput(
                    post_id=str(post.id),
                    expect_due=post.phase is PostPhase.QUEUED,
                    lean_publish=True,
                    local_steps=True,
                    batch_publish=True,
                ),
                id=names.post_workflow_id(post.id),
                task_queue=self.task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                search_attributes=post_search_attributes(post),
            )
        except (HeraldError, RPCError, RuntimeError) as exc:
            log.error("could not start the workflow of post %s: %s", post.id, exc)
            return False
        return True

    async def start_run(self, post: Post, target_ids: list[uuid.UUID]) -> None:
        """A new run under `post/{id}` for these targets (retry, fix). The previous run may be
        finishing its last step, so a start that finds it still open is tried again briefly."""
        client = await self.client()
        for attempt in range(50):
            try:
                with names.engine_call():
                    await client.start_workflow(
                        PostWorkflow.run,
                        PostWorkflowInput(
                            post_id=str(post.id),
                            target_ids=[str(t) for t in target_ids],
                            lean_publish=True,
                            local_steps=True,
                            batch_publish=True,
                        ),
                        id=names.post_workflow_id(post.id),
                        task_queue=self.task_queue,
                        id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
                        search_attributes=post_search_attributes(post),
                    )
                return
            except WorkflowAlreadyStartedError:
                await asyncio.sleep(min(0.05 * (attempt + 1), 0.5))
        raise HeraldError.conflict("the post's previous run is still finishing; try again")

    async def _post(self, post_id: uuid.UUID) -> WorkflowHandle[PostWorkflow, Any]:
        client = await self.client()
        return client.get_workflow_handle_for(PostWorkflow.run, names.post_workflow_id(post_id))

    @contextlib.contextmanager
    def _post_update(self) -> Iterator[None]:
        """A validator's refusal becomes 409, as does a post whose workflow is not running."""
        try:
            yield
        except WorkflowUpdateFailedError as err:
            cause = err.cause
            if isinstance(cause, ApplicationError) and cause.type == names.ILLEGAL_TRANSITION:
                raise IllegalTransition(cause.message) from err
            raise HeraldError.conflict(f"the change was refused: {cause}") from err
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                raise HeraldError.conflict("the post is no longer waiting to publish") from err
            raise HeraldError.engine_unreachable() from err

    async def reschedule(self, post_id: uuid.UUID, at: datetime, actor: Actor) -> None:
        handle = await self._post(post_id)
        request = RescheduleRequest(scheduled_at=at, actor_type=actor.type.value, actor_id=actor.id)
        with self._post_update():
            await handle.execute_update(PostWorkflow.reschedule, request)

    async def publish_now(self, post_id: uuid.UUID, actor: Actor) -> None:
        handle = await self._post(post_id)
        request = ScheduleRequest(actor_type=actor.type.value, actor_id=actor.id)
        with self._post_update():
            await handle.execute_update(PostWorkflow.publish_now, request)

    async def cancel(self, post_id: uuid.UUID, actor: Actor) -> None:
        handle = await self._post(post_id)
        request = ScheduleRequest(actor_type=actor.type.value, actor_id=actor.id)
        with self._post_update():
            await handle.execute_update(PostWorkflow.cancel, request)

    async def approve(self, post_id: uuid.UUID, decision: ApprovalDecision) -> None:
        handle = await self._post(post_id)
        with self._post_update():
            await handle.execute_update(PostWorkflow.approve, decision)

    async def reject(self, post_id: uuid.UUID, decision: ApprovalDecision) -> None:
        handle = await self._post(post_id)
        with self._post_update():
            await handle.execute_update(PostWorkflow.reject, decision)

    async def start_unpublish(self, post: Post) -> None:
        client = await self.client()
        with names.engine_call():
            await client.start_workflow(
                UnpublishWorkflow.run,
                UnpublishInput(post_id=str(post.id)),
                id=names.unpublish_workflow_id(post.id),
                task_queue=self.task_queue,
                # A second unpublish while one runs joins it; after it ends, runs again.
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                search_attributes=post_search_attributes(post),
            )

    # --- media, mirrors, accounts -----------------------------------------------------------

    async def start_media_import(self, media_id: uuid.UUID, url: str) -> None:
        client = await self.client()
        with names.engine_call():
            await client.start_workflow(
                MediaImportWorkflow.run,
                MediaImportInput(media_id=str(media_id), url=url),
                id=names.media_import_workflow_id(media_id),
                task_queue=self.task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            )

    async def import_media_and_wait(self, media_id: uuid.UUID, url: str, wait_s: float) -> bool:
        """Starts the import as `start_media_import` does and waits up to `wait_s` for it to
        settle the media; False if it is still running (or its workflow failed): the media
        stays pending and the import goes on."""
        await self.start_media_import(media_id, url)
        client = await self.client()
        handle = client.get_workflow_handle(names.media_import_workflow_id(media_id))
        try:
            with names.engine_call():
                await asyncio.wait_for(handle.result(), wait_s)
        except (TimeoutError, WorkflowFailureError):
            return False
        return True

    async def start_media_validation(self, validation_id: uuid.UUID) -> None:
        client = await self.client()
        with names.engine_call():
            await client.start_workflow(
                MediaValidationWorkflow.run,
                MediaValidationInput(validation_id=str(validation_id)),
                id=names.media_validation_workflow_id(validation_id),
                task_queue=self.task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            )

    async def start_mirror(self, mirror_id: uuid.UUID) -> None:
        client = await self.client()
        with names.engine_call():
            await client.start_workflow(
                MirrorWorkflow.run,
                MirrorInput(
                    mirror_id=str(mirror_id),
                    poll_interval_s=self._settings.mirror_poll_interval_s,
                ),
                id=names.mirror_workflow_id(mirror_id),
                task_queue=self.task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            )

    async def _mirror_update(self, mirror_id: uuid.UUID, update: Any) -> None:
        """pause / resume / poll_now; a mirror whose workflow is gone is started again."""
        client = await self.client()
        handle = client.get_workflow_handle_for(
            MirrorWorkflow.run, names.mirror_workflow_id(mirror_id)
        )
        try:
            await handle.execute_update(update)
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND:
                raise HeraldError.engine_unreachable() from err
            await self.start_mirror(mirror_id)

    async def pause_mirror(self, mirror_id: uuid.UUID) -> None:
        await self._mirror_update(mirror_id, MirrorWorkflow.pause)

    async def resume_mirror(self, mirror_id: uuid.UUID) -> None:
        await self._mirror_update(mirror_id, MirrorWorkflow.resume)

    async def poll_mirror_now(self, mirror_id: uuid.UUID) -> None:
        await self._mirror_update(mirror_id, MirrorWorkflow.poll_now)

    async def stop_mirror(self, mirror_id: uuid.UUID) -> None:
        client = await self.client()
        with names.engine_call(missing_ok=True):
            handle = client.get_workflow_handle(names.mirror_workflow_id(mirror_id))
            await handle.terminate("mirror deleted")

    async def _start_account_tokens(self, account_id: uuid.UUID) -> WorkflowHandle[Any, Any]:
        client = await self.client()
        return await client.start_workflow(
            AccountTokensWorkflow.run,
            AccountTokensInput(account_id=str(account_id)),
            id=names.account_tokens_workflow_id(account_id),
            task_queue=self.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )

    async def watch_account_tokens(self, account_id: uuid.UUID) -> None:
        """Starts the account's token workflow, or tells the running one its tokens changed."""
        with names.engine_call():
            handle = await self._start_account_tokens(account_id)
            await handle.signal(AccountTokensWorkflow.tokens_changed)

    async def ensure_account_tokens(self, account_id: uuid.UUID) -> None:
        """Starts the account's token workflow unless one runs (then this changes nothing)."""
        with names.engine_call():
            await self._start_account_tokens(account_id)

    async def account_tokens_changed(self, account_id: uuid.UUID) -> None:
        """Wakes the account's token workflow (after a disconnect); none running is fine."""
        client = await self.client()
        handle = client.get_workflow_handle_for(
            AccountTokensWorkflow.run, names.account_tokens_workflow_id(account_id)
        )
        with names.engine_call(missing_ok=True):
            await handle.signal(AccountTokensWorkflow.tokens_changed)

    # --- analytics --------------------------------------------------------------------------

    async def watch_analytics(self, account_id: uuid.UUID) -> None:
        """Creates the account's analytics schedule, or resumes it (after a reconnect)."""
        client = await self.client()
        with names.engine_call():
            try:
                await client.create_schedule(
                    names.analytics_schedule_id(account_id),
                    analytics_schedule(self._settings, str(account_id)),
                )
            except ScheduleAlreadyRunningError:
                handle = client.get_schedule_handle(names.analytics_schedule_id(account_id))
                await handle.unpause(note="account connected")

    async def ensure_analytics(self, account_id: uuid.UUID) -> None:
        """Creates the account's analytics schedule unless it exists (paused or not: a pause
        for refused credentials stays until the account is reconnected)."""
        client = await self.client()
        with names.engine_call(), contextlib.suppress(ScheduleAlreadyRunningError):
            await client.create_schedule(
                names.analytics_schedule_id(account_id),
                analytics_schedule(self._settings, str(account_id)),
            )

    async def stop_analytics(self, account_id: uuid.UUID) -> None:
        """Removes the account's analytics schedule (disconnect); none is fine."""
        client = await self.client()
        with names.engine_call(missing_ok=True):
            await client.get_schedule_handle(names.analytics_schedule_id(account_id)).delete()

    async def start_backfill(self, account_id: uuid.UUID) -> None:
        """A sync of every published post of the account; one already running is joined."""
        client = await self.client()
        with names.engine_call():
            await client.start_workflow(
                AnalyticsSyncWorkflow.run,
                AnalyticsSyncInput(account_id=str(account_id), backfill=True),
                id=names.analytics_backfill_workflow_id(account_id),
                task_queue=self.task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            )

    async def start_export(self, export_id: uuid.UUID) -> None:
        client = await self.client()
        with names.engine_call():
            await client.start_workflow(
                AnalyticsExportWorkflow.run,
                AnalyticsExportInput(export_id=str(export_id)),
                id=names.analytics_export_workflow_id(export_id),
                task_queue=self.task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            )
