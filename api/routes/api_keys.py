"""A workspace's API keys: made with a scope, listed by prefix, revoked at once."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from api.deps import PageCursor, PageLimit, ResourcesDep, SessionDep, require
from herald.principal import Permission, Principal
from herald.repositories.api_keys import list_keys
from herald.schemas.team import ApiKeyBody, ApiKeyCreated, ApiKeyList, ApiKeyOut
from herald.services.api_keys import create_key, revoke_key

router = APIRouter(prefix="/v1/workspaces/{workspace_id}/api-keys", tags=["api keys"])

Manager = Annotated[Principal, Depends(require(Permission.WORKSPACE_SETTINGS))]


@router.get("", response_model=ApiKeyList, summary="Active API keys (prefix only), newest first")
async def list_(
    workspace_id: uuid.UUID,
    session: SessionDep,
    principal: Manager,
    cursor: PageCursor = None,
    limit: PageLimit = 50,
) -> ApiKeyList:
    rows, next_cursor = await list_keys(session, principal.workspace_id, limit, cursor)
    return ApiKeyList(data=[ApiKeyOut.of(k) for k in rows], next_cursor=next_cursor)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ApiKeyCreated,
    summary="Make an API key; its secret is in this answer only",
    description="`permissions` default to the creator's own, and may not exceed them.",
)
async def create(
    workspace_id: uuid.UUID,
    body: ApiKeyBody,
    session: SessionDep,
    resources: ResourcesDep,
    principal: Manager,
) -> ApiKeyCreated:
    key, secret = await create_key(session, principal, body, resources.clock.now())
    return ApiKeyCreated(**ApiKeyOut.of(key).model_dump(), key=secret)


@router.delete(
    "/{key_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Revoke an API key: its next request answers 401",
)
async def revoke(
    workspace_id: uuid.UUID,
    key_id: uuid.UUID,
    session: SessionDep,
    resources: ResourcesDep,
    principal: Manager,
) -> Response:
    await revoke_key(session, principal, key_id, resources.clock.now())
    return Response(status_code=status.HTTP_204_NO_CONTENT)
