"""No post stays stuck: a post whose workflow start was lost, or whose run was terminated
mid-way, is published by the reconciler, exactly once; a media validation or an analytics
export whose start was lost is started."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import update
from temporalio.client import WorkflowExecutionStatus

from herald.db.models import AnalyticsExport, MediaValidation, Post
from herald.db.types import utcnow
from herald.payloads import ReconcileReport
from herald.posts.creation import create_post
from herald.principal import ALL_PERMISSIONS, ActorType, Principal
from herald.schedules import ensure_reconciler_schedule, reconciler_schedule_id
from herald.schemas.posts import PostCreate
from herald.status import MediaValidationStatus
from herald.temporal import (
    account_tokens_workflow_id,
    analytics_export_workflow_id,
    analytics_schedule_id,
    media_validation_workflow_id,
)
from tests.support.oauth import OAUTH_PLATFORMS, callback, consent, new_platform_user
from tests.support.stack import Stack, Tenant
from workflows.reconciler import ReconcilerWorkflow


async def _reconcile(stack: Stack) -> ReconcileReport:
    client = await stack.resources.temporal.client()
    report = await client.execute_workflow(
        ReconcilerWorkflow.run,
        id=f"reconcile-{uuid.uuid4()}",
        task_queue=stack.settings.temporal_task_queue,
    )
    return report


async def _listed_running(stack: Stack, post_ids: list[str]) -> int:
    """How many of these posts Temporal's list of workflows shows running."""
    client = await stack.resources.temporal.client()
    ids = " OR ".join(f"WorkflowId = 'post/{p}'" for p in post_ids)
    query = f"({ids}) AND ExecutionStatus = 'Running'"
    return len([w async for w in client.list_workflows(query)])


async def _until_listed(stack: Stack, post_ids: list[str], running: int) -> None:
    """The list lags a moment behind starts and ends; the reconciler reads it."""
    for _ in range(100):
        if await _listed_running(stack, post_ids) == running:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"Temporal never listed {running} of {post_ids} as running")


async def test_sleeping_posts_are_checked_from_one_list_not_described_one_by_one(
    stack: Stack,
) -> None:
    tenant = await stack.new_tenant()
    # The suite's earlier posts share this database: past the start grace now, they cannot
    # cross it between the two passes below and be counted as if they were these five.
    async with stack.resources.sessions() as session, session.begin():
        await session.execute(
            update(Post)
            .where(Post.created_at > utcnow() - timedelta(minutes=1))
            .values(created_at=utcnow() - timedelta(minutes=1))
        )
    at = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    post_ids = []
    for n in range(5):
        created = await stack.api.post(
            "/v1/posts",
            json={
                "content": f"sleeping {n}",
                "scheduled_at": at,
                "targets": [{"account_id": str(tenant.accounts["mastodon"])}],
            },
            headers=tenant.headers,
        )
        assert created.status_code == 201, created.text
        post_ids.append(created.json()["id"])
    await _until_listed(stack, post_ids, running=5)
    before = await _reconcile(stack)
    async with stack.resources.sessions() as session, session.begin():
        await session.execute(
            update(Post)
            .where(Post.id.in_([uuid.UUID(p) for p in post_ids]))
            .values(created_at=utcnow() - timedelta(minutes=1))
        )
    after = await _reconcile(stack)
    assert after.checked == before.checked + 5
    assert after.described == before.described
    assert not set(post_ids) & set(after.started)


async def test_a_post_whose_start_was_lost_is_published(stack: Stack) -> None:
    tenant = await stack.new_tenant()
    principal = Principal(tenant.workspace_id, ActorType.API_KEY, "test", ALL_PERMISSIONS)
    body = PostCreate.model_validate(
        {
            "content": "lost start",
            "publish_now": True,
            "targets": [{"account_id": str(tenant.accounts["mastodon"])}],
        }
    )
    async with stack.resources.sessions() as session, session.begin():
        post = await create_post(session, principal, stack.resources.rules, body, utcnow())
        post_id = post.id
    # Committed, but the process died before starting the workflow; a minute has passed.
    async with stack.resources.sessions() as session, session.begin():
        await session.execute(
            update(Post)
            .where(Post.id == post_id)
            .values(created_at=utcnow() - timedelta(minutes=1))
        )
    report = await _reconcile(stack)
    assert str(post_id) in report.started
    done = await stack.wait_for_post(tenant, str(post_id))
    assert done["status"] == "published"
    assert len(await stack.emulator_posts("mastodon", tenant.usernames["mastodon"])) == 1
    again = await _reconcile(stack)
    assert str(post_id) not in again.started


