"""Recurring series on the real Temporal server: the schedule, DST, count, pause, delete."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from activities.recurrence import RecurrenceActivities
from herald.db.models import Post
from herald.payloads import OccurrenceRequest
from tests.support.people import audit_events
from tests.support.stack import Stack, Tenant


async def _template(stack: Stack, tenant: Tenant) -> dict[str, Any]:
    created = await stack.api.post(
        "/v1/posts",
        json={
            "content": "daily hello",
            "draft": True,
            "targets": [{"account_id": str(tenant.accounts["mastodon"])}],
        },
        headers=tenant.headers,
    )
    result: dict[str, Any] = created.json()
    return result


async def test_a_daily_series_keeps_its_local_time_across_dst(stack: Stack) -> None:
    tenant = await stack.new_tenant()
    post = await _template(stack, tenant)
    body = {
        "freq": "daily",
        "time": "09:00",
        "timezone": "Europe/Berlin",
        "start_at": "2027-03-26T00:00:00Z",
    }
    created = await stack.api.post(
        f"/v1/posts/{post['id']}/recurrence", json=body, headers=tenant.headers
    )
    assert created.status_code == 201, created.text
    series = created.json()
    assert series["status"] == "active"
    assert series["next_runs"] == [
        "2027-03-26T08:00:00.000Z",
        "2027-03-27T08:00:00.000Z",  # 09:00 CET
        "2027-03-28T07:00:00.000Z",
        "2027-03-29T07:00:00.000Z",
        "2027-03-30T07:00:00.000Z",  # CEST
    ]
    client = await stack.resources.temporal.client()
    described = await client.get_schedule_handle(f"recurrence/{series['id']}").describe()
    temporal_times = [t.astimezone(UTC) for t in described.info.next_action_times[:5]]
    assert [t.isoformat().replace("+00:00", "Z") for t in temporal_times] == [
        r.replace(".000Z", "Z") for r in series["next_runs"]
    ]
    again = await stack.api.post(
        f"/v1/posts/{post['id']}/recurrence", json=body, headers=tenant.headers
    )
    assert again.status_code == 409
    # Listing is eventually consistent (visibility): a new schedule shows up shortly.
    for _ in range(50):
        listed = [s.id async for s in await client.list_schedules()]
        if f"recurrence/{series['id']}" in listed:
            break
        await asyncio.sleep(0.2)
    assert f"recurrence/{series['id']}" in listed


async def test_count_ends_the_series_exactly_and_delete_removes_the_schedule(stack: Stack) -> None:
    tenant = await stack.new_tenant()
    post = await _template(stack, tenant)
    body = {
        "freq": "weekly",
        "by_weekday": [0, 3],
        "time": "18:30",
        "timezone": "America/New_York",
        "start_at": "2027-01-01T00:00:00Z",
        "count": 3,
    }
    created = (
        await stack.api.post(
            f"/v1/posts/{post['id']}/recurrence", json=body, headers=tenant.headers
        )
    ).json()
    runs = [datetime.fromisoformat(r.replace("Z", "+00:00")) for r in created["next_runs"]]
    assert len(runs) == 3  # count 3: only three runs exist
    client = await stack.resources.temporal.client()
    activities = RecurrenceActivities(stack.resources.sessions, client)
    made = []
    for fired in [*runs, runs[-1]]:  # the last one twice: a retried action
        result = await activities.create_occurrence(
            OccurrenceRequest(recurrence_id=created["id"], fired_at=fired)
        )
        made.append(result.post_id)
    assert sum(1 for m in made if m) == 3 and made[-1] is None
    async with stack.resources.sessions() as session:
        copies = await session.scalar(
            select(func.count())
            .select_from(Post)
            .where(Post.workspace_id == tenant.workspace_id, Post.origin == "recurrence")
        )
    assert copies == 3
    occurrences = await audit_events(stack, tenant.headers, actor_type="system")
    assert [(e["action"], e["actor"]["id"], e["metadata"]["copy_of"]) for e in occurrences] == [
        ("post.created", f"recurrence:{created['id']}", post["id"])
    ] * 3
    assert {e["metadata"]["origin"] for e in occurrences} == {"recurrence"}
    current = (
        await stack.api.get(f"/v1/posts/{post['id']}/recurrence", headers=tenant.headers)
    ).json()
    assert (
        current["status"] == "ended" and current["occurrences"] == 3 and current["next_runs"] == []
    )
    described = await client.get_schedule_handle(f"recurrence/{created['id']}").describe()
    assert described.schedule.state.paused

    gone = await stack.api.delete(f"/v1/posts/{post['id']}/recurrence", headers=tenant.headers)
    assert gone.status_code == 204
    # The schedule is deleted at once; listing it is eventually consistent (visibility).
    for _ in range(50):
        listed = [s.id async for s in await client.list_schedules()]
        if f"recurrence/{created['id']}" not in listed:
            break
        await asyncio.sleep(0.2)
    assert f"recurrence/{created['id']}" not in listed
    missing = await stack.api.get(f"/v1/posts/{post['id']}/recurrence", headers=tenant.headers)
    assert missing.status_code == 404


async def test_pause_and_bad_rules(stack: Stack) -> None:
    tenant = await stack.new_tenant()
    post = await _template(stack, tenant)
    url = f"/v1/posts/{post['id']}/recurrence"
    body = {"freq": "monthly", "by_month_day": [1, 15], "time": "07:05", "timezone": "Asia/Tokyo"}
    assert (await stack.api.post(url, json=body, headers=tenant.headers)).status_code == 201
    paused = await stack.api.patch(url, json={**body, "paused": True}, headers=tenant.headers)
    assert paused.status_code == 200 and paused.json()["status"] == "paused"
    client = await stack.resources.temporal.client()
    described = await client.get_schedule_handle(f"recurrence/{paused.json()['id']}").describe()
    assert described.schedule.state.paused
    for bad in (
        {**body, "by_weekday": [1]},
        {**body, "timezone": "Nowhere/City"},
        {**body, "time": "7:05"},
        {**body, "by_month_day": [32]},
    ):
        response = await stack.api.patch(url, json=bad, headers=tenant.headers)
        assert response.status_code == 400, bad
    await stack.api.delete(url, headers=tenant.headers)
