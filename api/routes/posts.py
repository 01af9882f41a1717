"""Post endpoints: each parses the request, calls one PostCommands method, and answers.
The ordering rules (commit, then start or steer the workflow) live in herald.posts.commands."""

# No `from __future__ import annotations` here: FastAPI must see the hint of _commands'
# dependency evaluated, since a string could not name the closure's `permission`.
import uuid
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Response, status

from api.deps import ResourcesDep, SessionDep, TemporalDep, require
from api.openapi import error_responses
from herald.db.models import Post
from herald.errors import HeraldError
from herald.instants import to_utc
from herald.posts.commands import PostCommands
from herald.principal import Permission, Principal
from herald.repositories.posts import PostFilters, get_post, list_posts
from herald.schemas.posts import (
    BatchBody,
    BatchOut,
    BulkBody,
    BulkOut,
    BulkVideoBody,
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
from herald.schemas.validation import ValidationOut
from herald.services.validation import validate_request, validate_stored
from herald.status import PostStatus

router = APIRouter(prefix="/v1/posts", tags=["posts"])

IfMatch = Annotated[
    str | None, Header(description="The post's `version` (its ETag); 412 when stale.")
]
Creator = Annotated[Principal, Depends(require(Permission.POSTS_CREATE))]
Reader = Annotated[Principal, Depends(require(Permission.WORKSPACE_READ))]


def _commands(permission: Permission) -> Callable[..., Coroutine[Any, Any, PostCommands]]:
    """The post commands of a caller who holds `permission`."""

    async def dependency(
        session: SessionDep,
        temporal: TemporalDep,
        principal: Annotated[Principal, Depends(require(permission))],
        resources: ResourcesDep,
    ) -> PostCommands:
        return PostCommands(session, temporal, principal, resources.rules, resources.plan)

    return dependency


Creating = Annotated[PostCommands, Depends(_commands(Permission.POSTS_CREATE))]
Editing = Annotated[PostCommands, Depends(_commands(Permission.POSTS_EDIT))]
Scheduling = Annotated[PostCommands, Depends(_commands(Permission.POSTS_SCHEDULE))]
Publishing = Annotated[PostCommands, Depends(_commands(Permission.POSTS_PUBLISH))]
Deleting = Annotated[PostCommands, Depends(_commands(Permission.POSTS_DELETE))]


def _answer(post: Post, response: Response, *, created: bool = False) -> PostOut:
    response.headers["ETag"] = str(post.version)
    if created:
        response.headers["Location"] = f"/v1/posts/{post.id}"
    return PostOut.of(post)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=PostOut,
    summary="Create a post: draft, scheduled, queued in slots, or published now",
    responses=error_responses(402),
)
async def create(
    body: PostCreate,
    response: Response,
    commands: Creating,
) -> PostOut:
    return _answer(await commands.create(body), response, created=True)


def _instant(name: str, value: datetime | None) -> datetime | None:
    try:
        return to_utc(value) if value is not None else None
    except ValueError as err:
        raise HeraldError.invalid(name, str(err)) from err


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
    filters = PostFilters(
        status=status_,
        brand_id=brand_id,
        account_id=account_id,
        platform=platform,
        scheduled_from=_instant("from", from_),
        scheduled_to=_instant("to", to),
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
    return await validate_request(session, principal, resources.rules, body)


@router.patch(
    "/batch",
    response_model=BatchOut,
    summary="Archive or cancel up to 50 posts; other workspaces' ids are skipped",
)
async def batch(body: BatchBody, commands: Editing) -> BatchOut:
    return await commands.batch(body)


@router.post(
    "/bulk",
    status_code=207,
    response_model=BulkOut,
    summary="Create up to 100 posts; each item succeeds or fails on its own",
)
async def bulk(body: BulkBody, commands: Creating) -> BulkOut:
    return BulkOut(results=await commands.bulk(body))


@router.post(
    "/bulk-video",
    status_code=207,
    response_model=BulkOut,
    summary="One post per video (up to 100), sharing targets, text and timing; each item "
    "succeeds or fails on its own",
)
async def bulk_video(body: BulkVideoBody, commands: Creating) -> BulkOut:
    return BulkOut(results=await commands.bulk_video(body))


@router.patch("/{post_id}", response_model=PostOut, summary="Edit a post before publishing starts")
async def patch(
    post_id: uuid.UUID,
    body: PostPatch,
    response: Response,
    commands: Editing,
    if_match: IfMatch = None,
) -> PostOut:
    return _answer(await commands.edit(post_id, body, if_match), response)


@router.get("/{post_id}", response_model=PostOut, summary="Get a post with its targets")
async def get(
    post_id: uuid.UUID, response: Response, session: SessionDep, principal: Reader
) -> PostOut:
    post = await get_post(session, principal.workspace_id, post_id)
    if post is None:
        raise HeraldError.not_found("post")
    return _answer(post, response)


@router.get("/{post_id}/validation", response_model=ValidationOut, summary="Validate a stored post")
async def validation(
    post_id: uuid.UUID, session: SessionDep, resources: ResourcesDep, principal: Reader
) -> ValidationOut:
    post = await get_post(session, principal.workspace_id, post_id)
    if post is None:
        raise HeraldError.not_found("post")
    return await validate_stored(session, resources.rules, post)


@router.delete(
    "/{post_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a draft, cancelled, failed or archived post",
)
async def delete(
    post_id: uuid.UUID,
    commands: Deleting,
    if_match: IfMatch = None,
) -> Response:
    await commands.delete(post_id, if_match)
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
    commands: Scheduling,
    if_match: IfMatch = None,
) -> PostOut:
    post = await commands.schedule(post_id, body.scheduled_at, if_match)
    return _answer(post, response)


