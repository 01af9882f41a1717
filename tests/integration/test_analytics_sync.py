"""The analytics sync: a Schedule per connected account, samples written by the workflow on
the platform's queue, age tiers, a 429 waited out without holding up another account, and an
expired account's schedule paused until it is reconnected. No test waits on a schedule's
clock: they trigger the schedule or run the sync workflow directly."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from temporalio.client import Client

from herald import temporal as names
from herald.analytics.sets import MetricSet
from herald.db.models import MetricSample, SocialAccount
from herald.payloads import AnalyticsSyncInput, AnalyticsSyncReport
from tests.support.analytics import (
    advance_emulator,
    expected_followers,
    expected_post,
    publish_one,
)
from tests.support.oauth import callback, consent, new_platform_user
from tests.support.stack import Stack, Tenant
from workflows.analytics_sync import AnalyticsSyncWorkflow

# These move the shared emulator's clock.
pytestmark = pytest.mark.usefixtures("emulator_clock_restored")


async def _client(stack: Stack) -> Client:
    return await stack.resources.temporal.client()


async def sync(
    stack: Stack, account_id: uuid.UUID | str, backfill: bool = False
) -> AnalyticsSyncReport:
    client = await _client(stack)
    return await asyncio.wait_for(
        client.execute_workflow(
            AnalyticsSyncWorkflow.run,
            AnalyticsSyncInput(account_id=str(account_id), backfill=backfill),
            id=f"test-analytics-{uuid.uuid4()}",
            task_queue=stack.settings.temporal_task_queue,
        ),
        timeout=60,
    )


async def samples(stack: Stack, subject_id: uuid.UUID | str, kind: MetricSet) -> list[MetricSample]:
    async with stack.resources.sessions() as session:
        found = await session.scalars(
            select(MetricSample)
            .where(
                MetricSample.subject_id == uuid.UUID(str(subject_id)),
                MetricSample.metric_set == str(kind),
            )
            .order_by(MetricSample.sampled_at)
        )
        return list(found)


async def test_a_sync_samples_the_account_and_its_due_posts(stack: Stack) -> None:
    tenant = await stack.new_tenant(("mastodon",))
    account_id = tenant.accounts["mastodon"]
    post = await publish_one(stack, tenant, "mastodon", "sampled")
    target_id = post["targets"][0]["id"]
    await advance_emulator(stack, 3)

    report = await sync(stack, account_id)
    assert (report.account_sampled, report.targets_sampled, report.paused) == (True, 1, None)
    [reading] = await samples(stack, target_id, MetricSet.POST)
    assert (reading.likes, reading.comments, reading.shares) == (9, 3, 6)
    assert reading.impressions is None  # Mastodon has no views: absent, not 0
    assert reading.raw["favourites_count"] == 9
    [audience] = await samples(stack, account_id, MetricSet.ACCOUNT)
    assert audience.followers == expected_followers(3)
    assert audience.raw["statuses_count"] == 1

    # A post younger than two days is sampled hourly: not again right away.
    again = await sync(stack, account_id)
    assert (again.account_sampled, again.targets_sampled) == (True, 0)
    assert len(await samples(stack, target_id, MetricSet.POST)) == 1
    # A backfill samples every published post whatever its tier.
    filled = await sync(stack, account_id, backfill=True)
    assert filled.targets_sampled == 1
    assert len(await samples(stack, target_id, MetricSet.POST)) == 2


async def _wait_for_samples(
    stack: Stack, subject_id: uuid.UUID | str, kind: MetricSet, count: int, timeout_s: float = 30
) -> list[MetricSample]:
    deadline = time.monotonic() + timeout_s
    while True:
        found = await samples(stack, subject_id, kind)
        if len(found) >= count:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{len(found)} samples of {subject_id}, expected {count}")
        await asyncio.sleep(0.2)


async def test_connecting_makes_a_schedule_that_syncs_and_disconnecting_removes_it(
    stack: Stack,
) -> None:
    tenant = await stack.new_tenant(())
    username = f"t{uuid.uuid4().hex[:10]}"
    created = await stack.emulator.post(
        "/_emulator/accounts", json={"platform": "mastodon", "username": username}
    )
    token = created.json()["token"]
    connected = await stack.api.post(
        "/v1/accounts",
        json={
            "brand_id": str(tenant.brand_id),
            "platform": "mastodon",
            "credentials": {
                "instance_url": f"{stack.emulator.base_url}/mastodon",
                "access_token": token,
            },
        },
        headers=tenant.headers,
    )
    assert connected.status_code == 201, connected.text
    account_id = connected.json()["id"]
    client = await _client(stack)
    handle = client.get_schedule_handle(names.analytics_schedule_id(account_id))
    described = await handle.describe()
    assert not described.schedule.state.paused
    [interval] = described.schedule.spec.intervals
    assert interval.every == timedelta(seconds=stack.settings.analytics_sync_interval_s)
    # Spread within the hour by the account's id, not all at its top.
    assert interval.offset == timedelta(seconds=uuid.UUID(account_id).int % 3600)
    await handle.trigger()
    [audience] = await _wait_for_samples(stack, account_id, MetricSet.ACCOUNT, 1)
    assert audience.followers == expected_followers(0)

    removed = await stack.api.delete(f"/v1/accounts/{account_id}", headers=tenant.headers)
    assert removed.status_code == 204
    # The schedule list is Temporal's visibility store, which trails a deletion briefly.
    for _ in range(50):
        listed = [s.id async for s in await client.list_schedules()]
        if names.analytics_schedule_id(account_id) not in listed:
            break
        await asyncio.sleep(0.2)
    assert names.analytics_schedule_id(account_id) not in listed


async def test_backfill_answers_202_and_samples_every_post(stack: Stack) -> None:
    tenant = await stack.new_tenant(("bluesky",))
    account_id = tenant.accounts["bluesky"]
    post = await publish_one(stack, tenant, "bluesky", "old news")
    await advance_emulator(stack, 2)
    started = await stack.api.post(f"/v1/accounts/{account_id}/backfill", headers=tenant.headers)
    assert started.status_code == 202, started.text
    assert started.json() == {"account_id": str(account_id), "status": "started"}
    [reading] = await _wait_for_samples(stack, post["targets"][0]["id"], MetricSet.POST, 1)
    assert (reading.likes, reading.saves) == (6, 2)

    other = await stack.new_tenant(("bluesky",))
    hidden = await stack.api.post(f"/v1/accounts/{account_id}/backfill", headers=other.headers)
    assert hidden.status_code == 404


async def _rate_limit_next_read(stack: Stack, platform_post_id: str, wait_s: int) -> None:
    fault: dict[str, Any] = {
        "platform": "mastodon",
        "status": 429,
        "retry_after": wait_s,
        "path": f"/api/v1/statuses/{platform_post_id}",
        "method": "GET",
        "count": 1,
    }
    (await stack.emulator.post("/_emulator/faults", json=fault)).raise_for_status()


async def test_a_429_is_waited_out_and_delays_no_other_account(stack: Stack) -> None:
    limited = await stack.new_tenant(("mastodon",))
    free = await stack.new_tenant(("mastodon",))
    limited_post = await publish_one(stack, limited, "mastodon", "limited")
    free_post = await publish_one(stack, free, "mastodon", "free")
    await advance_emulator(stack, 1)
    await _rate_limit_next_read(stack, limited_post["targets"][0]["platform_post_id"], 3)

    began = time.monotonic()
    slow = asyncio.create_task(sync(stack, limited.accounts["mastodon"]))
    await asyncio.sleep(0.5)  # the limited sync has met its 429 by now
    quick = await sync(stack, free.accounts["mastodon"])
    quick_s = time.monotonic() - began
    assert quick.targets_sampled == 1
    assert not slow.done(), "the limited sync did not wait out the platform's Retry-After"
    waited = await slow
    assert waited.targets_sampled == 1
    assert time.monotonic() - began >= 3 > quick_s
    [reading] = await samples(stack, limited_post["targets"][0]["id"], MetricSet.POST)
    assert reading.likes == expected_post("mastodon", 1)["likes"]
    assert len(await samples(stack, free_post["targets"][0]["id"], MetricSet.POST)) == 1
    # The account's publishes wait out the limit the sync met, as the sync waits out theirs.
    async with stack.resources.sessions() as session:
        account = await session.get(SocialAccount, limited.accounts["mastodon"])
        assert account is not None and account.rate_limited_until is not None


async def test_a_sync_waits_out_a_rate_limit_a_publish_met(stack: Stack) -> None:
    tenant = await stack.new_tenant(("mastodon",))
    account_id = tenant.accounts["mastodon"]
    async with stack.resources.sessions() as session, session.begin():
        account = await session.get(SocialAccount, account_id)
        assert account is not None
        account.rate_limited_until = datetime.now(UTC) + timedelta(seconds=2)
    began = time.monotonic()
    report = await sync(stack, account_id)
    assert report.account_sampled and time.monotonic() - began >= 2


async def test_an_expired_account_pauses_its_schedule_until_reconnected(stack: Stack) -> None:
    platform = "x"
    tenant: Tenant = await stack.new_tenant(())
    username = await new_platform_user(stack, platform)
    connected = await callback(stack, platform, await consent(stack, tenant, platform, username))
    assert connected.status_code == 200, connected.text
    account_id = connected.json()["id"]
    client = await _client(stack)
    handle = client.get_schedule_handle(names.analytics_schedule_id(account_id))
    assert not (await handle.describe()).schedule.state.paused

    revoked = await stack.emulator.post(f"/_emulator/accounts/{platform}/{username}/revoke")
    revoked.raise_for_status()
    report = await sync(stack, account_id)
    assert report.paused is not None and "credentials" in report.paused
    state = (await handle.describe()).schedule.state
    assert state.paused and "credentials" in (state.note or "")

    again = await consent(
        stack, tenant, platform, username, path=f"/v1/accounts/{account_id}/reconnect"
    )
    assert (await callback(stack, platform, again)).status_code == 200
    assert not (await handle.describe()).schedule.state.paused
    resumed = await sync(stack, account_id)
    assert resumed.paused is None and resumed.account_sampled
