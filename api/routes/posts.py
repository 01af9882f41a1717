"""Post endpoints: thin over herald.services and the workflow gateway.

Order matters twice here: a change is committed before a workflow is started or steered (the
database is the system of record for reads), and the request's transaction is closed before a
workflow Update runs, because the Update's activity writes the same rows.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Response, status
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import ResourcesDep, SessionDep, TemporalDep, require
from herald.db.models import Post
from herald.db.types import utcnow
from herald.dispatch import TemporalGateway
from herald.errors import HeraldError
from herald.payloads import RescheduleRequest
from herald.principal import Permission, Principal
from herald.repositories.media import get_media_many
from herald.repositories.posts import PostFilters, get_post, list_posts
from herald.schemas.posts import (
    BatchBody,
    BatchOut,
    BulkBody,
    BulkError,
    BulkItem,
    BulkOut,
    FixBody,
    PostCreate,
    PostList,
    PostOut,
    PostPatch,
    RetryBody,
    RetryItem,
    RetryOut,
    ScheduleBody,
    SubmitBody,
)
from herald.services import post_actions
from herald.services.posts import create_post, edit_post, request_approval
from herald.services.validation import ValidationOut, validate_request, validate_stored
from herald.status import MediaStatus, Origin, PostPhase, PostStatus

router = APIRouter(prefix="/v1/posts", tags=["posts"])

IfMatch = Annotated[
    str | None, Header(description="The post's `version` (its ETag); 412 when stale.")
]
Creator = Annotated[Principal, Depends(require(Permission.POSTS_CREATE))]
Reader = Annotated[Principal, Depends(require(Permission.WORKSPACE_READ))]
Editor = Annotated[Principal, Depends(require(Permission.POSTS_EDIT))]
Scheduler = Annotated[Principal, Depends(require(Permission.POSTS_SCHEDULE))]
Publisher = Annotated[Principal, Depends(require(Permission.POSTS_PUBLISH))]
Deleter = Annotated[Principal, Depends(require(Permission.POSTS_DELETE))]


async def _answer(
    session: AsyncSession, principal: Principal, post_id: uuid.UUID, response: Response
) -> PostOut:
    """The post as stored now (after a workflow's activity may have changed it)."""
    post = await get_post(session, principal.workspace_id, post_id)
    if post is None:
        raise HeraldError.not_found("post")
    response.headers["ETag"] = str(post.version)
    return PostOut.of(post)


async def _start(session: AsyncSession, temporal: TemporalGateway, post: Post) -> None:
    await session.commit()
    await temporal.start_post(post)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=PostOut,
    summary="Create a post: draft, scheduled, queued in slots, or published now",
)
async def create(
    body: PostCreate,
    response: Response,
    session: SessionDep,
    temporal: TemporalDep,
    principal: Creator,
) -> PostOut:
    post = await create_post(session, principal, body, utcnow())
    # Committed before its workflow starts: a lost start is repaired by the reconciler,
    # never a workflow without a post.
    await session.commit()
    if not body.draft:
        await temporal.start_post(post)
    response.headers["ETag"] = str(post.version)
    response.headers["Location"] = f"/v1/posts/{post.id}"
    return PostOut.of(post)


