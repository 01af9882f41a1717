"""The arithmetic of Herald's analytics (README "Analytics"): one place, so the endpoints,
the export and the tests' independent sums mean the same thing.

- A subject's value at an instant is its last sample at or before that instant.
- Engagement is likes + comments + shares + saves (those the platform reports).
- Engagement rate is engagement ÷ impressions, both over the targets whose platform reports
  impressions; None when none does or they add up to 0.
- Follower growth over [from, to] is an account's followers at `to` minus its followers at
  `from`; an account with no sample at or before `from` counts from its first sample in the
  range instead (it was not watched before); one with no sample in or before the range adds 0.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from platforms.metrics import METRIC_NAMES, total

ENGAGEMENT = ("likes", "comments", "shares", "saves")
POST_COUNTERS = tuple(name for name in METRIC_NAMES if name != "followers")

Counters = Mapping[str, int | None]


def engagement(counters: Counters) -> int | None:
    return total(*(counters.get(name) for name in ENGAGEMENT))


def sum_counters(
    rows: Iterable[Counters], names: Iterable[str] = POST_COUNTERS
) -> dict[str, int | None]:
    """Each counter summed over the rows that report it; None where none does."""
    listed = list(rows)
    return {name: total(*(row.get(name) for row in listed)) for name in names}


@dataclass(frozen=True)
class Engagement:
    impressions: int | None
    engagement: int | None
    rate: float | None


def engagement_of(rows: Iterable[Counters]) -> Engagement:
    listed = list(rows)
    seen = [row for row in listed if row.get("impressions") is not None]
    impressions = total(*(row.get("impressions") for row in seen))
    rated = total(*(engagement(row) for row in seen))
    rate = round(rated / impressions, 6) if impressions and rated is not None else None
    return Engagement(
        impressions=impressions,
        engagement=total(*(engagement(row) for row in listed)),
        rate=rate,
    )


def follower_growth(at_from: int | None, first_in_range: int | None, at_to: int | None) -> int:
    start = at_from if at_from is not None else first_in_range
    if start is None or at_to is None:
        return 0
    return at_to - start
