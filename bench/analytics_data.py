"""Analytics rows for the analytics benchmarks, inserted with bulk SQL (not through syncs):
published posts (one Mastodon target each) and their metric samples, plus account samples."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert

from bench.harness import BenchStack, BenchTenant
from herald.analytics.sets import MetricSet
from herald.db.models import MetricSample, Post, PostTarget
from herald.status import Origin, PostPhase, PostStatus, TargetStatus

CHUNK = 5_000


@dataclass(frozen=True)
class Posts:
    """`count` posts published `first_age` ago and older, one every `spacing`, each sampled
    `samples` times `every` apart from its publish time on (never after `now`)."""

    count: int
    first_age: timedelta
    spacing: timedelta
    samples: int
    every: timedelta


def _post(
    tenant: BenchTenant, index: int, published: datetime
) -> tuple[dict[str, Any], dict[str, Any]]:
    post_id, target_id = uuid.uuid4(), uuid.uuid4()
    account_id = tenant.account_ids[index % len(tenant.account_ids)]
    post = {
        "id": post_id,
        "workspace_id": tenant.workspace_id,
        "brand_id": tenant.brand_id,
        "content": f"bench analytics post #{index}",
        "media_ids": [],
        "phase": PostPhase.SCHEDULED,
        "status": PostStatus.PUBLISHED,
        "scheduled_at": published,
        "published_at": published,
        "origin": Origin.API,
        "version": 1,
        "created_by_type": "api_key",
        "created_by_id": "bench",
        "created_at": published,
        "updated_at": published,
    }
    target = {
        "id": target_id,
        "post_id": post_id,
        "account_id": account_id,
        "position": 0,
        "platform": "mastodon",
        "status": TargetStatus.PUBLISHED,
        "options": {},
        "platform_post_id": f"{index}",
        "attempts": 1,
        "first_attempt_at": published,
        "published_at": published,
        "updated_at": published,
    }
    return post, target


def _sample(
    tenant: BenchTenant,
    account_id: uuid.UUID,
    at: datetime,
    hours: int,
    target: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Counters shaped like the emulator's: they grow with the subject's age in hours."""
    if target is None:
        counters = {"followers": 100 + 5 * hours}
        metric_set, subject = MetricSet.ACCOUNT, account_id
    else:
        counters = {"likes": 3 * hours, "comments": hours, "shares": 2 * hours}
        metric_set, subject = MetricSet.POST, target["id"]
    return {
        "id": uuid.uuid4(),
        "workspace_id": tenant.workspace_id,
        "brand_id": tenant.brand_id,
        "account_id": account_id,
        "target_id": target["id"] if target else None,
        "post_id": target["post_id"] if target else None,
        "subject_id": subject,
        "metric_set": str(metric_set),
        "sampled_at": at,
        "impressions": 40 * hours if target else None,
        "reach": None,
        "saves": None,
        "clicks": None,
        "video_views": None,
        **{"likes": None, "comments": None, "shares": None, "followers": None, **counters},
        "raw": {},
    }


def _rows(
    tenant: BenchTenant, plan: Posts, now: datetime, offset: int
) -> Iterator[tuple[list[Any], list[Any], list[Any]]]:
    posts: list[Any] = []
    targets: list[Any] = []
    samples: list[Any] = []
    for index in range(plan.count):
        published = now - plan.first_age - plan.spacing * index
        post, target = _post(tenant, offset + index, published)
        posts.append(post)
        targets.append(target)
        for n in range(plan.samples):
            at = published + plan.every * (n + 1)
            if at > now:
                break
            hours = int((at - published).total_seconds() // 3600)
            samples.append(_sample(tenant, target["account_id"], at, hours, target))
        if len(samples) >= CHUNK:
            yield posts, targets, samples
            posts, targets, samples = [], [], []
    if posts or samples:
        yield posts, targets, samples


async def fill(
    stack: BenchStack,
    engine: Any,
    tenant: BenchTenant,
    plans: list[Posts],
    now: datetime,
    account_samples: int,
    account_every: timedelta,
) -> int:
    """Inserts the plans' posts and samples and `account_samples` readings per account;
    answers how many samples went in."""
    inserted = 0
    offset = 0
    for plan in plans:
        for posts, targets, samples in _rows(tenant, plan, now, offset):
            async with engine.begin() as connection:
                if posts:
                    await connection.execute(insert(Post.__table__), posts)
                    await connection.execute(insert(PostTarget.__table__), targets)
                if samples:
                    await connection.execute(insert(MetricSample.__table__), samples)
            inserted += len(samples)
        offset += plan.count
    readings = []
    for account_id in tenant.account_ids:
        for n in range(account_samples):
            at = now - account_every * n
            readings.append(_sample(tenant, account_id, at, account_samples - n))
    for start in range(0, len(readings), CHUNK):
        async with engine.begin() as connection:
            await connection.execute(
                insert(MetricSample.__table__), readings[start : start + CHUNK]
            )
    return inserted + len(readings)


async def analyze(engine: Any) -> None:
    async with engine.begin() as connection:
        if engine.dialect.name == "sqlite":
            await connection.exec_driver_sql("ANALYZE")
        else:
            for table in ("posts", "post_targets", "metric_samples", "social_accounts"):
                await connection.exec_driver_sql(f"ANALYZE {table}")
