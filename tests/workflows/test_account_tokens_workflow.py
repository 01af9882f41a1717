"""The token workflow on the time-skipping test server, with its two activities stubbed by name:
it renews shortly before expiry, again and again, and stops when an account expires or goes."""

from __future__ import annotations

import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from temporalio import activity
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from herald.payloads import AccountTokensInput, TokenPlan, TokenRefreshResult
from workflows.account_tokens import AccountTokensWorkflow

BIN = Path(sys.executable).parent
TOKEN_LIFETIME = timedelta(hours=2)
MARGIN = timedelta(minutes=10)


@pytest.fixture(scope="module")
async def env() -> AsyncIterator[WorkflowEnvironment]:
    environment = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(BIN / "temporal-test-server"),
        data_converter=pydantic_data_converter,
    )
    try:
        yield environment
    finally:
        await environment.shutdown()


@dataclass
class FakeAccount:
    """The account's token as the database would hold it; refreshes push its expiry."""

    env: WorkflowEnvironment
    expires_at: datetime
    refused_after: int | None = None  # the platform refuses the refresh after this many
    active: bool = True
    refreshed_at: list[datetime] = field(default_factory=list)

    def activities(self) -> list[object]:
        @activity.defn(name="load_token_plan")
        async def load_token_plan(account_id: str) -> TokenPlan:
            return TokenPlan(watch=self.active, expires_at=self.expires_at)

        @activity.defn(name="refresh_account_tokens")
        async def refresh_account_tokens(account_id: str) -> TokenRefreshResult:
            now = await self.env.get_current_time()
            if self.refused_after is not None and len(self.refreshed_at) >= self.refused_after:
                self.active = False
                return TokenRefreshResult(refreshed=False, expired=True, message="invalid_grant")
            self.refreshed_at.append(now)
            self.expires_at = now + TOKEN_LIFETIME
            return TokenRefreshResult(refreshed=True, expired=False, expires_at=self.expires_at)

        return [load_token_plan, refresh_account_tokens]


async def _run(env: WorkflowEnvironment, account: FakeAccount, wait: timedelta) -> str | None:
    queue = f"tokens-{uuid.uuid4().hex[:8]}"
    async with Worker(
        env.client,
        task_queue=queue,
        workflows=[AccountTokensWorkflow],
        activities=account.activities(),
    ):
        handle = await env.client.start_workflow(
            AccountTokensWorkflow.run,
            AccountTokensInput(account_id="a1", refresh_margin_s=MARGIN.total_seconds()),
            id=f"account-tokens/{uuid.uuid4()}",
            task_queue=queue,
        )
        await env.sleep(wait)
        description = await handle.describe()
        if description.status is not None and description.status.name == "COMPLETED":
            result: str = await handle.result()
            return result
        await handle.terminate("test over")
        return None


async def test_tokens_are_renewed_before_each_expiry(env: WorkflowEnvironment) -> None:
    start = await env.get_current_time()
    account = FakeAccount(env, expires_at=start + timedelta(hours=1))

    assert await _run(env, account, timedelta(hours=5)) is None  # still watching

    # First renewal 10 minutes before the first expiry, then every 2 h minus 10 minutes.
    assert len(account.refreshed_at) == 3
    first = account.refreshed_at[0] - start
    assert timedelta(minutes=49) <= first <= timedelta(minutes=51)
    gaps = [b - a for a, b in zip(account.refreshed_at, account.refreshed_at[1:], strict=False)]
    for gap in gaps:
        assert abs(gap - (TOKEN_LIFETIME - MARGIN)) < timedelta(minutes=1)
    assert account.expires_at > await env.get_current_time()  # never left expired


async def test_a_refused_refresh_ends_the_workflow(env: WorkflowEnvironment) -> None:
    start = await env.get_current_time()
    account = FakeAccount(env, expires_at=start + timedelta(hours=1), refused_after=1)

    result = await _run(env, account, timedelta(hours=4))

    assert result is not None and "expired" in result and "invalid_grant" in result
    assert len(account.refreshed_at) == 1


async def test_an_account_that_is_gone_ends_it_at_once(env: WorkflowEnvironment) -> None:
    start = await env.get_current_time()
    account = FakeAccount(env, expires_at=start + timedelta(hours=1), active=False)

    result = await _run(env, account, timedelta(minutes=1))

    assert result == "account no longer active"
    assert account.refreshed_at == []
