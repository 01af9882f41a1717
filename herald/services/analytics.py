"""The analytics a user reads: a brand's overview, an account's series, a post's targets.
The arithmetic is herald.analytics.rules; the queries herald.repositories.analytics."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from herald.analytics.rules import (
    POST_COUNTERS,
    engagement,
    engagement_of,
    follower_growth,
    sum_counters,
)
from herald.analytics.sets import MetricSet
from herald.db.models import MetricSample, PostTarget
from herald.errors import HeraldError
from herald.repositories.accounts import get_account
from herald.repositories.analytics import (
    account_post_samples,
    account_samples,
    count_posts_published,
    counters_of,
    follower_edges,
    latest_post_samples_of_brand,
    post_of_workspace,
    samples_of,
)
from herald.repositories.brands import get_brand
from herald.schemas.analytics import (
    AccountAnalytics,
    Bucket,
    LatestSample,
    Overview,
    PostAnalytics,
    Sample,
    TargetAnalytics,
)

Interval = Literal["day", "week"]
DEFAULT_RANGE = timedelta(days=30)
STEPS: dict[str, timedelta] = {"day": timedelta(days=1), "week": timedelta(weeks=1)}
MAX_BUCKETS = 400


def resolve_range(
    start: datetime | None, end: datetime | None, now: datetime
) -> tuple[datetime, datetime]:
    """`to` defaults to now, `from` to 30 days before `to`."""
    end = end or now
    start = start or end - DEFAULT_RANGE
    if start > end:
        raise HeraldError.invalid("from", "must not be after `to`")
    return start, end


async def brand_overview(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    brand_id: uuid.UUID,
    start: datetime,
    end: datetime,
) -> Overview:
    if await get_brand(session, workspace_id, brand_id) is None:
        raise HeraldError.not_found("brand")
    latest = await latest_post_samples_of_brand(session, brand_id, start, end)
    engaged = engagement_of(counters_of(s) for s in latest)
    edges = await follower_edges(session, brand_id, start, end)
    return Overview(
        brand_id=str(brand_id),
        start=start,
        end=end,
        followers=sum(e.at_to or 0 for e in edges),
        follower_growth=sum(follower_growth(e.at_from, e.first_in_range, e.at_to) for e in edges),
        impressions=engaged.impressions,
        engagement=engaged.engagement,
        engagement_rate=engaged.rate,
        posts=await count_posts_published(session, brand_id, start, end),
    )


def _buckets(start: datetime, end: datetime, interval: Interval) -> list[tuple[datetime, datetime]]:
    step = STEPS[interval]
    if (end - start) / step > MAX_BUCKETS:
        raise HeraldError.invalid("from", f"the range holds more than {MAX_BUCKETS} {interval}s")
    bounds = []
    at = start
    while at < end:
        bounds.append((at, min(at + step, end)))
        at += step
    return bounds or [(start, end)]


def _value_at(samples: Sequence[MetricSample], at: datetime) -> MetricSample | None:
    """The last of these time-ordered samples at or before `at`."""
    found = None
    for sample in samples:
        if sample.sampled_at > at:
            break
        found = sample
    return found


async def account_analytics(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    account_id: uuid.UUID,
    start: datetime,
    end: datetime,
    interval: Interval,
) -> AccountAnalytics:
    account = await get_account(session, workspace_id, account_id)
    if account is None:
        raise HeraldError.not_found("account")
    bounds = _buckets(start, end, interval)
    audience = await account_samples(session, account.id, start, end)
    before, readings = await account_post_samples(session, account.id, start, end)
    series = []
    latest: dict[uuid.UUID, MetricSample] = {s.subject_id: s for s in before}
    cursor = 0
    for bucket_start, bucket_end in bounds:
        while cursor < len(readings) and readings[cursor].sampled_at <= bucket_end:
            latest[readings[cursor].subject_id] = readings[cursor]
            cursor += 1
        counters = sum_counters(counters_of(s) for s in latest.values())
        followers = _value_at(audience, bucket_end)
        series.append(
            Bucket(
                start=bucket_start,
                end=bucket_end,
                followers=followers.followers if followers else None,
                engagement=engagement(counters),
                **counters,
            )
        )
    in_range = [s for s in audience if start <= s.sampled_at <= end]
    at_from, at_to = _value_at(audience, start), _value_at(audience, end)
    return AccountAnalytics(
        account_id=str(account.id),
        platform=account.platform,
        interval=interval,
        followers=at_to.followers if at_to else None,
        follower_growth=follower_growth(
            at_from.followers if at_from else None,
            in_range[0].followers if in_range else None,
            at_to.followers if at_to else None,
        ),
        series=series,
    )


def _sample(sample: MetricSample) -> Sample:
    counters = {name: getattr(sample, name) for name in POST_COUNTERS}
    return Sample(sampled_at=sample.sampled_at, engagement=engagement(counters), **counters)


async def post_analytics(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    post_id: uuid.UUID,
    start: datetime | None,
    end: datetime,
) -> PostAnalytics:
    post = await post_of_workspace(session, workspace_id, post_id)
    if post is None:
        raise HeraldError.not_found("post")
    readings = await samples_of(session, [t.id for t in post.targets], MetricSet.POST, end, start)
    by_target: dict[uuid.UUID, list[MetricSample]] = {}
    for reading in readings:
        by_target.setdefault(reading.subject_id, []).append(reading)
    return PostAnalytics(
        post_id=str(post.id), targets=[_target(t, by_target.get(t.id, [])) for t in post.targets]
    )


def _target(target: PostTarget, readings: list[MetricSample]) -> TargetAnalytics:
    latest = None
    if readings:
        last = readings[-1]
        latest = LatestSample(**_sample(last).model_dump(), raw=dict(last.raw))
    return TargetAnalytics(
        target_id=str(target.id),
        account_id=str(target.account_id),
        platform=target.platform,
        platform_post_id=target.platform_post_id,
        published_at=target.published_at,
        latest=latest,
        series=[_sample(r) for r in readings],
    )
