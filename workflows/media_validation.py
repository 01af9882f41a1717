"""Media validation on request, one workflow per request (`media-validation/{id}`): probing
stored files again takes a while for videos, so the API answers 202 and this does the work."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.media import MediaActivities
    from herald import temporal as names
    from herald.payloads import MediaValidationInput


VALIDATION_TIMEOUT = timedelta(minutes=15)
# The activity heartbeats every few seconds: a worker that dies mid-probe is noticed soon.
VALIDATION_HEARTBEAT_TIMEOUT = timedelta(seconds=10)
VALIDATION_RETRY = RetryPolicy(maximum_attempts=5, initial_interval=timedelta(seconds=2))


@workflow.defn(name=names.MEDIA_VALIDATION_WORKFLOW)
class MediaValidationWorkflow:
    @workflow.run
    async def run(self, input: MediaValidationInput) -> None:
        await workflow.execute_activity_method(
            MediaActivities.validate_media,
            input,
            start_to_close_timeout=VALIDATION_TIMEOUT,
            heartbeat_timeout=VALIDATION_HEARTBEAT_TIMEOUT,
            retry_policy=VALIDATION_RETRY,
        )
