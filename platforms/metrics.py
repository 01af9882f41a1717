"""What a platform says about a post or an account, in one vocabulary for every network.

`METRIC_NAMES` is Herald's normalised set. A platform that does not report one of them leaves
it None (absent), never 0: Mastodon has no impressions, and "no impressions" would be a lie.
`raw` keeps the platform's own numbers under its own field names (Mastodon
``favourites_count``, Instagram ``saved`` ...), so nothing the platform said is lost.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

METRIC_NAMES: tuple[str, ...] = (
    "impressions",
    "reach",
    "likes",
    "comments",
    "shares",
    "saves",
    "clicks",
    "video_views",
    "followers",
)


def count(value: Any) -> int | None:
    """A counter as the platform sent it: an integer (bools and text are not counts)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


@dataclass(frozen=True)
class Metrics:
    """One reading of a post's or an account's counters. `values` holds every name in
    METRIC_NAMES (None where the platform reports nothing); `raw` the platform's numbers."""

    values: dict[str, int | None]
    raw: dict[str, int] = field(default_factory=dict)

    def __getitem__(self, name: str) -> int | None:
        return self.values[name]


def metrics_of(raw: Mapping[str, Any], **normalised: int | None) -> Metrics:
    """`normalised` names Herald's metrics the platform reports (unknown names are a bug);
    `raw` is filtered to its integer counters."""
    unknown = set(normalised) - set(METRIC_NAMES)
    if unknown:
        raise ValueError(f"not Herald metrics: {sorted(unknown)}")
    values = {name: normalised.get(name) for name in METRIC_NAMES}
    kept = {str(k): v for k, v in ((k, count(v)) for k, v in raw.items()) if v is not None}
    return Metrics(values=values, raw=kept)


def total(*parts: int | None) -> int | None:
    """The sum of counts that were reported; None when none was."""
    known = [p for p in parts if p is not None]
    return sum(known) if known else None
