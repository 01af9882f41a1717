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


IMPORT_TIMEOUT = timedelta(minutes=15)
# The activity heartbeats every few seconds: a worker that dies mid-download is noticed soon.
IMPORT_HEARTBEAT_TIMEOUT = timedelta(seconds=10)
IMPORT_RETRY = RetryPolicy(maximum_attempts=3, initial_interval=timedelta(seconds=5))


async def import_media(input: MediaImportInput) -> MediaStatus:
    """The one way a workflow imports a URL into the library (this one, and mirrored posts')."""
    return await workflow.execute_activity_method(
        MediaActivities.import_media,
        input,
        start_to_close_timeout=IMPORT_TIMEOUT,
        heartbeat_timeout=IMPORT_HEARTBEAT_TIMEOUT,
        retry_policy=IMPORT_RETRY,
    )


@workflow.defn(name=names.MEDIA_IMPORT_WORKFLOW)
class MediaImportWorkflow:
    @workflow.run
    async def run(self, input: MediaImportInput) -> MediaStatus:
        return await import_media(input)
