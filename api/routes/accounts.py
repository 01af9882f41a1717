"""Social account endpoints."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends

from api.deps import SessionDep, require
from herald.principal import Permission, Principal
from herald.repositories.accounts import list_accounts
from herald.schemas.accounts import AccountList, AccountOut
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
) -> AccountList:
    accounts = await list_accounts(
        session, principal.workspace_id, brand_id=brand_id, platform=platform, status=status
    )
    return AccountList(data=[AccountOut.of(a) for a in accounts])
