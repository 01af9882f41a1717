"""How often a post is sampled, by its age: every sync while young, then daily, then weekly
(settings analytics_hourly_until_s / analytics_daily_until_s)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

HOURLY = timedelta(hours=1)
DAILY = timedelta(days=1)
WEEKLY = timedelta(weeks=1)
# A sync that runs a little early still samples what is due about now (schedules jitter).
SLACK = timedelta(minutes=5)


@dataclass(frozen=True)
class Tiers:
    hourly_until: timedelta
    daily_until: timedelta

    def interval(self, age: timedelta) -> timedelta:
        if age < self.hourly_until:
            return HOURLY
        if age < self.daily_until:
            return DAILY
        return WEEKLY

    def is_due(self, published_at: datetime, last_sampled: datetime | None, now: datetime) -> bool:
        if last_sampled is None:
            return True
        return now - last_sampled + SLACK >= self.interval(now - published_at)

    def overdue_by(
        self, published_at: datetime, last_sampled: datetime | None, now: datetime
    ) -> timedelta:
        """How late a sample is (never sampled: as late as the post is old), for ordering."""
        if last_sampled is None:
            return now - published_at + WEEKLY
        return now - last_sampled - self.interval(now - published_at)
