"""Schedules and standing workflows Herald keeps on the Temporal server (created or updated at
worker start)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.common import WorkflowIDConflictPolicy

from herald import temporal as names
from herald.payloads import AnalyticsSyncInput, WebhookDispatchInput
from herald.settings import Settings


def reconciler_schedule_id(settings: Settings) -> str:
    return f"{settings.temporal_task_queue}-reconciler"


async def ensure_reconciler_schedule(client: Client, settings: Settings) -> None:
    await _ensure_interval_schedule(
        client,
        settings,
        reconciler_schedule_id(settings),
        names.RECONCILER_WORKFLOW,
        settings.reconcile_interval_s,
    )


def retention_schedule_id(settings: Settings) -> str:
    return f"{settings.temporal_task_queue}-retention"


async def ensure_retention_schedule(client: Client, settings: Settings) -> None:
    await _ensure_interval_schedule(
        client,
        settings,
        retention_schedule_id(settings),
        names.RETENTION_WORKFLOW,
        settings.retention_interval_s,
    )


async def _ensure_interval_schedule(
    client: Client, settings: Settings, schedule_id: str, workflow: str, every_s: float
) -> None:
    """Creates the schedule, or brings an existing one to this definition."""
    schedule = Schedule(
        action=ScheduleActionStartWorkflow(
            workflow, id=f"{schedule_id}/run", task_queue=settings.temporal_task_queue
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(seconds=every_s))]),
        # One pass at a time: a slow pass is not stacked on.
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )
    try:
        await client.create_schedule(schedule_id, schedule)
    except ScheduleAlreadyRunningError:

        def replace(_: ScheduleUpdateInput) -> ScheduleUpdate:
            return ScheduleUpdate(schedule=schedule)

        await client.get_schedule_handle(schedule_id).update(replace)


async def ensure_webhook_dispatcher(client: Client, settings: Settings) -> None:
    """Starts the deployment's webhook dispatcher unless it runs already."""
    await client.start_workflow(
        names.WEBHOOK_DISPATCH_WORKFLOW,
        WebhookDispatchInput(
            session_s=settings.webhook_dispatch_session_s,
            heartbeat_s=settings.webhook_dispatch_heartbeat_s,
        ),
        id=names.webhook_dispatch_workflow_id(settings.temporal_task_queue),
        task_queue=settings.temporal_task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )


def analytics_schedule(settings: Settings, account_id: str) -> Schedule:
    """`analytics/{account_id}`: a sync of the account every `analytics_sync_interval_s`, one
    at a time (a sync still waiting out a rate limit is not stacked on). Each account's syncs
    are offset within the interval by its id, so the accounts of a deployment do not all call
    their platforms at the top of the hour."""
    every = timedelta(seconds=settings.analytics_sync_interval_s)
    offset = timedelta(seconds=uuid.UUID(account_id).int % max(1, int(every.total_seconds())))
    return Schedule(
        action=ScheduleActionStartWorkflow(
            names.ANALYTICS_SYNC_WORKFLOW,
            AnalyticsSyncInput(account_id=account_id),
            id=names.analytics_sync_workflow_id(account_id),
            task_queue=settings.temporal_task_queue,
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every, offset=offset)]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )
