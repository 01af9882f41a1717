"""Brands: what a workspace publishes as; its accounts, media and posts belong to one.

A brand still in use (an account connected to it, a post of it not yet published) cannot be
deleted: 409. A deleted brand keeps its row for the finished posts, media and disconnected
accounts that name it, and is found nowhere after.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from herald.db.models import Brand
from herald.errors import HeraldError
from herald.principal import Principal
from herald.repositories.brands import connected_account_count, get_brand, has_unfinished_posts
from herald.schemas.brands import BrandBody, BrandPatch
from herald.services import audit

RESOURCE = "brand"


async def _brand(session: AsyncSession, principal: Principal, brand_id: uuid.UUID) -> Brand:
    brand = await get_brand(session, principal.workspace_id, brand_id)
    if brand is None:
        raise HeraldError.not_found("brand")
    return brand


async def create_brand(
    session: AsyncSession, principal: Principal, body: BrandBody, now: datetime
) -> Brand:
    brand = Brand(
        workspace_id=principal.workspace_id, name=body.name, created_at=now, updated_at=now
    )
    session.add(brand)
    await session.flush()
    audit.record(session, principal, "brand.created", RESOURCE, brand.id, {"name": brand.name}, now)
    return brand


async def update_brand(
    session: AsyncSession,
    principal: Principal,
    brand_id: uuid.UUID,
    patch: BrandPatch,
    now: datetime,
) -> Brand:
    brand = await _brand(session, principal, brand_id)
    changes = patch.model_dump(exclude_unset=True, exclude_none=True)
    if "name" in changes:
        brand.name = changes["name"]
    brand.updated_at = now
    audit.record(session, principal, "brand.updated", RESOURCE, brand.id, changes, now)
    return brand


async def delete_brand(
    session: AsyncSession, principal: Principal, brand_id: uuid.UUID, now: datetime
) -> None:
    brand = await _brand(session, principal, brand_id)
    accounts = await connected_account_count(session, brand.id)
    if accounts:
        raise HeraldError.conflict(
            f"the brand has {accounts} connected account(s): disconnect them first"
        )
    if await has_unfinished_posts(session, brand.id):
        raise HeraldError.conflict(
            "the brand has posts not yet published (drafts, waiting for approval, scheduled "
            "or publishing): delete, cancel or archive them first"
        )
    brand.deleted_at = now
    audit.record(session, principal, "brand.deleted", RESOURCE, brand.id, {"name": brand.name}, now)
