"""The analytics arithmetic and sampling tiers, as the README states them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from herald.analytics.rules import engagement, engagement_of, follower_growth, sum_counters
from herald.analytics.tiers import DAILY, HOURLY, WEEKLY, Tiers

TIERS = Tiers(hourly_until=timedelta(days=2), daily_until=timedelta(days=30))
NOW = datetime(2026, 6, 1, tzinfo=UTC)


def test_posts_are_sampled_hourly_then_daily_then_weekly() -> None:
    assert TIERS.interval(timedelta(hours=47)) == HOURLY
    assert TIERS.interval(timedelta(days=2)) == DAILY
    assert TIERS.interval(timedelta(days=29)) == DAILY
    assert TIERS.interval(timedelta(days=30)) == WEEKLY
    young = NOW - timedelta(hours=5)
    assert TIERS.is_due(young, None, NOW)
    assert not TIERS.is_due(young, NOW - timedelta(minutes=30), NOW)
    assert TIERS.is_due(young, NOW - timedelta(minutes=58), NOW)  # a schedule running early
    month_old = NOW - timedelta(days=10)
    assert not TIERS.is_due(month_old, NOW - timedelta(hours=20), NOW)
    assert TIERS.is_due(month_old, NOW - timedelta(hours=24), NOW)
    old = NOW - timedelta(days=90)
    assert not TIERS.is_due(old, NOW - timedelta(days=6), NOW)
    assert TIERS.is_due(old, NOW - timedelta(days=7), NOW)
    # Never sampled comes first, then the most overdue.
    assert TIERS.overdue_by(old, None, NOW) > TIERS.overdue_by(young, NOW - timedelta(days=3), NOW)


def test_engagement_counts_what_is_reported_and_the_rate_only_where_impressions_are() -> None:
    mastodon = {"likes": 3, "comments": 1, "shares": 2, "impressions": None, "saves": None}
    x = {"likes": 10, "comments": 0, "shares": 5, "saves": 5, "impressions": 400}
    assert engagement(mastodon) == 6
    assert engagement({"likes": None, "comments": None}) is None
    both = engagement_of([mastodon, x])
    assert (both.impressions, both.engagement, both.rate) == (400, 26, 0.05)
    assert engagement_of([mastodon]).rate is None
    assert engagement_of([{**x, "impressions": 0}]).rate is None
    summed = sum_counters([mastodon, x])
    assert (summed["likes"], summed["impressions"], summed["reach"]) == (13, 400, None)


def test_follower_growth_takes_the_first_sample_in_range_when_none_precedes_it() -> None:
    assert follower_growth(100, 120, 150) == 50
    assert follower_growth(None, 120, 150) == 30
    assert follower_growth(None, None, None) == 0
    assert follower_growth(100, None, None) == 0