@router.get("", response_model=PostList, summary="List posts, newest first")
async def list_(
    session: SessionDep,
    principal: Reader,
    status_: Annotated[PostStatus | None, Query(alias="status")] = None,
    brand_id: uuid.UUID | None = None,
    account_id: uuid.UUID | None = None,
    platform: str | None = None,
    from_: Annotated[datetime | None, Query(alias="from", description="scheduled_at ≥")] = None,
    to: Annotated[datetime | None, Query(description="scheduled_at <")] = None,
    external_id: str | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> PostList:
    for name, value in (("from", from_), ("to", to)):
        if value is not None and value.tzinfo is None:
            raise HeraldError.invalid(name, "must include a time zone offset")
    filters = PostFilters(
        status=status_,
        brand_id=brand_id,
        account_id=account_id,
        platform=platform,
        scheduled_from=from_,
        scheduled_to=to,
        external_id=external_id,
    )
    posts, next_cursor = await list_posts(session, principal.workspace_id, filters, limit, cursor)
    return PostList(data=[PostOut.of(p) for p in posts], next_cursor=next_cursor)


@router.post(
    "/validate",
    response_model=ValidationOut,
    summary="Check a post against each platform's rules; no side effects",
)
async def validate(
    body: PostCreate, session: SessionDep, resources: ResourcesDep, principal: Creator
) -> ValidationOut:
    return await validate_request(session, principal, resources.adapters, body)


@router.patch(
    "/batch",
    response_model=BatchOut,
    summary="Archive or cancel up to 50 posts; other workspaces' ids are skipped",
)
async def batch(
    body: BatchBody, session: SessionDep, temporal: TemporalDep, principal: Editor
) -> BatchOut:
    posts = [
        post
        for post_id in dict.fromkeys(body.ids)
        if (post := await get_post(session, principal.workspace_id, post_id)) is not None
    ]
    done = 0
    if body.action == "archive":
        for post in posts:
            if post.status in post_actions.ARCHIVABLE:
                post_actions.archive_post(session, post)
                done += 1
        await session.commit()
        return BatchOut(data={"archived": done})
    waiting = [p for p in posts if p.status in (PostStatus.SCHEDULED, PostStatus.QUEUED)]
    await session.commit()
    outcomes = await asyncio.gather(
        *(temporal.update_post(p.id, "cancel", None) for p in waiting), return_exceptions=True
    )
    for outcome in outcomes:
        if isinstance(outcome, BaseException) and not isinstance(outcome, HeraldError):
            raise outcome
    done = sum(1 for outcome in outcomes if not isinstance(outcome, BaseException))
    return BatchOut(data={"cancelled": done})


@router.post(
    "/bulk",
    status_code=207,
    response_model=BulkOut,
    summary="Create up to 100 posts; each item succeeds or fails on its own",
)
async def bulk(
    body: BulkBody, session: SessionDep, temporal: TemporalDep, principal: Creator
) -> BulkOut:
    results: list[BulkItem] = []
    created: list[Post] = []
    now = utcnow()
    for index, raw in enumerate(body.posts):
        try:
            item = PostCreate.model_validate(raw)
            async with session.begin_nested():
                post = await create_post(session, principal, item, now, Origin.BULK)
        except ValidationError as err:
            details = [
                {
                    "path": ".".join(str(p) for p in e["loc"]) or "body",
                    "message": str(e["msg"]).removeprefix("Value error, "),
                }
                for e in err.errors()
            ]
            results.append(
                BulkItem(
                    index=index,
                    status=400,
                    error=BulkError(
                        code="VALIDATION_ERROR", message=details[0]["message"], details=details
                    ),
                )
            )
            continue
        except HeraldError as err:
            results.append(
                BulkItem(
                    index=index,
                    status=err.http_status,
                    error=BulkError(
                        code=err.code.value,
                        message=err.message,
                        details=[{"path": d.path, "message": d.message} for d in err.details],
                    ),
                )
            )
            continue
        created.append(post)
        results.append(BulkItem(index=index, status=201, post=PostOut.of(post)))
    await session.commit()
    for post in created:
        if post.status != PostStatus.DRAFT:
            await temporal.start_post(post)
    return BulkOut(results=results)


@router.patch("/{post_id}", response_model=PostOut, summary="Edit a post before publishing starts")
async def patch(
    post_id: uuid.UUID,
    body: PostPatch,
    response: Response,
    session: SessionDep,
    temporal: TemporalDep,
    principal: Editor,
    if_match: IfMatch = None,
) -> PostOut:
    post = await post_actions.post_for_change(session, principal, post_id, if_match)
    moved_to = await edit_post(session, principal, post, body, utcnow())
    await session.commit()
    if moved_to is not None:
        await temporal.update_post(post_id, "reschedule", RescheduleRequest(scheduled_at=moved_to))
    return await _answer(session, principal, post_id, response)


@router.get("/{post_id}", response_model=PostOut, summary="Get a post with its targets")
async def get(
    post_id: uuid.UUID, response: Response, session: SessionDep, principal: Reader
) -> PostOut:
    return await _answer(session, principal, post_id, response)


@router.get("/{post_id}/validation", response_model=ValidationOut, summary="Validate a stored post")
async def validation(
    post_id: uuid.UUID, session: SessionDep, resources: ResourcesDep, principal: Reader
) -> ValidationOut:
    post = await get_post(session, principal.workspace_id, post_id)
    if post is None:
        raise HeraldError.not_found("post")
    return await validate_stored(session, resources.adapters, post)


@router.delete(
    "/{post_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a draft, cancelled, failed or archived post",
)
async def delete(
    post_id: uuid.UUID, session: SessionDep, principal: Deleter, if_match: IfMatch = None
) -> Response:
    post = await post_actions.post_for_change(session, principal, post_id, if_match)
    await post_actions.delete_post(session, post)
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{post_id}/schedule",
    response_model=PostOut,
    summary="Schedule a draft, or move a scheduled post",
)
async def schedule(
    post_id: uuid.UUID,
    body: ScheduleBody,
    response: Response,
    session: SessionDep,
    temporal: TemporalDep,
    principal: Scheduler,
    if_match: IfMatch = None,
) -> PostOut:
    post = await post_actions.post_for_change(session, principal, post_id, if_match)
    if body.scheduled_at <= utcnow():
        raise HeraldError.invalid("scheduled_at", "must be in the future")
    if post.status is PostStatus.DRAFT:
        post_actions.leave_draft(session, post, PostPhase.SCHEDULED, body.scheduled_at)
        await _start(session, temporal, post)
    elif post.status in (PostStatus.SCHEDULED, PostStatus.QUEUED):
        await session.commit()
        await temporal.update_post(
            post_id, "reschedule", RescheduleRequest(scheduled_at=body.scheduled_at)
        )
    else:
        raise HeraldError.conflict(f"cannot schedule a post that is {post.status}")
    return await _answer(session, principal, post_id, response)


