"""Queries over the analytics time series (metric_samples) and what it describes.

A subject's latest reading at an instant is found by one backward probe of the unique index
(subject_id, metric_set, sampled_at) per subject, so the cost follows the number of subjects
asked about, not the number of samples stored (bench/analytics_overview.py)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from herald.analytics.export_csv import ExportSample
from herald.analytics.sets import MetricSet
from herald.db.models import AnalyticsExport, MetricSample, Post, PostTarget, SocialAccount
from herald.status import TargetStatus
from platforms.metrics import METRIC_NAMES, Metrics


@dataclass(frozen=True)
class SampleCandidate:
    """A published target the sync may sample, with its last reading's time."""

    target_id: uuid.UUID
    post_id: uuid.UUID
    platform_post_id: str
    published_at: datetime
    last_sampled: datetime | None


def counters_of(sample: MetricSample) -> dict[str, int | None]:
    return {name: getattr(sample, name) for name in METRIC_NAMES}


def new_sample(
    account: SocialAccount,
    metric_set: MetricSet,
    sampled_at: datetime,
    metrics: Metrics,
    target: PostTarget | None = None,
) -> MetricSample:
    return MetricSample(
        workspace_id=account.workspace_id,
        brand_id=account.brand_id,
        account_id=account.id,
        target_id=target.id if target else None,
        post_id=target.post_id if target else None,
        subject_id=target.id if target else account.id,
        metric_set=str(metric_set),
        sampled_at=sampled_at,
        raw=dict(metrics.raw),
        **metrics.values,
    )


async def sample_candidates(session: AsyncSession, account_id: uuid.UUID) -> list[SampleCandidate]:
    last = (
        select(func.max(MetricSample.sampled_at))
        .where(
            MetricSample.subject_id == PostTarget.id,
            MetricSample.metric_set == str(MetricSet.POST),
        )
        .scalar_subquery()
    )
    rows = await session.execute(
        select(
            PostTarget.id,
            PostTarget.post_id,
            PostTarget.platform_post_id,
            PostTarget.published_at,
            last,
        ).where(
            PostTarget.account_id == account_id,
            PostTarget.status == TargetStatus.PUBLISHED,
            PostTarget.platform_post_id.is_not(None),
            PostTarget.published_at.is_not(None),
        )
    )
    return [
        SampleCandidate(target_id, post_id, platform_post_id, published_at, last_sampled)
        for target_id, post_id, platform_post_id, published_at, last_sampled in rows
        if platform_post_id is not None and published_at is not None
    ]


async def sampled_subjects(
    session: AsyncSession, subject_ids: Sequence[uuid.UUID], metric_set: MetricSet, at: datetime
) -> set[uuid.UUID]:
    """Which of these subjects already have a reading at exactly `at` (a retried sync)."""
    if not subject_ids:
        return set()
    found = await session.scalars(
        select(MetricSample.subject_id).where(
            MetricSample.subject_id.in_(subject_ids),
            MetricSample.metric_set == str(metric_set),
            MetricSample.sampled_at == at,
        )
    )
    return set(found)


def _latest_at(subject: Any, metric_set: MetricSet, at: datetime) -> Any:
    return (
        select(func.max(MetricSample.sampled_at))
        .where(
            MetricSample.subject_id == subject,
            MetricSample.metric_set == str(metric_set),
            MetricSample.sampled_at <= at,
        )
        .scalar_subquery()
    )


def _earliest_in(subject: Any, metric_set: MetricSet, start: datetime, end: datetime) -> Any:
    return (
        select(func.min(MetricSample.sampled_at))
        .where(
            MetricSample.subject_id == subject,
            MetricSample.metric_set == str(metric_set),
            MetricSample.sampled_at >= start,
            MetricSample.sampled_at <= end,
        )
        .scalar_subquery()
    )


def _brand_accounts(brand_id: uuid.UUID) -> Any:
    return select(SocialAccount.id).where(SocialAccount.brand_id == brand_id)