async def test_a_terminated_run_is_resumed(stack: Stack) -> None:
    tenant = await stack.new_tenant()
    at = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    created = await stack.api.post(
        "/v1/posts",
        json={
            "content": "terminated",
            "scheduled_at": at,
            "targets": [{"account_id": str(tenant.accounts["mastodon"])}],
        },
        headers=tenant.headers,
    )
    post_id = created.json()["id"]
    client = await stack.resources.temporal.client()
    await client.get_workflow_handle(f"post/{post_id}").terminate("operator error")
    await _until_listed(stack, [post_id], running=0)
    async with stack.resources.sessions() as session, session.begin():
        await session.execute(
            update(Post)
            .where(Post.id == uuid.UUID(post_id))
            .values(created_at=utcnow() - timedelta(minutes=1), scheduled_at=utcnow())
        )
    report = await _reconcile(stack)
    assert post_id in report.started
    assert (await stack.wait_for_post(tenant, post_id))["status"] == "published"


async def test_the_schedule_is_created_and_kept(stack: Stack) -> None:
    client = await stack.resources.temporal.client()
    await ensure_reconciler_schedule(client, stack.settings)
    await ensure_reconciler_schedule(client, stack.settings)  # idempotent: updates in place
    described = await client.get_schedule_handle(reconciler_schedule_id(stack.settings)).describe()
    assert described.schedule.spec.intervals[0].every == timedelta(
        seconds=stack.settings.reconcile_interval_s
    )
    await client.get_schedule_handle(reconciler_schedule_id(stack.settings)).delete()


async def test_an_oauth_account_without_its_token_workflow_gets_one(stack: Stack) -> None:
    platform = next(p for p in OAUTH_PLATFORMS if p != "mastodon")
    tenant = await stack.new_tenant(())
    username = await new_platform_user(stack, platform)
    connected = await callback(stack, platform, await consent(stack, tenant, platform, username))
    assert connected.status_code == 200, connected.text
    client = await stack.resources.temporal.client()
    handle = client.get_workflow_handle(account_tokens_workflow_id(connected.json()["id"]))
    # Gone, as if the start after the callback had been lost.
    await handle.terminate("test: lost")

    report = await _reconcile(stack)

    assert report.token_accounts_checked >= 1
    running = await client.get_workflow_handle(handle.id).describe()
    assert running.status == WorkflowExecutionStatus.RUNNING


async def test_an_active_account_without_its_analytics_schedule_gets_one(stack: Stack) -> None:
    tenant = await stack.new_tenant(("mastodon",))  # written straight to the database
    schedule_id = analytics_schedule_id(tenant.accounts["mastodon"])
    client = await stack.resources.temporal.client()

    report = await _reconcile(stack)

    assert report.analytics_schedules_made >= 1
    described = await client.get_schedule_handle(schedule_id).describe()
    assert not described.schedule.state.paused


async def _until(stack: Stack, tenant: Tenant, path: str, statuses: tuple[str, ...]) -> str:
    for _ in range(150):
        answer = await stack.api.get(path, headers=tenant.headers)
        assert answer.status_code == 200, answer.text
        if answer.json()["status"] in statuses:
            return str(answer.json()["status"])
        await asyncio.sleep(0.1)
    raise AssertionError(f"{path} stayed {answer.json()['status']} for 15 s")


async def test_a_validation_and_an_export_whose_starts_were_lost_are_started(
    stack: Stack,
) -> None:
    tenant = await stack.new_tenant()
    upload = await stack.api.post(
        "/v1/media/uploads",
        json={
            "brand_id": str(tenant.brand_id),
            "filename": "a.png",
            "mime_type": "image/png",
            "size": 10,
        },
        headers=tenant.headers,
    )
    assert upload.status_code == 201, upload.text
    media_id = upload.json()["media_id"]
    # Committed as the API commits them, but the process died before starting their
    # workflows; a minute has passed.
    a_minute_ago = utcnow() - timedelta(minutes=1)
    validation = MediaValidation(
        id=uuid.uuid4(),
        workspace_id=tenant.workspace_id,
        media_ids=[media_id],
        status=MediaValidationStatus.PENDING,
        results=[],
        created_at=a_minute_ago,
    )
    export = AnalyticsExport(
        workspace_id=tenant.workspace_id,
        brand_id=tenant.brand_id,
        range_from=a_minute_ago - timedelta(days=7),
        range_to=a_minute_ago,
        format="csv",
        status="pending",
        created_at=a_minute_ago,
    )
    async with stack.resources.sessions() as session, session.begin():
        session.add_all([validation, export])

    report = await _reconcile(stack)

    expected = {
        media_validation_workflow_id(validation.id),
        analytics_export_workflow_id(export.id),
    }
    assert expected <= set(report.jobs_started)
    checked = await _until(stack, tenant, f"/v1/media/validations/{validation.id}", ("completed",))
    assert checked == "completed"
    finished = await _until(stack, tenant, f"/v1/analytics/exports/{export.id}", ("done", "failed"))
    assert finished == "done"
    again = await _reconcile(stack)
    assert not expected & set(again.jobs_started)
