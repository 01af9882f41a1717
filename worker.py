"""Starts Herald's Temporal workers: workflows and database activities on the main task queue,
publish activities on one queue per platform (`<main>-platform-<name>`), each with its own cap."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import timedelta

from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.accounts import AccountTokenActivities
from activities.analytics import AnalyticsActivities
from activities.analytics_export import AnalyticsExportActivities
from activities.media import MediaActivities
from activities.mirrors import MirrorActivities
from activities.outcomes import OutcomeStore
from activities.posts import PostActivities
from activities.publish import PublishActivities
from activities.reconciler import ReconcilerActivities
from activities.recurrence import RecurrenceActivities
from activities.retention import RetentionActivities
from activities.unpublish import UnpublishActivities
from activities.webhooks import WebhookActivities
from api.gateway import TemporalGateway
from herald import temporal as names
from herald.adapters import build_registry
from herald.analytics.tiers import Tiers
from herald.crypto import CredentialCipher, load_or_create_secret_key
from herald.db.engine import create_engine, create_session_factory
from herald.gc_tuning import freeze_startup_objects
from herald.outbound import import_client, platform_client, webhook_client
from herald.payloads import RetrySchedule
from herald.schedules import (
    ensure_reconciler_schedule,
    ensure_retention_schedule,
    ensure_webhook_dispatcher,
)
from herald.settings import Settings
from herald.storage.factory import build_storage
from herald.worker_metrics import sdk_metrics, serving_metrics
from herald.workflow_modules import compile_workflow_modules_once
from workflows.account_tokens import AccountTokensWorkflow
from workflows.analytics_export import AnalyticsExportWorkflow
from workflows.analytics_sync import AnalyticsSyncWorkflow
from workflows.media_import import MediaImportWorkflow
from workflows.media_validation import MediaValidationWorkflow
from workflows.mirror import MirrorWorkflow
from workflows.mirror_post import MirroredPostWorkflow
from workflows.post import PostWorkflow
from workflows.reconciler import ReconcilerWorkflow
from workflows.recurrence import RecurrenceOccurrenceWorkflow
from workflows.retention import RetentionWorkflow
from workflows.unpublish import UnpublishWorkflow
from workflows.webhooks import WebhookDispatchWorkflow, WebhookRetryWorkflow

log = logging.getLogger("herald.worker")

WORKFLOWS = (
    PostWorkflow,
    UnpublishWorkflow,
    MediaImportWorkflow,
    MediaValidationWorkflow,
    RecurrenceOccurrenceWorkflow,
    MirrorWorkflow,
    MirroredPostWorkflow,
    ReconcilerWorkflow,
    AccountTokensWorkflow,
    WebhookDispatchWorkflow,
    WebhookRetryWorkflow,
    RetentionWorkflow,
    AnalyticsSyncWorkflow,
    AnalyticsExportWorkflow,
)


def workflow_runner() -> SandboxedWorkflowRunner:
    """Temporal's sandbox as it ships, on purpose. Measured (bench/README.md, sleeping_scale,
    2026-12-02): it costs a scheduled post's first workflow task about 7 of its 30 ms of worker
    CPU and a third of each cached run's memory, nearly all of it re-importing the workflow
    module for every run (now from code compiled once per process, herald/workflow_modules.py:
    what is left is the SDK inspecting the workflow class again). Passing every module through
    (`SandboxRestrictions.with_passthrough_all_modules`) saves that, but then a workflow
    module's own `time.time()`, `random.random()` or `open()` run unchecked: determinism would
    rest on review alone. tests/workflows/test_sandbox.py holds this runner to refusing them.
    `opentelemetry` alone is passed through: the tracing interceptor's workflow side uses it
    (and its context must be the one the worker's spans share)."""
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules("opentelemetry")
    )