async def targets_published_in(
    session: AsyncSession, brand_id: uuid.UUID, start: datetime, end: datetime
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """(target id, post id) of the brand's targets published in [start, end]."""
    rows = await session.execute(
        select(PostTarget.id, PostTarget.post_id).where(
            PostTarget.account_id.in_(_brand_accounts(brand_id)),
            PostTarget.published_at >= start,
            PostTarget.published_at <= end,
        )
    )
    return [(row[0], row[1]) for row in rows]


async def latest_post_samples_of_brand(
    session: AsyncSession, brand_id: uuid.UUID, start: datetime, end: datetime
) -> list[MetricSample]:
    """The last reading at or before `end` of each brand target published in [start, end]."""
    edges = (
        select(
            PostTarget.id.label("subject_id"),
            _latest_at(PostTarget.id, MetricSet.POST, end).label("at"),
        )
        .where(
            PostTarget.account_id.in_(_brand_accounts(brand_id)),
            PostTarget.published_at >= start,
            PostTarget.published_at <= end,
        )
        .subquery()
    )
    return await _samples_at(session, edges, MetricSet.POST)


async def _samples_at(
    session: AsyncSession, edges: Any, metric_set: MetricSet
) -> list[MetricSample]:
    found = await session.scalars(
        select(MetricSample).join(
            edges,
            and_(
                MetricSample.subject_id == edges.c.subject_id,
                MetricSample.metric_set == str(metric_set),
                MetricSample.sampled_at == edges.c.at,
            ),
        )
    )
    return list(found)


@dataclass(frozen=True)
class FollowerEdges:
    account_id: uuid.UUID
    at_from: int | None
    first_in_range: int | None
    at_to: int | None


async def follower_edges(
    session: AsyncSession, brand_id: uuid.UUID, start: datetime, end: datetime
) -> list[FollowerEdges]:
    """Per account of the brand: followers at `start`, at its first reading in the range,
    and at `end` (each the last reading at or before that instant)."""
    accounts = (
        await session.scalars(select(SocialAccount.id).where(SocialAccount.brand_id == brand_id))
    ).all()
    if not accounts:
        return []
    edges = {}
    for name, at in (
        ("from", _latest_at(SocialAccount.id, MetricSet.ACCOUNT, start)),
        ("first", _earliest_in(SocialAccount.id, MetricSet.ACCOUNT, start, end)),
        ("to", _latest_at(SocialAccount.id, MetricSet.ACCOUNT, end)),
    ):
        subquery = (
            select(SocialAccount.id.label("subject_id"), at.label("at"))
            .where(SocialAccount.brand_id == brand_id)
            .subquery()
        )
        edges[name] = {
            s.subject_id: s.followers
            for s in await _samples_at(session, subquery, MetricSet.ACCOUNT)
        }
    return [
        FollowerEdges(a, edges["from"].get(a), edges["first"].get(a), edges["to"].get(a))
        for a in accounts
    ]


async def count_posts_published(
    session: AsyncSession, brand_id: uuid.UUID, start: datetime, end: datetime
) -> int:
    """Posts with at least one of the brand's targets published in [start, end]."""
    found = await session.scalar(
        select(func.count(func.distinct(PostTarget.post_id))).where(
            PostTarget.account_id.in_(_brand_accounts(brand_id)),
            PostTarget.published_at >= start,
            PostTarget.published_at <= end,
        )
    )
    return int(found or 0)


async def samples_of(
    session: AsyncSession,
    subject_ids: Sequence[uuid.UUID],
    metric_set: MetricSet,
    end: datetime,
    start: datetime | None = None,
) -> list[MetricSample]:
    """The readings of these subjects up to `end` (from `start`), oldest first."""
    if not subject_ids:
        return []
    query = select(MetricSample).where(
        MetricSample.subject_id.in_(subject_ids),
        MetricSample.metric_set == str(metric_set),
        MetricSample.sampled_at <= end,
    )
    if start is not None:
        query = query.where(MetricSample.sampled_at >= start)
    return list(await session.scalars(query.order_by(MetricSample.sampled_at, MetricSample.id)))


async def account_post_samples(
    session: AsyncSession, account_id: uuid.UUID, start: datetime, end: datetime
) -> tuple[list[MetricSample], list[MetricSample]]:
    """The account's post readings for a series over [start, end]: each target's last one at
    or before `start` (one index probe per target), then every one after it up to `end`,
    oldest first; the history before `start` is not read."""
    edges = (
        select(
            PostTarget.id.label("subject_id"),
            _latest_at(PostTarget.id, MetricSet.POST, start).label("at"),
        )
        .where(PostTarget.account_id == account_id, PostTarget.published_at.is_not(None))
        .subquery()
    )
    before = await _samples_at(session, edges, MetricSet.POST)
    during = await session.scalars(
        select(MetricSample)
        .where(
            # By subject, so each target's range is a seek on the (subject, set, time) index.
            MetricSample.subject_id.in_(
                select(PostTarget.id).where(PostTarget.account_id == account_id)
            ),
            MetricSample.metric_set == str(MetricSet.POST),
            MetricSample.sampled_at > start,
            MetricSample.sampled_at <= end,
        )
        .order_by(MetricSample.sampled_at, MetricSample.id)
    )
    return before, list(during)


async def account_samples(
    session: AsyncSession, account_id: uuid.UUID, start: datetime, end: datetime
) -> list[MetricSample]:
    """The account's own readings: its last one at or before `start`, then those up to `end`."""
    edge = (
        select(
            SocialAccount.id.label("subject_id"),
            _latest_at(SocialAccount.id, MetricSet.ACCOUNT, start).label("at"),
        )
        .where(SocialAccount.id == account_id)
        .subquery()
    )
    before = await _samples_at(session, edge, MetricSet.ACCOUNT)
    during = await samples_of(session, [account_id], MetricSet.ACCOUNT, end, start)
    return before + [s for s in during if s.sampled_at > start]


async def post_of_workspace(
    session: AsyncSession, workspace_id: uuid.UUID, post_id: uuid.UUID
) -> Post | None:
    return await session.scalar(
        select(Post).where(Post.id == post_id, Post.workspace_id == workspace_id)
    )


async def stream_export_samples(
    session: AsyncSession, brand_id: uuid.UUID, start: datetime, end: datetime, batch: int = 2000
) -> AsyncIterator[ExportSample]:
    """The brand's samples in [start, end], by subject then time (the order of the brand's
    index, so nothing is sorted), as plain rows fetched `batch` at a time."""
    counters = [getattr(MetricSample, name) for name in METRIC_NAMES]
    query = (
        select(
            MetricSample.subject_id,
            MetricSample.metric_set,
            MetricSample.account_id,
            SocialAccount.platform,
            MetricSample.post_id,
            MetricSample.target_id,
            PostTarget.platform_post_id,
            MetricSample.sampled_at,
            *counters,
        )
        .join(SocialAccount, SocialAccount.id == MetricSample.account_id)
        .outerjoin(PostTarget, PostTarget.id == MetricSample.target_id)
        .where(
            MetricSample.brand_id == brand_id,
            MetricSample.sampled_at >= start,
            MetricSample.sampled_at <= end,
        )
        .order_by(
            MetricSample.brand_id,
            MetricSample.subject_id,
            MetricSample.metric_set,
            MetricSample.sampled_at,
        )
        .execution_options(yield_per=batch)
    )
    result = await session.stream(query)
    async for row in result:
        subject, kind, account, platform, post, target, platform_post_id, at = row[:8]
        yield ExportSample(
            subject_id=str(subject),
            kind=kind,
            account_id=str(account),
            platform=platform,
            post_id=str(post) if post else None,
            target_id=str(target) if target else None,
            platform_post_id=platform_post_id,
            sampled_at=at,
            counters=dict(zip(METRIC_NAMES, row[8:], strict=True)),
        )


async def get_export(
    session: AsyncSession, workspace_id: uuid.UUID, export_id: uuid.UUID
) -> AnalyticsExport | None:
    return await session.scalar(
        select(AnalyticsExport).where(
            AnalyticsExport.id == export_id, AnalyticsExport.workspace_id == workspace_id
        )
    )
