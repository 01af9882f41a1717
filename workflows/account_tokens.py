"""One workflow per OAuth account (`account-tokens/{id}`): sleep until shortly before the
access token expires, renew it, repeat. A refused renewal marks the account expired (its
scheduled targets then fail with that reason) and ends the workflow; `tokens_changed` (sent on
reconnect, manual refresh or disconnect) makes it re-read the expiry at once."""

from __future__ import annotations

import contextlib
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.accounts import AccountTokenActivities
    from herald import temporal as names
    from herald.payloads import AccountTokensInput

REFRESHES_PER_RUN = 50
ACTIVITY_TIMEOUT = timedelta(minutes=2)


@workflow.defn(name=names.ACCOUNT_TOKENS_WORKFLOW)
class AccountTokensWorkflow:
    @workflow.init
    def __init__(self, input: AccountTokensInput) -> None:
        self._changed = False

    @workflow.run
    async def run(self, input: AccountTokensInput) -> str:
        margin = timedelta(seconds=input.refresh_margin_s)
        for _ in range(REFRESHES_PER_RUN):
            plan = await workflow.execute_activity_method(
                AccountTokenActivities.load_token_plan,
                input.account_id,
                start_to_close_timeout=ACTIVITY_TIMEOUT,
            )
            if not plan.watch:
                return "account no longer active"
            self._changed = False
            if plan.expires_at is not None:
                wait = plan.expires_at - margin - workflow.now()
                if wait > timedelta(0):
                    with contextlib.suppress(TimeoutError):
                        await workflow.wait_condition(lambda: self._changed, timeout=wait)
                    if self._changed:
                        continue  # new tokens or a disconnect: read the expiry again
            else:
                # A token without an expiry needs no renewal; wait for news about it.
                await workflow.wait_condition(lambda: self._changed)
                continue
            result = await workflow.execute_activity_method(
                AccountTokenActivities.refresh_account_tokens,
                input.account_id,
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=RetryPolicy(
                    initial_interval=timedelta(seconds=5),
                    maximum_interval=timedelta(minutes=5),
                ),
            )
            if result.expired:
                return f"account expired: {result.message}"
            if workflow.info().is_continue_as_new_suggested():
                break
        await workflow.wait_condition(workflow.all_handlers_finished)
        workflow.continue_as_new(input)

    @workflow.signal
    def tokens_changed(self) -> None:
        self._changed = True
