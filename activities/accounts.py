"""Activities of the token workflow: when does the account's token expire, and renew it."""

from __future__ import annotations

import uuid

from temporalio import activity

from herald.crypto import CredentialCipher
from herald.db.engine import SessionFactory
from herald.db.models import SocialAccount
from herald.payloads import TokenPlan, TokenRefreshResult
from herald.services.account_tokens import refresh_account_tokens
from herald.status import AccountStatus
from platforms.base import PlatformError
from platforms.registry import AdapterRegistry


class AccountTokenActivities:
    def __init__(
        self, sessions: SessionFactory, adapters: AdapterRegistry, cipher: CredentialCipher
    ) -> None:
        self._sessions = sessions
        self._adapters = adapters
        self._cipher = cipher

    @activity.defn(name="load_token_plan")
    async def load_token_plan(self, account_id: str) -> TokenPlan:
        async with self._sessions() as session:
            account = await session.get(SocialAccount, uuid.UUID(account_id))
            if account is None or account.status in (AccountStatus.REVOKED, AccountStatus.EXPIRED):
                return TokenPlan(watch=False)
            return TokenPlan(watch=True, expires_at=account.token_expires_at)

    @activity.defn(name="refresh_account_tokens")
    async def refresh_account_tokens(self, account_id: str) -> TokenRefreshResult:
        try:
            outcome = await refresh_account_tokens(
                self._sessions, self._adapters, self._cipher, uuid.UUID(account_id)
            )
        except PlatformError as err:
            # Transient or rate limited: Temporal retries the activity with back-off.
            raise RuntimeError(f"refresh failed for now: {err.message}") from err
        return TokenRefreshResult(
            refreshed=outcome.refreshed,
            expired=outcome.expired,
            expires_at=outcome.expires_at,
            message=outcome.message,
        )