@router.post(
    "/{post_id}/publish",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=PostOut,
    summary="Publish now (asynchronous: answers with the post queued)",
)
async def publish(
    post_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    temporal: TemporalDep,
    principal: Publisher,
    if_match: IfMatch = None,
) -> PostOut:
    post = await post_actions.post_for_change(session, principal, post_id, if_match)
    if post.status is PostStatus.DRAFT:
        post_actions.leave_draft(session, post, PostPhase.QUEUED, utcnow())
        await _start(session, temporal, post)
    elif post.status is PostStatus.SCHEDULED:
        await session.commit()
        await temporal.update_post(post_id, "publish_now", None)
    elif post.status is not PostStatus.QUEUED:
        raise HeraldError.conflict(f"cannot publish a post that is {post.status}")
    return await _answer(session, principal, post_id, response)


@router.post(
    "/{post_id}/cancel", response_model=PostOut, summary="Cancel a scheduled or queued post"
)
async def cancel(
    post_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    temporal: TemporalDep,
    principal: Scheduler,
    if_match: IfMatch = None,
) -> PostOut:
    post = await post_actions.post_for_change(session, principal, post_id, if_match)
    if post.status not in (PostStatus.SCHEDULED, PostStatus.QUEUED):
        raise HeraldError.conflict(f"cannot cancel a post that is {post.status}")
    await session.commit()
    await temporal.update_post(post_id, "cancel", None)
    return await _answer(session, principal, post_id, response)


@router.post(
    "/{post_id}/retry",
    status_code=207,
    response_model=RetryOut,
    summary="Publish failed targets again (all failed ones, or those named)",
)
async def retry(
    post_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    temporal: TemporalDep,
    principal: Publisher,
    body: RetryBody | None = None,
    if_match: IfMatch = None,
) -> RetryOut:
    post = await post_actions.post_for_change(session, principal, post_id, if_match)
    results = await post_actions.prepare_retry(session, post, body.target_ids if body else None)
    queued = [r.target_id for r in results if r.status == "queued"]
    await session.commit()
    if queued:
        await temporal.start_run(post, queued)
    answer = await _answer(session, principal, post_id, response)
    return RetryOut(
        post=answer,
        results=[RetryItem(target_id=r.target_id, status=r.status, error=r.error) for r in results],
    )


