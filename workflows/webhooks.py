"""Webhook delivery: the dispatcher (one per deployment, id `{task_queue}-webhooks`) and the
retry of a delivery whose first attempt failed (id `webhook-delivery/{delivery_id}`)."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.webhooks import WebhookActivities
    from herald import temporal as names
    from herald.payloads import WebhookDispatchInput, WebhookRetryInput

# Sessions of the dispatcher activity per run, before continue-as-new keeps history short.
SESSIONS_PER_RUN = 50
# A dispatcher or an attempt that failed for its own sake (database down) is tried again.
KEEP_TRYING = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1)
)


@workflow.defn(name=names.WEBHOOK_DISPATCH_WORKFLOW)
class WebhookDispatchWorkflow:
    @workflow.run
    async def run(self, input: WebhookDispatchInput) -> None:
        for _ in range(SESSIONS_PER_RUN):
            await workflow.execute_activity_method(
                WebhookActivities.dispatch_webhooks,
                input,
                start_to_close_timeout=timedelta(seconds=input.session_s + 120),
                heartbeat_timeout=timedelta(seconds=input.heartbeat_s),
                retry_policy=KEEP_TRYING,
            )
        workflow.continue_as_new(input)


@workflow.defn(name=names.WEBHOOK_RETRY_WORKFLOW)
class WebhookRetryWorkflow:
    @workflow.run
    async def run(self, input: WebhookRetryInput) -> None:
        wait: float | None = input.wait_s
        while wait is not None:
            if wait > 0:
                await workflow.sleep(timedelta(seconds=wait))
            wait = await workflow.execute_activity_method(
                WebhookActivities.attempt_webhook_delivery,
                input.delivery_id,
                start_to_close_timeout=timedelta(seconds=input.attempt_timeout_s + 30),
                retry_policy=KEEP_TRYING,
            )
