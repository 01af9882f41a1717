"""OAuth account endpoints: connect, callback, reconnect and refresh."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from api.deps import ResourcesDep, SessionDep, require
from api.openapi import error_responses
from herald.errors import HeraldError
from herald.principal import Permission, Principal
from herald.repositories.accounts import get_account
from herald.schemas.accounts import AccountOut
from herald.services import audit
from herald.services.account_pages import SelectPageBody, select_page
from herald.services.account_tokens import refresh_now, watch_tokens
from herald.services.analytics_sync import watch_analytics
from herald.services.oauth_connect import (
    ConnectRequest,
    finish_connect,
    spend_state,
    start_connect,
)
from herald.settings import PLATFORMS
from herald.status import AccountStatus

router = APIRouter(prefix="/v1/accounts", tags=["accounts"])

PlatformName = Literal[PLATFORMS]  # type: ignore[valid-type]


class ConnectOut(BaseModel):
    authorization_url: str
    state: str


@router.post(
    "/connect/{platform}",
    response_model=ConnectOut,
    summary="Start connecting an OAuth account: where to send the user, and the state",
    description="Answers the platform's authorization URL (with PKCE where the platform takes "
    "it) and a `state` that is single-use and expires after 15 minutes.",
)
async def connect_oauth(
    platform: PlatformName,
    body: ConnectRequest,
    session: SessionDep,
    resources: ResourcesDep,
    principal: Annotated[Principal, Depends(require(Permission.ACCOUNTS_CONNECT))],
) -> ConnectOut:
    started = await start_connect(
        session,
        principal,
        resources.adapters,
        resources.cipher,
        resources.settings.api_url,
        platform,
        body,
    )
    return ConnectOut(authorization_url=started.authorization_url, state=started.state)


@router.get(
    "/callback/{platform}",
    response_model=AccountOut,
    summary="Finish an OAuth connection (no API key: the state identifies the request)",
    description="The platform redirects here (or your page forwards) with `code` and `state`. "
    "A used, unknown or expired state answers 400; so does a refusal by the user (`error`).",
    responses=error_responses(402),
)
async def oauth_callback(
    platform: PlatformName,
    resources: ResourcesDep,
    state: Annotated[str, Query(min_length=1, max_length=500)],
    code: Annotated[str | None, Query(max_length=4000)] = None,
    error: Annotated[str | None, Query(max_length=200)] = None,
    error_description: Annotated[str | None, Query(max_length=2000)] = None,
) -> AccountOut:
    # The state is spent in its own transaction, so a failure below cannot make it reusable.
    async with resources.sessions() as session, session.begin():
        pending = await spend_state(session, platform, state)
    if error is not None or not code:
        reason = error_description or error or "no authorization code"
        raise HeraldError.invalid("code", f"{platform} did not authorize Herald: {reason}")
    async with resources.sessions() as session, session.begin():
        account = await finish_connect(
            session, resources.adapters, resources.cipher, platform, code, pending, resources.plan
        )
        answer = AccountOut.of(account)
    await watch_tokens(resources.temporal, answer.id)
    # A new account's schedule is made; a reconnected one's, paused while expired, resumes.
    await watch_analytics(resources.temporal, answer.id)
    return answer


@router.post(
    "/{account_id}/reconnect",
    response_model=ConnectOut,
    summary="Authorize an OAuth account again (after it expired or lost permissions)",
)
async def reconnect(
    account_id: uuid.UUID,
    body: ConnectRequest,
    session: SessionDep,
    resources: ResourcesDep,
    principal: Annotated[Principal, Depends(require(Permission.ACCOUNTS_CONNECT))],
) -> ConnectOut:
    account = await get_account(session, principal.workspace_id, account_id)
    if account is None:
        raise HeraldError.not_found("account")
    started = await start_connect(
        session,
        principal,
        resources.adapters,
        resources.cipher,
        resources.settings.api_url,
        account.platform,
        body,
        account,
    )
    return ConnectOut(authorization_url=started.authorization_url, state=started.state)


@router.post(
    "/{account_id}/refresh",
    response_model=AccountOut,
    summary="Renew an OAuth account's tokens now",
    description="409 when the platform refuses (the account is then `expired`: reconnect it).",
)
async def refresh(
    account_id: uuid.UUID,
    session: SessionDep,
    resources: ResourcesDep,
    principal: Annotated[Principal, Depends(require(Permission.ACCOUNTS_CONNECT))],
) -> AccountOut:
    account = await get_account(session, principal.workspace_id, account_id)
    if account is None:
        raise HeraldError.not_found("account")
    await refresh_now(
        session,
        resources.sessions,
        resources.adapters,
        resources.cipher,
        resources.temporal,
        account,
        principal.actor,
    )
    return AccountOut.of(account)


@router.post(
    "/{account_id}/select-page",
    response_model=AccountOut,
    summary="Choose the page the account publishes as (Facebook Pages)",
    description="400 when the page is not one the account's user manages (the message lists "
    "them) or the platform has no pages.",
)
async def select_page_(
    account_id: uuid.UUID,
    body: SelectPageBody,
    session: SessionDep,
    resources: ResourcesDep,
    principal: Annotated[Principal, Depends(require(Permission.ACCOUNTS_CONNECT))],
) -> AccountOut:
    account = await get_account(session, principal.workspace_id, account_id)
    if account is None:
        raise HeraldError.not_found("account")
    if account.status == AccountStatus.REVOKED:
        raise HeraldError.conflict("the account was disconnected; connect it again")
    await select_page(resources.adapters, resources.cipher, account, body.page_id)
    audit.record(
        session, principal, "account.page_selected", "account", account.id, body.model_dump()
    )
    return AccountOut.of(account)
