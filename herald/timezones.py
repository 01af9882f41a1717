"""IANA time zone names in request bodies."""

from __future__ import annotations

from functools import lru_cache
from zoneinfo import available_timezones

# Longest IANA name is 32 characters ("America/Argentina/ComodRivadavia"); a longer one is
# refused before any lookup (a 300-character name once reached the file system).
MAX_ZONE_NAME = 64
# Names the zone database ships that are not places: the machine's own zone, the placeholder
# zone and the alternative trees of the same zones.
NOT_ZONES = frozenset({"localtime", "Factory"})


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    return frozenset(
        name
        for name in available_timezones()
        if name not in NOT_ZONES and not name.startswith(("posix/", "right/"))
    )


def known_zone(value: str) -> str:
    """A pydantic validator: the name must be an IANA zone from the zone list."""
    if len(value) > MAX_ZONE_NAME or value not in _zones():
        shown = value if len(value) <= MAX_ZONE_NAME else value[:MAX_ZONE_NAME] + "…"
        raise ValueError(f"unknown time zone {shown!r}; use an IANA name such as Europe/Paris")
    return value
