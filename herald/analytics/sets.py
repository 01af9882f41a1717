"""The kinds of metric sample rows (`metric_samples.metric_set`)."""

from __future__ import annotations

from enum import StrEnum


class MetricSet(StrEnum):
    POST = "post"  # one post target's counters; subject_id is the target's id
    ACCOUNT = "account"  # one account's counters (followers ...); subject_id is the account's id
