"""Starts and steers post workflows from the API: one Temporal client, lazily (re)connected."""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

from pydantic import BaseModel
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
)
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from herald import temporal as names
from herald.db.models import Post
from herald.errors import HeraldError
from herald.payloads import (
    AccountTokensInput,
    MediaImportInput,
    MirrorInput,
    PostWorkflowInput,
    UnpublishInput,
)
from herald.settings import Settings
from herald.status import PostPhase, PostStatus

log = logging.getLogger(__name__)

# The ApplicationError type workflow Update validators raise for a change the state forbids.
ILLEGAL_TRANSITION = "IllegalTransition"


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
                    raise HeraldError.unavailable("the workflow engine is unreachable") from exc
            return self._client

    async def check(self) -> None:
        client = await self.client()
        try:
            await asyncio.wait_for(client.service_client.check_health(), 3)
        except (RPCError, RuntimeError, TimeoutError) as exc:
            raise HeraldError.unavailable("the workflow engine is unreachable") from exc

    async def start_post(self, post: Post) -> bool:
        """Starts `post/{id}`; a second start of the same id is a no-op. False if Temporal
        could not be reached: the post is stored and the reconciler starts it later."""
        try:
            client = await self.client()
            await client.start_workflow(
                "PostWorkflow",
                PostWorkflowInput(
                    post_id=str(post.id),
                    expect_due=post.phase is PostPhase.QUEUED,
                    lean_publish=True,
                ),
                id=names.post_workflow_id(post.id),
                task_queue=self._settings.temporal_task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                search_attributes=post_search_attributes(post),
            )
        except (HeraldError, RPCError, RuntimeError) as exc:
            log.error("could not start the workflow of post %s: %s", post.id, exc)
            return False
        return True

    async def update_post(self, post_id: uuid.UUID, update: str, arg: BaseModel | None) -> str:
        """Runs a workflow Update; its validator's refusal becomes 409, as does a post whose
        workflow is no longer running."""
        client = await self.client()
        handle = client.get_workflow_handle(names.post_workflow_id(post_id))
        try:
            args = [arg] if arg is not None else []
            result = await handle.execute_update(update, args=args, result_type=str)
        except WorkflowUpdateFailedError as err:
            cause = err.cause
            if isinstance(cause, ApplicationError) and cause.type == ILLEGAL_TRANSITION:
                raise HeraldError.conflict(cause.message) from err
            raise HeraldError.conflict(f"the change was refused: {cause}") from err
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                raise HeraldError.conflict("the post is no longer waiting to publish") from err
            raise HeraldError.unavailable("the workflow engine is unreachable") from err
        return str(result)

    async def start_run(self, post: Post, target_ids: list[uuid.UUID]) -> None:
        """A new run under `post/{id}` for these targets (retry, fix). The previous run may be
        finishing its last step, so a start that finds it still open is tried again briefly."""
        client = await self.client()
        for attempt in range(50):
            try:
                await client.start_workflow(
                    "PostWorkflow",
                    PostWorkflowInput(
                        post_id=str(post.id),
                        target_ids=[str(t) for t in target_ids],
                        lean_publish=True,
                    ),
                    id=names.post_workflow_id(post.id),
                    task_queue=self._settings.temporal_task_queue,
                    id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
                    search_attributes=post_search_attributes(post),
                )
                return
            except WorkflowAlreadyStartedError:
                await asyncio.sleep(min(0.05 * (attempt + 1), 0.5))
            except RPCError as err:
                raise HeraldError.unavailable("the workflow engine is unreachable") from err
        raise HeraldError.conflict("the post's previous run is still finishing; try again")

    async def start_unpublish(self, post: Post) -> None:
        client = await self.client()
        try:
            await client.start_workflow(
                "UnpublishWorkflow",
                UnpublishInput(post_id=str(post.id)),
                id=names.unpublish_workflow_id(post.id),
                task_queue=self._settings.temporal_task_queue,
                # A second unpublish while one runs joins it; after it ends, runs again.
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            )
        except RPCError as err:
            raise HeraldError.unavailable("the workflow engine is unreachable") from err

    async def start_media_import(self, media_id: uuid.UUID, url: str) -> None:
        client = await self.client()
        try:
            await client.start_workflow(
                "MediaImportWorkflow",
                MediaImportInput(media_id=str(media_id), url=url),
                id=f"media-import/{media_id}",
                task_queue=self._settings.temporal_task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            )
        except RPCError as err:
            raise HeraldError.unavailable("the workflow engine is unreachable") from err

    async def start_mirror(self, mirror_id: uuid.UUID) -> None:
        client = await self.client()
        try:
            await client.start_workflow(
                "MirrorWorkflow",
                MirrorInput(
                    mirror_id=str(mirror_id),
                    poll_interval_s=self._settings.mirror_poll_interval_s,
                ),
                id=f"mirror/{mirror_id}",
                task_queue=self._settings.temporal_task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            )
        except RPCError as err:
            raise HeraldError.unavailable("the workflow engine is unreachable") from err

    async def signal_mirror(self, mirror_id: uuid.UUID, update: str) -> None:
        """pause / resume / poll_now; a mirror whose workflow is gone is started again."""
        client = await self.client()
        handle = client.get_workflow_handle(f"mirror/{mirror_id}")
        try:
            await handle.execute_update(update)
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND:
                raise HeraldError.unavailable("the workflow engine is unreachable") from err
            await self.start_mirror(mirror_id)

    async def stop_mirror(self, mirror_id: uuid.UUID) -> None:
        client = await self.client()
        try:
            await client.get_workflow_handle(f"mirror/{mirror_id}").terminate("mirror deleted")
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND:
                raise HeraldError.unavailable("the workflow engine is unreachable") from err

    async def watch_account_tokens(self, account_id: uuid.UUID) -> None:
        """Starts the account's token workflow, or tells the running one its tokens changed."""
        client = await self.client()
        workflow_id = names.account_tokens_workflow_id(account_id)
        try:
            handle = await client.start_workflow(
                "AccountTokensWorkflow",
                AccountTokensInput(account_id=str(account_id)),
                id=workflow_id,
                task_queue=self._settings.temporal_task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            )
            await handle.signal("tokens_changed")
        except RPCError as err:
            raise HeraldError.unavailable("the workflow engine is unreachable") from err

    async def ensure_account_tokens(self, account_id: uuid.UUID) -> None:
        """Starts the account's token workflow unless one runs (then this changes nothing)."""
        client = await self.client()
        try:
            await client.start_workflow(
                "AccountTokensWorkflow",
                AccountTokensInput(account_id=str(account_id)),
                id=names.account_tokens_workflow_id(account_id),
                task_queue=self._settings.temporal_task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            )
        except RPCError as err:
            raise HeraldError.unavailable("the workflow engine is unreachable") from err

    async def account_tokens_changed(self, account_id: uuid.UUID) -> None:
        """Wakes the account's token workflow (after a disconnect); none running is fine."""
        client = await self.client()
        handle = client.get_workflow_handle(names.account_tokens_workflow_id(account_id))
        try:
            await handle.signal("tokens_changed")
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND:
                raise HeraldError.unavailable("the workflow engine is unreachable") from err
