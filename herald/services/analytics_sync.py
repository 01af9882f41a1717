"""Keeping each account's analytics schedule in step with the account: made on connect,
resumed on reconnect, removed on disconnect; and the backfill a user asks for."""

from __future__ import annotations

import logging
import uuid
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from herald.errors import HeraldError
from herald.principal import Principal
from herald.repositories.accounts import get_account
from herald.status import AccountStatus

log = logging.getLogger(__name__)


class AnalyticsWorkflows(Protocol):
    async def watch_analytics(self, account_id: uuid.UUID) -> None: ...

    async def start_backfill(self, account_id: uuid.UUID) -> None: ...


async def watch_analytics(workflows: AnalyticsWorkflows, account_id: uuid.UUID) -> None:
    """The account is stored either way; without Temporal now, its schedule is made by the
    next connect, reconnect or backfill instead."""
    try:
        await workflows.watch_analytics(account_id)
    except HeraldError as err:
        log.warning("analytics schedule of account %s not set: %s", account_id, err.message)


async def backfill(
    session: AsyncSession,
    workflows: AnalyticsWorkflows,
    principal: Principal,
    account_id: uuid.UUID,
) -> None:
    account = await get_account(session, principal.workspace_id, account_id)
    if account is None:
        raise HeraldError.not_found("account")
    if account.status != AccountStatus.ACTIVE:
        raise HeraldError.conflict(f"the account is {account.status}; reconnect it first")
    await workflows.watch_analytics(account.id)
    await workflows.start_backfill(account.id)