@router.post(
    "/{post_id}/targets/{target_id}/fix",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=PostOut,
    summary="Edit one failed target and publish it again",
)
async def fix(
    post_id: uuid.UUID,
    target_id: uuid.UUID,
    body: FixBody,
    response: Response,
    session: SessionDep,
    temporal: TemporalDep,
    principal: Editor,
    if_match: IfMatch = None,
) -> PostOut:
    post = await post_actions.post_for_change(session, principal, post_id, if_match)
    changes = body.model_dump(exclude_unset=True, exclude={"media_ids"})
    if body.media_ids is not None:
        found = await get_media_many(session, principal.workspace_id, body.media_ids)
        for index, media_id in enumerate(body.media_ids):
            media = found.get(media_id)
            if media is None or media.status != MediaStatus.READY:
                raise HeraldError.invalid(f"media_ids.{index}", "no ready media with this id")
        changes["media_ids"] = [str(m) for m in body.media_ids]
    if body.content is not None and not body.content.strip():
        raise HeraldError.invalid("content", "content is empty and no media is attached")
    post_actions.prepare_fix(session, post, target_id, changes)
    await session.commit()
    await temporal.start_run(post, [target_id])
    return await _answer(session, principal, post_id, response)


@router.post(
    "/{post_id}/clone",
    status_code=status.HTTP_201_CREATED,
    response_model=PostOut,
    summary="Copy a post as a new draft",
)
async def clone(
    post_id: uuid.UUID, response: Response, session: SessionDep, principal: Creator
) -> PostOut:
    source = await post_actions.post_for_change(session, principal, post_id, None)
    copy = post_actions.copy_post(session, source, principal, utcnow(), None)
    await session.commit()
    response.headers["Location"] = f"/v1/posts/{copy.id}"
    return await _answer(session, principal, copy.id, response)


@router.post(
    "/{post_id}/duplicate",
    status_code=status.HTTP_201_CREATED,
    response_model=PostOut,
    summary="Copy a post, scheduled as far ahead of now as the original was of its creation",
)
async def duplicate(
    post_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    temporal: TemporalDep,
    principal: Creator,
) -> PostOut:
    source = await post_actions.post_for_change(session, principal, post_id, None)
    now = utcnow()
    copy = post_actions.copy_post(
        session, source, principal, now, post_actions.duplicate_time(source, now)
    )
    if copy.scheduled_at is not None:
        await _start(session, temporal, copy)
    else:
        await session.commit()
    response.headers["Location"] = f"/v1/posts/{copy.id}"
    return await _answer(session, principal, copy.id, response)


@router.post(
    "/{post_id}/archive", response_model=PostOut, summary="Archive a finished post or a draft"
)
async def archive(
    post_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    principal: Editor,
    if_match: IfMatch = None,
) -> PostOut:
    post = await post_actions.post_for_change(session, principal, post_id, if_match)
    post_actions.archive_post(session, post)
    await session.commit()
    return await _answer(session, principal, post_id, response)


@router.post(
    "/{post_id}/unpublish",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=PostOut,
    summary="Delete the post from every platform it was published to (asynchronous)",
)
async def unpublish(
    post_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    temporal: TemporalDep,
    principal: Deleter,
    if_match: IfMatch = None,
) -> PostOut:
    post = await post_actions.post_for_change(session, principal, post_id, if_match)
    post_actions.refuse_unless(post, post_actions.UNPUBLISHABLE, "unpublish")
    await session.commit()
    await temporal.start_unpublish(post)
    return await _answer(session, principal, post_id, response)


@router.post(
    "/{post_id}/submit",
    response_model=PostOut,
    summary="Submit a draft for approval (optionally with the time it should publish)",
)
async def submit(
    post_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    temporal: TemporalDep,
    principal: Creator,
    body: SubmitBody | None = None,
    if_match: IfMatch = None,
) -> PostOut:
    post = await post_actions.post_for_change(session, principal, post_id, if_match)
    post_actions.refuse_unless(post, frozenset({PostStatus.DRAFT}), "submit")
    now = utcnow()
    at = body.scheduled_at if body and body.scheduled_at else None
    if at is not None and at <= now:
        raise HeraldError.invalid("scheduled_at", "must be in the future")
    post_actions.leave_draft(session, post, PostPhase.SCHEDULED, at or now)
    request_approval(session, post, now)
    await _start(session, temporal, post)
    return await _answer(session, principal, post_id, response)
