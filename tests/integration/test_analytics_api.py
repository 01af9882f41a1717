"""Analytics through the API: for every platform a post is published, the emulator clock
moves on, the sync runs, and the exact counters come back from /v1/analytics/posts/{id} and
the account endpoint; the brand overview equals a sum made here from the raw samples; follower
growth follows the README's rule across a range with no sample at its edges."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from herald.analytics.sets import MetricSet
from herald.crypto import api_key_digest, new_api_key
from herald.db.models import ApiKey, MetricSample, PostTarget
from tests.integration.test_analytics_sync import sync
from tests.support.analytics import (
    COUNTERS,
    PLATFORMS,
    advance_emulator,
    expected_followers,
    expected_post,
    publish_one,
)
from tests.support.stack import Stack, Tenant

# These move the shared emulator's clock.
pytestmark = pytest.mark.usefixtures("emulator_clock_restored")

HOURS = 4


def _z(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


async def _get(stack: Stack, tenant: Tenant, path: str, **params: Any) -> dict[str, Any]:
    answer = await stack.api.get(path, params=params, headers=tenant.headers)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


@pytest.mark.parametrize("platform", PLATFORMS)
async def test_published_post_reads_back_its_exact_metrics(stack: Stack, platform: str) -> None:
    tenant = await stack.new_tenant((platform,))
    account_id = tenant.accounts[platform]
    post = await publish_one(stack, tenant, platform, f"measured {uuid.uuid4().hex[:6]}")
    await advance_emulator(stack, HOURS)
    report = await sync(stack, account_id)
    assert (report.account_sampled, report.targets_sampled) == (True, 1)

    analytics = await _get(stack, tenant, f"/v1/analytics/posts/{post['id']}")
    [target] = analytics["targets"]
    assert target["platform"] == platform and target["account_id"] == str(account_id)
    latest = target["latest"]
    expected = expected_post(platform, HOURS)
    assert {name: latest[name] for name in COUNTERS} == expected
    engaged = [expected[n] for n in ("likes", "comments", "shares", "saves")]
    assert latest["engagement"] == sum(v for v in engaged if v is not None)
    assert latest["raw"] and len(target["series"]) == 1

    account = await _get(stack, tenant, f"/v1/analytics/accounts/{account_id}")
    assert account["followers"] == expected_followers(HOURS)
    today = account["series"][-1]
    assert today["followers"] == expected_followers(HOURS)
    assert {name: today[name] for name in COUNTERS} == expected


async def _samples_of_brand(stack: Stack, tenant: Tenant) -> list[MetricSample]:
    async with stack.resources.sessions() as session:
        return list(
            await session.scalars(
                select(MetricSample).where(MetricSample.brand_id == tenant.brand_id)
            )
        )


async def test_the_overview_equals_a_sum_of_the_raw_samples(stack: Stack) -> None:
    platforms = ("mastodon", "x", "linkedin")
    tenant = await stack.new_tenant(platforms)
    began = datetime.now(UTC)
    for platform in platforms:
        await publish_one(stack, tenant, platform, f"first {uuid.uuid4().hex[:6]}")
    await advance_emulator(stack, 2)
    for platform in platforms:
        await sync(stack, tenant.accounts[platform])
    await publish_one(stack, tenant, "x", f"second {uuid.uuid4().hex[:6]}")
    await advance_emulator(stack, 3)
    for platform in platforms:
        await sync(stack, tenant.accounts[platform], backfill=True)
    # Platforms that name their own publish time (Facebook, X ...) name it on the emulator's
    # clock, which this suite has moved hours ahead: the range reaches past it.
    end = datetime.now(UTC) + timedelta(days=30)

    overview = await _get(
        stack,
        tenant,
        f"/v1/analytics/brands/{tenant.brand_id}/overview",
        **{"from": _z(began - timedelta(minutes=1)), "to": _z(end)},
    )

    # Independently: each target's last sample, then the README's sums.
    rows = await _samples_of_brand(stack, tenant)
    last: dict[uuid.UUID, MetricSample] = {}
    for row in sorted(rows, key=lambda r: r.sampled_at):
        if row.metric_set == MetricSet.POST:
            last[row.subject_id] = row
    assert len(last) == 4
    rated = [r for r in last.values() if r.impressions is not None]
    impressions = sum(r.impressions or 0 for r in rated)

    def engaged(row: MetricSample) -> int:
        return sum(getattr(row, n) or 0 for n in ("likes", "comments", "shares", "saves"))

    accounts = [r for r in rows if r.metric_set == MetricSet.ACCOUNT]
    followers = {}
    for row in sorted(accounts, key=lambda r: r.sampled_at):
        followers.setdefault(row.subject_id, []).append(row.followers)
    assert overview == {
        "brand_id": str(tenant.brand_id),
        "from": overview["from"],
        "to": overview["to"],
        "followers": sum(series[-1] for series in followers.values()),
        "follower_growth": sum(series[-1] - series[0] for series in followers.values()),
        "impressions": impressions,
        "engagement": sum(engaged(r) for r in last.values()),
        "engagement_rate": round(sum(engaged(r) for r in rated) / impressions, 6),
        "posts": 4,
    }
    # Known by hand too: X's first post is 5 hours old, its second 3; LinkedIn's 5.
    assert impressions == 40 * (5 + 3 + 5)
    assert overview["follower_growth"] == 3 * 5 * 3  # three accounts, 3 hours between syncs


async def _account_sample(
    stack: Stack, tenant: Tenant, platform: str, at: datetime, followers: int
) -> None:
    async with stack.resources.sessions() as session, session.begin():
        account_id = tenant.accounts[platform]
        session.add(
            MetricSample(
                workspace_id=tenant.workspace_id,
                brand_id=tenant.brand_id,
                account_id=account_id,
                subject_id=account_id,
                metric_set=str(MetricSet.ACCOUNT),
                sampled_at=at,
                followers=followers,
                raw={},
            )
        )


async def test_follower_growth_across_a_range_with_no_sample_at_its_edges(stack: Stack) -> None:
    tenant = await stack.new_tenant(("mastodon", "bluesky"))
    day = datetime(2026, 3, 1, tzinfo=UTC)
    # Mastodon sampled on days 0, 2 and 4; Bluesky only from day 3 on.
    for offset, followers in ((0, 100), (2, 130), (4, 170)):
        await _account_sample(stack, tenant, "mastodon", day + timedelta(days=offset), followers)
    for offset, followers in ((3, 50), (5, 80)):
        await _account_sample(stack, tenant, "bluesky", day + timedelta(days=offset), followers)

    def overview(start: datetime, end: datetime) -> Any:
        return _get(
            stack,
            tenant,
            f"/v1/analytics/brands/{tenant.brand_id}/overview",
            **{"from": _z(start), "to": _z(end)},
        )

    # Day 1 to day 3.5: Mastodon counts from its day-0 sample (100) to its day-2 one (130);
    # Bluesky was first seen on day 3, so it counts from there (50) to the same 50.
    middle = await overview(day + timedelta(days=1), day + timedelta(days=3, hours=12))
    assert (middle["follower_growth"], middle["followers"]) == (30, 130 + 50)
    # Day 1 to day 4.5: 170 - 100 and 50 - 50.
    later = await overview(day + timedelta(days=1), day + timedelta(days=4, hours=12))
    assert (later["follower_growth"], later["followers"]) == (70, 170 + 50)
    # Before anything was sampled: nothing to count.
    before = await overview(day - timedelta(days=3), day - timedelta(days=1))
    assert (before["follower_growth"], before["followers"]) == (0, 0)

    series = await _get(
        stack,
        tenant,
        f"/v1/analytics/accounts/{tenant.accounts['mastodon']}",
        **{
            "from": _z(day + timedelta(days=1)),
            "to": _z(day + timedelta(days=5)),
            "interval": "day",
        },
    )
    assert series["follower_growth"] == 70
    assert [b["followers"] for b in series["series"]] == [130, 130, 170, 170]
    weekly = await _get(
        stack,
        tenant,
        f"/v1/analytics/accounts/{tenant.accounts['mastodon']}",
        **{"from": _z(day), "to": _z(day + timedelta(days=14)), "interval": "week"},
    )
    assert [b["followers"] for b in weekly["series"]] == [170, 170]


async def test_analytics_needs_analytics_view_and_hides_other_workspaces(stack: Stack) -> None:
    tenant = await stack.new_tenant(("mastodon",))
    other = await stack.new_tenant(("mastodon",))
    post = await publish_one(stack, tenant, "mastodon", "private numbers")
    key = new_api_key()
    async with stack.resources.sessions() as session, session.begin():
        session.add(
            ApiKey(
                workspace_id=tenant.workspace_id,
                name="posts only",
                key_digest=api_key_digest(key),
                key_prefix=key[:10],
                permissions=["posts.create"],
            )
        )
    scoped = {"Authorization": f"Bearer {key}"}
    paths = [
        f"/v1/analytics/posts/{post['id']}",
        f"/v1/analytics/accounts/{tenant.accounts['mastodon']}",
        f"/v1/analytics/brands/{tenant.brand_id}/overview",
    ]
    for path in paths:
        refused = await stack.api.get(path, headers=scoped)
        assert refused.status_code == 403, refused.text
        hidden = await stack.api.get(path, headers=other.headers)
        assert hidden.status_code == 404, hidden.text
        assert hidden.json()["error"]["code"] == "NOT_FOUND"
    backwards = await stack.api.get(
        paths[2],
        params={"from": "2026-02-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"},
        headers=tenant.headers,
    )
    assert backwards.status_code == 400
    naive = await stack.api.get(
        paths[2], params={"to": "2026-01-01T00:00:00"}, headers=tenant.headers
    )
    assert naive.status_code == 400
    async with stack.resources.sessions() as session:
        target = await session.get(PostTarget, uuid.UUID(post["targets"][0]["id"]))
        assert target is not None
