"""Timestamps as the platforms write them."""

from __future__ import annotations

from datetime import UTC, datetime


def rfc3339(moment: datetime) -> str:
    """UTC with milliseconds and a Z, e.g. 2019-12-05T11:34:47.196Z (Mastodon's created_at)."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def iso8601_micro(moment: datetime) -> str:
    """UTC with microseconds and a Z, as Ruby's Time#iso8601(6) (X-RateLimit-Reset)."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"
