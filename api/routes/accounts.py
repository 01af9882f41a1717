"""Social account endpoints."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, field_serializer
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import PageCursor, PageLimit, ResourcesDep, SessionDep, require
from api.openapi import error_responses
from herald.db.models import SocialAccount
from herald.db.types import utcnow
from herald.errors import HeraldError
from herald.principal import Permission, Principal
from herald.repositories.accounts import get_account, list_accounts
from herald.schemas.accounts import AccountList, AccountOut
from herald.schemas.analytics import BackfillOut
from herald.schemas.posts import rfc3339
from herald.services.accounts import (
    ConnectBody,
    connect_account,
    disconnect_account,
    recheck_account,
)
from herald.services.analytics_sync import backfill, watch_analytics
from herald.services.queues import QueueBody, Slot, get_queue, next_free_slot, set_queue
from herald.settings import PLATFORMS
from herald.status import AccountStatus

router = APIRouter(prefix="/v1/accounts", tags=["accounts"])

PlatformName = Literal[PLATFORMS]  # type: ignore[valid-type]


@router.get("", summary="List the workspace's social accounts", response_model=AccountList)
async def list_(
    session: SessionDep,
    principal: Annotated[Principal, Depends(require(Permission.WORKSPACE_READ))],
    brand_id: uuid.UUID | None = None,
    platform: PlatformName | None = None,
    status: AccountStatus | None = None,
    cursor: PageCursor = None,
    limit: PageLimit = 50,
) -> AccountList:
    accounts, next_cursor = await list_accounts(
        session,
        principal.workspace_id,
        brand_id=brand_id,
        platform=platform,
        status=status,
        limit=limit,
        cursor=cursor,
    )
    return AccountList(data=[AccountOut.of(a) for a in accounts], next_cursor=next_cursor)


class QueueOut(BaseModel):
    account_id: uuid.UUID
    timezone: str
    slots: list[Slot]


class NextSlot(BaseModel):
    slot_at: datetime | None

    @field_serializer("slot_at")
    def _time(self, value: datetime | None) -> str | None:
        return rfc3339(value)


async def _account(session: AsyncSession, principal: Principal, account_id: uuid.UUID) -> None:
    if await get_account(session, principal.workspace_id, account_id) is None:
        raise HeraldError.not_found("account")


@router.put(
    "/{account_id}/queue", response_model=QueueOut, summary="Set the account's posting slots"
)
async def put_queue(
    account_id: uuid.UUID,
    body: QueueBody,
    session: SessionDep,
    principal: Annotated[Principal, Depends(require(Permission.POSTS_SCHEDULE))],
) -> QueueOut:
    await _account(session, principal, account_id)
    queue = await set_queue(session, principal, account_id, body)
    return QueueOut(account_id=account_id, timezone=queue.timezone, slots=body.slots)


@router.get("/{account_id}/queue", response_model=QueueOut, summary="The account's posting slots")
async def get_queue_(
    account_id: uuid.UUID,
    session: SessionDep,
    principal: Annotated[Principal, Depends(require(Permission.WORKSPACE_READ))],
) -> QueueOut:
    await _account(session, principal, account_id)
    queue = await get_queue(session, account_id)
    if queue is None:
        raise HeraldError.not_found("queue")
    return QueueOut(
        account_id=account_id,
        timezone=queue.timezone,
        slots=[Slot.model_validate(s) for s in queue.slots],
    )


@router.get(
    "/{account_id}/next-slot",
    response_model=NextSlot,
    summary="The next free slot (null when the account has no slots)",
)
async def next_slot(
    account_id: uuid.UUID,
    session: SessionDep,
    principal: Annotated[Principal, Depends(require(Permission.WORKSPACE_READ))],
) -> NextSlot:
    await _account(session, principal, account_id)
    return NextSlot(slot_at=await next_free_slot(session, account_id, utcnow()))


@router.post(
    "",
    status_code=201,
    response_model=AccountOut,
    summary="Connect a credential-based account (Mastodon: instance_url + access_token)",
    responses=error_responses(402),
)
async def connect(
    body: ConnectBody,
    session: SessionDep,
    resources: ResourcesDep,
    principal: Annotated[Principal, Depends(require(Permission.ACCOUNTS_CONNECT))],
) -> AccountOut:
    account = await connect_account(
        session,
        principal,
        resources.adapters,
        resources.cipher,
        body,
        resources.platform_policy,
        resources.plan,
    )
    await watch_analytics(resources.temporal, account.id)
    return AccountOut.of(account)


async def _existing(
    session: AsyncSession, principal: Principal, account_id: uuid.UUID
) -> SocialAccount:
    account = await get_account(session, principal.workspace_id, account_id)
    if account is None:
        raise HeraldError.not_found("account")
    return account


@router.post(
    "/{account_id}/test",
    response_model=AccountOut,
    summary="Check the account's credentials with its platform",
)
async def test(
    account_id: uuid.UUID,
    session: SessionDep,
    resources: ResourcesDep,
    principal: Annotated[Principal, Depends(require(Permission.ACCOUNTS_CONNECT))],
) -> AccountOut:
    account = await _existing(session, principal, account_id)
    await recheck_account(
        session,
        principal,
        resources.adapters,
        resources.cipher,
        account,
        resources.platform_policy,
    )
    return AccountOut.of(account)


@router.delete(
    "/{account_id}", status_code=204, summary="Disconnect an account (its secrets are wiped)"
)
async def disconnect(
    account_id: uuid.UUID,
    session: SessionDep,
    resources: ResourcesDep,
    principal: Annotated[Principal, Depends(require(Permission.ACCOUNTS_DISCONNECT))],
) -> Response:
    account = await _existing(session, principal, account_id)
    await disconnect_account(session, principal, resources.cipher, account, resources.temporal)
    return Response(status_code=204)


@router.post(
    "/{account_id}/backfill",
    status_code=202,
    response_model=BackfillOut,
    summary="Pull analytics history now",
    description="Starts a sync that samples every published post of the account, whatever "
    "its age tier, with what the platform still reports. 409 when the account is not active.",
)
async def backfill_(
    account_id: uuid.UUID,
    session: SessionDep,
    resources: ResourcesDep,
    principal: Annotated[Principal, Depends(require(Permission.ACCOUNTS_CONNECT))],
) -> BackfillOut:
    await backfill(session, resources.temporal, principal, account_id)
    return BackfillOut(account_id=str(account_id))
