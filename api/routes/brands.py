"""Brands: a workspace's list, making one, reading, renaming and deleting."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from api.deps import PageCursor, PageLimit, ResourcesDep, SessionDep, require
from herald.errors import HeraldError
from herald.principal import Permission, Principal
from herald.repositories.brands import get_brand, list_brands
from herald.schemas.brands import BrandBody, BrandList, BrandOut, BrandPatch
from herald.services.brands import create_brand, delete_brand, update_brand

router = APIRouter(tags=["brands"])

Reader = Annotated[Principal, Depends(require(Permission.WORKSPACE_READ))]
Creator = Annotated[Principal, Depends(require(Permission.BRANDS_CREATE))]
Editor = Annotated[Principal, Depends(require(Permission.BRANDS_EDIT))]
Deleter = Annotated[Principal, Depends(require(Permission.BRANDS_DELETE))]


@router.get(
    "/v1/workspaces/{workspace_id}/brands",
    response_model=BrandList,
    summary="The workspace's brands, oldest first",
)
async def list_(
    workspace_id: uuid.UUID,
    session: SessionDep,
    principal: Reader,
    cursor: PageCursor = None,
    limit: PageLimit = 50,
) -> BrandList:
    brands, next_cursor = await list_brands(session, principal.workspace_id, limit, cursor)
    return BrandList(data=[BrandOut.of(b) for b in brands], next_cursor=next_cursor)


@router.post(
    "/v1/workspaces/{workspace_id}/brands",
    status_code=status.HTTP_201_CREATED,
    response_model=BrandOut,
    summary="Make a brand",
)
async def create(
    workspace_id: uuid.UUID,
    body: BrandBody,
    session: SessionDep,
    resources: ResourcesDep,
    principal: Creator,
) -> BrandOut:
    return BrandOut.of(await create_brand(session, principal, body, resources.clock.now()))


@router.get("/v1/brands/{brand_id}", response_model=BrandOut, summary="Get a brand")
async def get(brand_id: uuid.UUID, session: SessionDep, principal: Reader) -> BrandOut:
    brand = await get_brand(session, principal.workspace_id, brand_id)
    if brand is None:
        raise HeraldError.not_found("brand")
    return BrandOut.of(brand)


@router.patch("/v1/brands/{brand_id}", response_model=BrandOut, summary="Rename a brand")
async def patch(
    brand_id: uuid.UUID,
    body: BrandPatch,
    session: SessionDep,
    resources: ResourcesDep,
    principal: Editor,
) -> BrandOut:
    return BrandOut.of(
        await update_brand(session, principal, brand_id, body, resources.clock.now())
    )


@router.delete(
    "/v1/brands/{brand_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a brand no connected account or unpublished post uses (409 otherwise)",
)
async def delete(
    brand_id: uuid.UUID, session: SessionDep, resources: ResourcesDep, principal: Deleter
) -> Response:
    await delete_brand(session, principal, brand_id, resources.clock.now())
    return Response(status_code=status.HTTP_204_NO_CONTENT)
