"""Points in time in requests: with an offset, and between 1970 and 2100, checked before any
arithmetic (9999-12-31T23:59:59-12:00 overflows when turned into UTC)."""

from __future__ import annotations

from datetime import UTC, datetime

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)


def to_utc(value: datetime) -> datetime:
    """The instant in UTC; ValueError (a 400 at the edge) for a naive or out-of-range one."""
    if value.tzinfo is None:
        raise ValueError("must include a time zone offset, e.g. 2026-01-15T14:00:00Z")
    if not EARLIEST.year <= value.year < LATEST.year or not EARLIEST <= value < LATEST:
        raise ValueError("must lie between 1970-01-01 and 2100-01-01 (UTC)")
    return value.astimezone(UTC)