@router.post(
    "/{post_id}/publish",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=PostOut,
    summary="Publish now (asynchronous: answers with the post queued)",
)
async def publish(
    post_id: uuid.UUID,
    response: Response,
    commands: Publishing,
    if_match: IfMatch = None,
) -> PostOut:
    return _answer(await commands.publish(post_id, if_match), response)


@router.post(
    "/{post_id}/cancel", response_model=PostOut, summary="Cancel a scheduled or queued post"
)
async def cancel(
    post_id: uuid.UUID,
    response: Response,
    commands: Scheduling,
    if_match: IfMatch = None,
) -> PostOut:
    return _answer(await commands.cancel(post_id, if_match), response)


@router.post(
    "/{post_id}/retry",
    status_code=207,
    response_model=RetryOut,
    summary="Publish failed targets again (all failed ones, or those named)",
)
async def retry(
    post_id: uuid.UUID,
    response: Response,
    commands: Publishing,
    body: RetryBody | None = None,
    if_match: IfMatch = None,
) -> RetryOut:
    target_ids = body.target_ids if body else None
    post, results = await commands.retry(post_id, target_ids, if_match)
    return RetryOut(
        post=_answer(post, response),
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
    commands: Editing,
    if_match: IfMatch = None,
) -> PostOut:
    return _answer(
        await commands.fix(post_id, target_id, body, if_match),
        response,
    )


@router.post(
    "/{post_id}/clone",
    status_code=status.HTTP_201_CREATED,
    response_model=PostOut,
    summary="Copy a post as a new draft",
    responses=error_responses(402),
)
async def clone(
    post_id: uuid.UUID,
    response: Response,
    commands: Creating,
) -> PostOut:
    return _answer(await commands.clone(post_id), response, created=True)


@router.post(
    "/{post_id}/duplicate",
    status_code=status.HTTP_201_CREATED,
    response_model=PostOut,
    summary="Copy a post, scheduled as far ahead of now as the original was of its creation",
    responses=error_responses(402),
)
async def duplicate(
    post_id: uuid.UUID,
    response: Response,
    commands: Creating,
) -> PostOut:
    return _answer(await commands.duplicate(post_id), response, created=True)


@router.post(
    "/{post_id}/archive", response_model=PostOut, summary="Archive a finished post or a draft"
)
async def archive(
    post_id: uuid.UUID,
    response: Response,
    commands: Editing,
    if_match: IfMatch = None,
) -> PostOut:
    return _answer(await commands.archive(post_id, if_match), response)


@router.post(
    "/{post_id}/unpublish",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=PostOut,
    summary="Delete the post from every platform it was published to (asynchronous)",
)
async def unpublish(
    post_id: uuid.UUID,
    response: Response,
    commands: Deleting,
    if_match: IfMatch = None,
) -> PostOut:
    return _answer(await commands.unpublish(post_id, if_match), response)


@router.post(
    "/{post_id}/submit",
    response_model=PostOut,
    summary="Submit a draft for approval (optionally with the time it should publish)",
)
async def submit(
    post_id: uuid.UUID,
    response: Response,
    commands: Creating,
    body: SubmitBody | None = None,
    if_match: IfMatch = None,
) -> PostOut:
    at = body.scheduled_at if body else None
    return _answer(await commands.submit(post_id, at, if_match), response)
