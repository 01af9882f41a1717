"""Renewing an OAuth account's tokens, shared by the token workflow, POST /refresh and the
publish activity's one refresh after AuthExpired; starting the workflow that keeps them fresh.

Platforms that rotate refresh tokens (X, TikTok) invalidate the old one on use, so two
refreshes racing for one account would make the loser look revoked: a failed refresh first
checks whether the stored credentials changed meanwhile and, if so, counts as done."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from herald.adapters import adapter_for
from herald.crypto import CredentialCipher
from herald.db.engine import SessionFactory
from herald.db.models import SocialAccount
from herald.errors import HeraldError
from herald.principal import Actor, system_actor
from herald.services import audit
from herald.services.events import account_event
from herald.services.oauth_connect import apply_grant, oauth_adapter
from herald.status import AccountStatus
from platforms.base import AuthExpired, PlatformError, Rejected
from platforms.registry import AdapterRegistry

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RefreshOutcome:
    refreshed: bool
    expires_at: datetime | None
    # The account stopped working: marked expired, and the user must reconnect it.
    expired: bool = False
    message: str | None = None


async def refresh_account_tokens(
    sessions: SessionFactory,
    adapters: AdapterRegistry,
    cipher: CredentialCipher,
    account_id: uuid.UUID,
    actor: Actor | None = None,
) -> RefreshOutcome:
    """Transient platform errors propagate (the caller retries); a refused refresh marks the
    account expired and emits `account.expired`. `actor`: who asked (POST /refresh), else
    Herald's token workflow or a publish did."""
    async with sessions() as session:
        account = await session.get(SocialAccount, account_id)
        if account is None or account.status == AccountStatus.REVOKED:
            return RefreshOutcome(False, None, expired=True, message="the account is gone")
        read_credentials = account.credentials_encrypted
        context = cipher.context_of(account)
        adapter = adapter_for(adapters, account.platform)
    try:
        grant = await adapter.refresh(context)  # outside any transaction: a slow platform
    except (AuthExpired, Rejected) as err:
        return await _refused(sessions, account_id, read_credentials, err.message, actor)
    async with sessions() as session, session.begin():
        account = await session.get(SocialAccount, account_id)
        if account is None or account.status == AccountStatus.REVOKED:
            return RefreshOutcome(False, None, expired=True, message="the account is gone")
        apply_grant(cipher, account, grant)
        if actor is not None:  # Herald's own renewals are routine: nobody asks who did them
            audit.record_as(
                session,
                account.workspace_id,
                actor,
                "account.refreshed",
                "account",
                account.id,
                {"platform": account.platform, "token_expires_at": account.token_expires_at},
            )
        log.info("refreshed the tokens of %s account %s", account.platform, account_id)
        return RefreshOutcome(True, account.token_expires_at)


async def _refused(
    sessions: SessionFactory,
    account_id: uuid.UUID,
    read_credentials: str,
    message: str,
    actor: Actor | None,
) -> RefreshOutcome:
    async with sessions() as session, session.begin():
        account = await session.get(SocialAccount, account_id)
        if account is None:
            return RefreshOutcome(False, None, expired=True, message=message)
        if account.credentials_encrypted != read_credentials:
            # Another refresh (or a reconnect) won the race; its tokens are the current ones.
            return RefreshOutcome(True, account.token_expires_at)
        if account.status != AccountStatus.EXPIRED:
            account.status = AccountStatus.EXPIRED
            account_event(session, account, "account.expired", reason=message)
            audit.record_as(
                session,
                account.workspace_id,
                actor or system_actor("account-tokens"),
                "account.expired",
                "account",
                account.id,
                {"platform": account.platform, "reason": message},
            )
        log.warning("%s account %s expired: %s", account.platform, account_id, message)
        return RefreshOutcome(False, account.token_expires_at, expired=True, message=message)


class TokenWatch(Protocol):
    async def watch_account_tokens(self, account_id: uuid.UUID) -> None: ...


async def watch_tokens(workflows: TokenWatch, account_id: uuid.UUID) -> None:
    """The account is stored either way; without Temporal its tokens are still renewed when a
    publish meets an expired one, and POST /refresh starts the workflow later."""
    try:
        await workflows.watch_account_tokens(account_id)
    except HeraldError as err:
        log.warning("token workflow of account %s not started: %s", account_id, err.message)


async def refresh_now(
    session: AsyncSession,
    sessions: SessionFactory,
    adapters: AdapterRegistry,
    cipher: CredentialCipher,
    workflows: TokenWatch,
    account: SocialAccount,
    actor: Actor,
) -> None:
    """POST /refresh: renews the tokens now (409 when the platform refuses, and the account is
    then expired; 503 when it cannot be reached, and nothing is marked), then makes sure the
    token workflow runs. `account` is reloaded from `session` afterwards."""
    oauth_adapter(adapters, account.platform)
    if account.status == AccountStatus.REVOKED:
        raise HeraldError.conflict("the account was disconnected; connect it again")
    platform, account_id = account.platform, account.id
    await session.rollback()  # the refresh writes in its own transactions
    try:
        outcome = await refresh_account_tokens(sessions, adapters, cipher, account_id, actor)
    except PlatformError as err:
        raise HeraldError.platform_unreachable(platform, err.message) from err
    if outcome.expired:
        raise HeraldError.conflict(
            f"{platform} refused to renew the tokens ({outcome.message}); reconnect"
        )
    await watch_tokens(workflows, account_id)
    await session.refresh(account)
