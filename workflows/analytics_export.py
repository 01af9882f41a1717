"""One CSV export of a brand's analytics (`analytics-export/{id}`): the activity streams the
samples into a file and the file into media storage; an export that cannot be written is
marked failed."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.analytics_export import AnalyticsExportActivities
    from herald import temporal as names
    from herald.payloads import AnalyticsExportInput

WRITE_TIMEOUT = timedelta(hours=1)
WRITE_HEARTBEAT = timedelta(minutes=2)
MARK_TIMEOUT = timedelta(seconds=30)


@workflow.defn(name=names.ANALYTICS_EXPORT_WORKFLOW)
class AnalyticsExportWorkflow:
    @workflow.run
    async def run(self, input: AnalyticsExportInput) -> int:
        try:
            return await workflow.execute_activity_method(
                AnalyticsExportActivities.write_analytics_export,
                input,
                start_to_close_timeout=WRITE_TIMEOUT,
                heartbeat_timeout=WRITE_HEARTBEAT,
                retry_policy=RetryPolicy(maximum_attempts=3),
            )
        except ActivityError:
            await workflow.execute_activity_method(
                AnalyticsExportActivities.fail_analytics_export,
                input,
                start_to_close_timeout=MARK_TIMEOUT,
            )
            return 0
