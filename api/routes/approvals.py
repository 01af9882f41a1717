"""Approvals: posts waiting for a reviewer, and the reviewer's decision (a workflow Update)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from api.deps import ResourcesDep, SessionDep, TemporalDep, require
from herald.posts.commands import PostCommands
from herald.principal import Permission, Principal
from herald.repositories.posts import list_approvals
from herald.schemas.posts import PostOut
from herald.status import ApprovalStatus

router = APIRouter(prefix="/v1/approvals", tags=["approvals"])

Reader = Annotated[Principal, Depends(require(Permission.WORKSPACE_READ))]
Approver = Annotated[Principal, Depends(require(Permission.POSTS_APPROVE))]


class ApprovalItem(BaseModel):
    id: uuid.UUID = Field(description="The approval's id: the post's id")
    status: ApprovalStatus
    post: PostOut


class ApprovalList(BaseModel):
    data: list[ApprovalItem]
    next_cursor: str | None


class RejectBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=2000)


@router.get("", response_model=ApprovalList, summary="List approval requests")
async def list_(
    session: SessionDep,
    principal: Reader,
    status: ApprovalStatus | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> ApprovalList:
    page, next_cursor = await list_approvals(session, principal.workspace_id, status, limit, cursor)
    return ApprovalList(
        data=[ApprovalItem(id=p.id, status=p.approval_status, post=PostOut.of(p)) for p in page],
        next_cursor=next_cursor,
    )


@router.post(
    "/{approval_id}/approve",
    response_model=PostOut,
    summary="Approve: the post goes on to its schedule",
)
async def approve(
    approval_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    temporal: TemporalDep,
    resources: ResourcesDep,
    principal: Approver,
) -> PostOut:
    commands = PostCommands(session, temporal, principal, resources.rules, resources.plan)
    post = await commands.decide(approval_id, True, None)
    response.headers["ETag"] = str(post.version)
    return PostOut.of(post)


@router.post("/{approval_id}/reject", response_model=PostOut, summary="Reject, with a reason")
async def reject(
    approval_id: uuid.UUID,
    body: RejectBody,
    response: Response,
    session: SessionDep,
    temporal: TemporalDep,
    resources: ResourcesDep,
    principal: Approver,
) -> PostOut:
    commands = PostCommands(session, temporal, principal, resources.rules, resources.plan)
    post = await commands.decide(approval_id, False, body.reason)
    response.headers["ETag"] = str(post.version)
    return PostOut.of(post)
