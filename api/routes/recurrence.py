"""A post's recurrence: the series that republishes copies of it on a schedule."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from api.deps import SessionDep, TemporalDep, require
from herald.db.models import Post, Recurrence
from herald.db.types import utcnow
from herald.errors import HeraldError
from herald.principal import Permission, Principal
from herald.recurrence import RecurrenceBody
from herald.repositories.posts import get_post
from herald.services.recurrences import (
    RecurrenceOut,
    create_series,
    delete_series,
    get_series,
    update_series,
)

router = APIRouter(prefix="/v1/posts/{post_id}/recurrence", tags=["recurrence"])

Reader = Annotated[Principal, Depends(require(Permission.WORKSPACE_READ))]
Scheduler = Annotated[Principal, Depends(require(Permission.POSTS_SCHEDULE))]


async def _post(session: SessionDep, principal: Principal, post_id: uuid.UUID) -> Post:
    post = await get_post(session, principal.workspace_id, post_id)
    if post is None:
        raise HeraldError.not_found("post")
    return post


async def _series(session: SessionDep, post: Post) -> Recurrence:
    series = await get_series(session, post)
    if series is None:
        raise HeraldError.not_found("recurrence")
    return series


@router.get(
    "", response_model=RecurrenceOut, summary="The post's recurrence, with the next five runs"
)
async def get(post_id: uuid.UUID, session: SessionDep, principal: Reader) -> RecurrenceOut:
    post = await _post(session, principal, post_id)
    return RecurrenceOut.of(await _series(session, post), utcnow())


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=RecurrenceOut,
    summary="Make the post recur",
)
async def create(
    post_id: uuid.UUID,
    body: RecurrenceBody,
    session: SessionDep,
    temporal: TemporalDep,
    principal: Scheduler,
) -> RecurrenceOut:
    post = await _post(session, principal, post_id)
    client = await temporal.client()
    queue = temporal.task_queue
    series = await create_series(session, principal, client, queue, post, body, utcnow())
    return RecurrenceOut.of(series, utcnow())


@router.patch("", response_model=RecurrenceOut, summary="Change the series (future runs only)")
async def patch(
    post_id: uuid.UUID,
    body: RecurrenceBody,
    session: SessionDep,
    temporal: TemporalDep,
    principal: Scheduler,
) -> RecurrenceOut:
    post = await _post(session, principal, post_id)
    series = await _series(session, post)
    client = await temporal.client()
    await update_series(session, principal, client, temporal.task_queue, series, body, utcnow())
    return RecurrenceOut.of(series, utcnow())


@router.delete(
    "", status_code=status.HTTP_204_NO_CONTENT, summary="Stop the series and delete its schedule"
)
async def delete(
    post_id: uuid.UUID, session: SessionDep, temporal: TemporalDep, principal: Scheduler
) -> Response:
    post = await _post(session, principal, post_id)
    series = await _series(session, post)
    await delete_series(session, principal, await temporal.client(), series, post)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
