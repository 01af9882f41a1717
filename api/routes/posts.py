"""Post endpoints."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from api.deps import SessionDep, TemporalDep, require
from herald.db.types import utcnow
from herald.errors import HeraldError
from herald.principal import Permission, Principal
from herald.repositories.posts import get_post
from herald.schemas.posts import PostCreate, PostOut
from herald.services.posts import create_post

router = APIRouter(prefix="/v1/posts", tags=["posts"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create a post: draft, scheduled, or published now",
    response_model=PostOut,
)
async def create(
    body: PostCreate,
    response: Response,
    session: SessionDep,
    temporal: TemporalDep,
    principal: Annotated[Principal, Depends(require(Permission.POSTS_CREATE))],
) -> PostOut:
    post = await create_post(session, principal, body, utcnow())
    # The post is committed before its workflow starts: a lost start is repaired by the
    # reconciler, never a workflow without a post.
    await session.commit()
    if not body.draft:
        await temporal.start_post(post)
    response.headers["ETag"] = str(post.version)
    response.headers["Location"] = f"/v1/posts/{post.id}"
    return PostOut.of(post)


@router.get("/{post_id}", summary="Get a post with its targets", response_model=PostOut)
async def get(
    post_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    principal: Annotated[Principal, Depends(require(Permission.WORKSPACE_READ))],
) -> PostOut:
    post = await get_post(session, principal.workspace_id, post_id)
    if post is None:
        raise HeraldError.not_found("post")
    response.headers["ETag"] = str(post.version)
    return PostOut.of(post)