@contextlib.asynccontextmanager
async def running_workers(settings: Settings, client: Client) -> AsyncIterator[list[Worker]]:
    """Builds and runs every worker until the context exits (tests use this directly)."""
    compile_workflow_modules_once(WORKFLOWS)
    engine = create_engine(settings.resolved_database_url)
    sessions = create_session_factory(engine)
    http = platform_client(settings)
    import_http = import_client(settings)
    webhook_http = webhook_client(settings)
    adapters = build_registry(http, settings)
    storage = build_storage(settings)
    cipher = CredentialCipher(load_or_create_secret_key(settings))
    read_sessions = create_session_factory(engine, read_only=True)
    # One per process: outcomes from every activity of the process share transactions.
    outcomes = OutcomeStore(sessions)
    posts = PostActivities(
        sessions,
        settings.publish_attempts,
        read_sessions=read_sessions,
        publish_retry=RetrySchedule(
            initial_s=settings.publish_retry_initial_s, max_s=settings.publish_retry_max_s
        ),
        outcomes=outcomes,
        publish_deadline_s=settings.publish_deadline_s,
    )
    publish = PublishActivities(
        sessions,
        adapters,
        cipher,
        storage,
        read_sessions=read_sessions,
        outcomes=outcomes,
        concurrency=settings.concurrency_of,
    )
    unpublish = UnpublishActivities(sessions, adapters, cipher)
    media = MediaActivities(sessions, storage, settings, import_http)
    mirrors = MirrorActivities(sessions, adapters, cipher, storage)
    tokens = AccountTokenActivities(sessions, adapters, cipher)
    analytics = AnalyticsActivities(
        sessions,
        adapters,
        cipher,
        client,
        Tiers(
            hourly_until=timedelta(seconds=settings.analytics_hourly_until_s),
            daily_until=timedelta(seconds=settings.analytics_daily_until_s),
        ),
        settings.analytics_targets_per_sync,
    )
    exports = AnalyticsExportActivities(sessions, storage)
    deliveries = WebhookActivities(sessions, read_sessions, cipher, webhook_http, client, settings)
    main_queue = settings.temporal_task_queue
    workers = [
        Worker(
            client,
            task_queue=main_queue,
            workflows=list(WORKFLOWS),
            workflow_runner=workflow_runner(),
            # What bounds the worker's memory however many posts sleep: runs beyond this are
            # evicted and rebuilt from their history when they wake.
            max_cached_workflows=settings.worker_max_cached_workflows,
            # The SDK sends a heartbeat every 0.8 x the heartbeat timeout at most, which leaves
            # the webhook dispatcher one fifth of its timeout of slack: on a busy machine it
            # timed out again and again and waited out its retry backoff, delivering nothing.
            # Every third of the timeout leaves two thirds.
            max_heartbeat_throttle_interval=timedelta(
                seconds=settings.webhook_dispatch_heartbeat_s / 3
            ),
            activities=[
                posts.load_post_plan,
                posts.start_publishing,
                posts.apply_schedule_change,
                posts.record_target_failure,
                posts.finalize_post,
                posts.decide_approval,
                unpublish.published_targets,
                media.import_media,
                media.validate_media,
                RecurrenceActivities(sessions, client).create_occurrence,
                mirrors.poll_mirror,
                mirrors.create_mirrored_post,
                ReconcilerActivities(
                    sessions, client, TemporalGateway(settings, client), main_queue
                ).reconcile_posts,
                tokens.load_token_plan,
                tokens.refresh_account_tokens,
                deliveries.dispatch_webhooks,
                deliveries.attempt_webhook_delivery,
                RetentionActivities(sessions, settings.retention_s).prune_outbox,
                analytics.plan_analytics_sync,
                analytics.pause_analytics_schedule,
                exports.write_analytics_export,
                exports.fail_analytics_export,
            ],
        )
    ]
    for platform in adapters.platforms:
        workers.append(
            Worker(
                client,
                task_queue=names.platform_task_queue(main_queue, platform),
                activities=[
                    publish.publish_target,
                    publish.publish_targets,
                    unpublish.delete_target,
                    analytics.sample_analytics,
                ],
                max_concurrent_activities=settings.concurrency_of(platform),
            )
        )
    tasks = [asyncio.create_task(worker.run()) for worker in workers]
    await ensure_webhook_dispatcher(client, settings)
    log.info("worker polling %s and %d platform queues", main_queue, len(workers) - 1)
    try:
        yield workers
    finally:
        await asyncio.gather(*(worker.shutdown() for worker in workers), return_exceptions=True)
        await asyncio.gather(*tasks, return_exceptions=True)
        await http.aclose()
        await import_http.aclose()
        await webhook_http.aclose()
        await engine.dispose()


async def run_worker(settings: Settings, stop: asyncio.Event) -> None:
    port = settings.worker_metrics_port
    sdk = sdk_metrics() if port else None
    client = await names.connect_patiently(settings, sdk.runtime if sdk else None)
    await names.register_search_attributes(client, settings.temporal_namespace)
    await ensure_reconciler_schedule(client, settings)
    await ensure_retention_schedule(client, settings)
    with contextlib.ExitStack() as metrics:
        if port:
            metrics.enter_context(
                serving_metrics(settings.worker_metrics_host, port, sdk.url if sdk else None)
            )
        async with running_workers(settings, client):
            freeze_startup_objects()
            await stop.wait()
