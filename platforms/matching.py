"""What the adapters share to recognise their own posts in a platform's answers (find_existing,
list_recent): how far back to look, how texts compare, how timestamps read."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

# Beyond our first attempt, how far back a post whose answer we never saw may be: covers clock
# skew between Herald and the platform.
FIND_EXISTING_SLACK = timedelta(minutes=2)

_SPACE = re.compile(r"\s+")


def normalised(text: str) -> str:
    """For comparing texts: whitespace runs as one space, none at either end (platforms trim
    and fold what they were sent)."""
    return _SPACE.sub(" ", text).strip()


def parse_timestamp(value: Any) -> datetime | None:
    """An ISO 8601 timestamp (`Z`, `+00:00` or Graph's `+0000`), None if it is not one; a
    time without an offset is taken as UTC, so that it compares with aware ones."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
