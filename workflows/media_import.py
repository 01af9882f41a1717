"""Import from URL, one workflow per media (`media-import/{media_id}`): the download may be
slow or flaky; Temporal retries it and the operator sees it in the UI."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.media import MediaActivities
    from herald import temporal as names
    from herald.payloads import MediaImportInput
    from herald.status import MediaStatus


@workflow.defn(name=names.MEDIA_IMPORT_WORKFLOW)
class MediaImportWorkflow:
    @workflow.run
    async def run(self, input: MediaImportInput) -> MediaStatus:
        return await workflow.execute_activity_method(
            MediaActivities.import_media,
            input,
            start_to_close_timeout=timedelta(minutes=15),
            retry_policy=RetryPolicy(maximum_attempts=3, initial_interval=timedelta(seconds=5)),
        )
