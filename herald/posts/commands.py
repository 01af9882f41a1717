"""Post commands: each API operation on posts as one unit of work.

Two ordering rules hold for every command here, which is why they live in one place:
- a change is committed before a workflow is started or steered: the database is the system
  of record for reads, and a start that is lost after the commit is repaired by the
  reconciler, never a workflow without its post;
- the command's transaction is closed before a workflow Update runs, because the Update's
  activity writes the same rows (on SQLite it would wait for our write lock).
After an Update the post is read again, so the answer shows what the workflow stored.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Protocol

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from herald.db.models import Post, Workspace
from herald.db.types import utcnow
from herald.errors import ErrorCode, HeraldError, IllegalTransition
from herald.payloads import ApprovalDecision
from herald.posts import creation, transitions
from herald.posts.checks import check_video
from herald.posts.platform_checks import PlatformRules, stored_drafts
from herald.posts.transitions import RetryResult
from herald.principal import Actor, Principal
from herald.repositories.accounts import get_accounts
from herald.repositories.posts import get_post
from herald.schemas.posts import (
    BatchBody,
    BatchOut,
    BulkBody,
    BulkError,
    BulkItem,
    BulkVideoBody,
    BulkVideoItem,
    FixBody,
    PostCreate,
    PostOut,
    PostPatch,
)
from herald.services import audit
from herald.services.plan_limits import PlanDefaults, PlanLimit, refuse_beyond
from herald.status import Origin, PostPhase, PostStatus


class PostWorkflows(Protocol):
    """What the commands need of the workflow engine (the API's TemporalGateway)."""

    async def start_post(self, post: Post) -> bool: ...
    async def start_run(self, post: Post, target_ids: list[uuid.UUID]) -> None: ...
    async def reschedule(self, post_id: uuid.UUID, at: datetime, actor: Actor) -> None: ...
    async def publish_now(self, post_id: uuid.UUID, actor: Actor) -> None: ...
    async def cancel(self, post_id: uuid.UUID, actor: Actor) -> None: ...
    async def approve(self, post_id: uuid.UUID, decision: ApprovalDecision) -> None: ...
    async def reject(self, post_id: uuid.UUID, decision: ApprovalDecision) -> None: ...
    async def start_unpublish(self, post: Post) -> None: ...


def bulk_error(error: HeraldError) -> BulkError:
    return BulkError(
        code=error.code.value,
        message=error.message,
        details=error.details_json(),
    )


def _invalid_item(err: ValidationError) -> BulkError:
    details = [
        {
            "path": ".".join(str(p) for p in e["loc"]) or "body",
            "message": str(e["msg"]).removeprefix("Value error, "),
        }
        for e in err.errors()
    ]
    return BulkError(code="VALIDATION_ERROR", message=details[0]["message"], details=details)


class PostCommands:
    def __init__(
        self,
        session: AsyncSession,
        workflows: PostWorkflows,
        principal: Principal,
        rules: PlatformRules,
        plan: PlanDefaults,
    ) -> None:
        self._session = session
        self._workflows = workflows
        self._principal = principal
        self._rules = rules
        self._plan = plan
        # The workspace the plan check read, held so the session's identity map (which keeps
        # objects weakly) still has it when the create asks again (its approval setting).
        self._workspace: Workspace | None = None

    # --- reading ----------------------------------------------------------------------------

    async def current(self, post_id: uuid.UUID) -> Post:
        """The post as stored now (after a workflow's activity may have changed it)."""
        post = await get_post(self._session, self._principal.workspace_id, post_id)
        if post is None:
            raise HeraldError.not_found("post")
        return post

    async def _for_change(self, post_id: uuid.UUID, if_match: str | None) -> Post:
        """The post, if it exists in the caller's workspace and If-Match (when sent) is current."""
        post = await self.current(post_id)
        if if_match is not None:
            given = if_match.strip().removeprefix("W/").strip('"')
            if given != str(post.version):
                raise HeraldError(
                    ErrorCode.PRECONDITION_FAILED,
                    f"the post is at version {post.version}, not {given}; fetch it and try again",
                )
        return post

    async def _refuse_unpublishable(self, post: Post, only: uuid.UUID | None = None) -> None:
        """A draft leaving the drafts, or a target fixed (`only`), must publish: its
        platforms' problems are a 400 now, before anything is committed."""
        targets = [t for t in post.targets if only is None or t.id == only]
        accounts = await get_accounts(
            self._session, post.workspace_id, [t.account_id for t in targets]
        )
        positions = {t.position for t in targets}
        drafts = [d for d in await stored_drafts(self._session, post) if d.index in positions]
        await self._rules.refuse_invalid(drafts, accounts)

    def _audit(self, action: str, post: Post, **more: Any) -> None:
        audit.record(
            self._session,
            self._principal,
            action,
            "post",
            post.id,
            creation.post_facts(post, **more),
        )

    async def _refuse_beyond_plan(self, now: datetime) -> None:
        self._workspace = await refuse_beyond(
            self._session, self._plan, self._principal.workspace_id, PlanLimit.POSTS_PER_MONTH, now
        )

    async def _start(self, post: Post) -> Post:
        await self._session.commit()
        await self._workflows.start_post(post)
        return await self.current(post.id)

    # --- creating ---------------------------------------------------------------------------

    async def create(self, body: PostCreate) -> Post:
        now = utcnow()
        await self._refuse_beyond_plan(now)
        post = await creation.create_post(self._session, self._principal, self._rules, body, now)
        await self._session.commit()
        if not body.draft:
            await self._workflows.start_post(post)
        return post

    async def bulk(self, body: BulkBody) -> list[BulkItem]:
        async def parse(raw: dict[str, Any]) -> PostCreate:
            return PostCreate.model_validate(raw)

        return await self._create_each(body.posts, parse)

    async def bulk_video(self, body: BulkVideoBody) -> list[BulkItem]:
        """One post per video, each the shared fields with that video (and its overrides)."""

        async def parse(raw: dict[str, Any]) -> PostCreate:
            video = BulkVideoItem.model_validate(raw)
            await check_video(self._session, self._principal, video.media_id, "media_id")
            return body.post_for(video)

        return await self._create_each(body.videos, parse)

    async def _create_each(
        self,
        items: list[dict[str, Any]],
        parse: Callable[[dict[str, Any]], Awaitable[PostCreate]],
    ) -> list[BulkItem]:
        """Each item succeeds or fails on its own (a savepoint each); the workflows of those
        created start after the one commit."""
        results: list[BulkItem] = []
        created: list[Post] = []
        now = utcnow()
        for index, raw in enumerate(items):
            try:
                item = await parse(raw)
                async with self._session.begin_nested():
                    await self._refuse_beyond_plan(now)
                    post = await creation.create_post(
                        self._session, self._principal, self._rules, item, now, Origin.BULK
                    )
            except ValidationError as err:
                results.append(BulkItem(index=index, status=400, error=_invalid_item(err)))
                continue
            except HeraldError as err:
                results.append(BulkItem(index=index, status=err.http_status, error=bulk_error(err)))
                continue
            created.append(post)
            results.append(BulkItem(index=index, status=201, post=PostOut.of(post)))
        await self._session.commit()
        for post in created:
            if post.status != PostStatus.DRAFT:
                await self._workflows.start_post(post)
        return results

    async def clone(self, post_id: uuid.UUID) -> Post:
        source = await self._for_change(post_id, None)
        now = utcnow()
        await self._refuse_beyond_plan(now)
        copy = creation.copy_post(self._session, source, self._principal, now, None)
        await self._session.commit()
        return await self.current(copy.id)

    async def duplicate(self, post_id: uuid.UUID) -> Post:
        """A copy scheduled as far ahead of now as the original was of its creation."""
        source = await self._for_change(post_id, None)
        now = utcnow()
        await self._refuse_beyond_plan(now)
        at = creation.duplicate_time(source, now)
        copy = creation.copy_post(self._session, source, self._principal, now, at)
        if copy.scheduled_at is not None:
            return await self._start(copy)
        await self._session.commit()
        return await self.current(copy.id)

    # --- changing a waiting post ------------------------------------------------------------

    async def edit(self, post_id: uuid.UUID, body: PostPatch, if_match: str | None) -> Post:
        post = await self._for_change(post_id, if_match)
        moved_to = await creation.edit_post(
            self._session, self._principal, self._rules, post, body, utcnow()
        )
        self._audit("post.updated", post, fields=sorted(body.model_fields_set))
        await self._session.commit()
        if moved_to is not None:
            await self._workflows.reschedule(post_id, moved_to, self._principal.actor)
        return await self.current(post_id)

    async def schedule(self, post_id: uuid.UUID, at: datetime, if_match: str | None) -> Post:
        post = await self._for_change(post_id, if_match)
        transitions.refuse_in_past(at, utcnow())
        if post.status is PostStatus.DRAFT:
            await self._refuse_unpublishable(post)
            transitions.leave_draft(self._session, post, PostPhase.SCHEDULED, at)
            self._audit("post.scheduled", post)
            return await self._start(post)
        if post.status not in transitions.WAITING:
            raise IllegalTransition(f"cannot schedule a post that is {post.status}")
        await self._session.commit()
        await self._workflows.reschedule(post_id, at, self._principal.actor)
        return await self.current(post_id)

    async def publish(self, post_id: uuid.UUID, if_match: str | None) -> Post:
        post = await self._for_change(post_id, if_match)
        if post.status is PostStatus.DRAFT:
            await self._refuse_unpublishable(post)
            transitions.leave_draft(self._session, post, PostPhase.QUEUED, utcnow())
            self._audit("post.publish_requested", post)
            return await self._start(post)
        if post.status is PostStatus.SCHEDULED:
            await self._session.commit()
            await self._workflows.publish_now(post_id, self._principal.actor)
        elif post.status is not PostStatus.QUEUED:
            raise IllegalTransition(f"cannot publish a post that is {post.status}")
        return await self.current(post_id)

    async def cancel(self, post_id: uuid.UUID, if_match: str | None) -> Post:
        post = await self._for_change(post_id, if_match)
        if post.status not in transitions.WAITING:
            raise IllegalTransition(f"cannot cancel a post that is {post.status}")
        await self._session.commit()
        await self._workflows.cancel(post_id, self._principal.actor)
        return await self.current(post_id)

    async def submit(self, post_id: uuid.UUID, at: datetime | None, if_match: str | None) -> Post:
        """A draft goes to approval, to publish at `at` (or at once once approved)."""
        post = await self._for_change(post_id, if_match)
        transitions.refuse_unless(post, transitions.SUBMITTABLE, "submit")
        now = utcnow()
        if at is not None:
            transitions.refuse_in_past(at, now)
        await self._refuse_unpublishable(post)
        transitions.leave_draft(self._session, post, PostPhase.SCHEDULED, at or now)
        transitions.request_approval(self._session, post, now)
        self._audit("post.submitted", post)
        return await self._start(post)

    async def decide(self, post_id: uuid.UUID, approve: bool, reason: str | None) -> Post:
        """A reviewer's decision, recorded by the post's workflow (its Update validator also
        refuses a post that is no longer waiting for approval)."""
        post = await get_post(self._session, self._principal.workspace_id, post_id)
        if post is None or post.approval_status is None:
            raise HeraldError.not_found("approval")
        transitions.refuse_unless_decidable(post, self._principal.actor_id)
        await self._session.commit()
        decision = ApprovalDecision(
            actor_id=self._principal.actor_id,
            actor_type=self._principal.actor_type.value,
            reason=reason,
        )
        if approve:
            await self._workflows.approve(post_id, decision)
        else:
            await self._workflows.reject(post_id, decision)
        return await self.current(post_id)

    # --- finished posts ---------------------------------------------------------------------

    async def delete(self, post_id: uuid.UUID, if_match: str | None) -> None:
        post = await self._for_change(post_id, if_match)
        await creation.delete_post(self._session, post)
        self._audit("post.deleted", post)
        await self._session.commit()

    async def archive(self, post_id: uuid.UUID, if_match: str | None) -> Post:
        post = await self._for_change(post_id, if_match)
        transitions.archive(self._session, post)
        self._audit("post.archived", post)
        await self._session.commit()
        return await self.current(post_id)

    async def retry(
        self, post_id: uuid.UUID, target_ids: list[uuid.UUID] | None, if_match: str | None
    ) -> tuple[Post, list[RetryResult]]:
        """A new run under `post/{id}` for failed targets (all of them, or those named)."""
        post = await self._for_change(post_id, if_match)
        results = transitions.requeue_for_retry(self._session, post, target_ids)
        queued = [r.target_id for r in results if r.status == "queued"]
        if queued:
            self._audit("post.retried", post, target_ids=queued)
        await self._session.commit()
        if queued:
            await self._workflows.start_run(post, queued)
        return await self.current(post_id), results

    async def fix(
        self, post_id: uuid.UUID, target_id: uuid.UUID, body: FixBody, if_match: str | None
    ) -> Post:
        post = await self._for_change(post_id, if_match)
        changes = await creation.fix_changes(
            self._session, self._principal, body.model_dump(exclude_unset=True)
        )
        transitions.requeue_for_fix(self._session, post, target_id, changes)
        await self._refuse_unpublishable(post, only=target_id)
        self._audit("post.target_fixed", post, target_id=target_id, fields=sorted(changes))
        await self._session.commit()
        await self._workflows.start_run(post, [target_id])
        return await self.current(post_id)

    async def unpublish(self, post_id: uuid.UUID, if_match: str | None) -> Post:
        post = await self._for_change(post_id, if_match)
        transitions.refuse_unless(post, transitions.UNPUBLISHABLE, "unpublish")
        self._audit("post.unpublish_requested", post)
        await self._session.commit()
        await self._workflows.start_unpublish(post)
        return await self.current(post_id)

    async def batch(self, body: BatchBody) -> BatchOut:
        """Archive or cancel up to 50 posts; other workspaces' ids and posts in a state that
        does not allow the change are skipped, and the answer counts what was done."""
        posts = [
            post
            for post_id in dict.fromkeys(body.ids)
            if (post := await get_post(self._session, self._principal.workspace_id, post_id))
            is not None
        ]
        if body.action == "archive":
            archivable = [p for p in posts if p.status in transitions.ARCHIVABLE]
            for post in archivable:
                transitions.archive(self._session, post)
                self._audit("post.archived", post)
            await self._session.commit()
            return BatchOut(data={"archived": len(archivable)})
        waiting = [p for p in posts if p.status in transitions.WAITING]
        await self._session.commit()
        outcomes = await asyncio.gather(
            *(self._workflows.cancel(p.id, self._principal.actor) for p in waiting),
            return_exceptions=True,
        )
        for outcome in outcomes:
            if isinstance(outcome, BaseException) and not isinstance(outcome, HeraldError):
                raise outcome
        done = sum(1 for outcome in outcomes if not isinstance(outcome, BaseException))
        return BatchOut(data={"cancelled": done})
