"""What a Mastodon-compatible server says it accepts, read from its instance document and kept
for a while per instance.

Servers publish their limits in different places: Mastodon 4 in `/api/v2/instance`
(`configuration.statuses`, `configuration.media_attachments`); Mastodon 3.x and GoToSocial in
`/api/v1/instance` under the same `configuration` keys; Pleroma and Akkoma in `/api/v1/instance`
as `max_toot_chars` and `upload_limit`. Whatever a server leaves out keeps Mastodon's default.
A server that cannot be asked (down, not an instance) keeps the defaults for a short while, so
a post is not held up asking again each time."""

from __future__ import annotations

import logging
import time
from typing import Any

import httpx

from platforms.base import DOCUMENTED_LIMITS, Rejected, ServerLimits

log = logging.getLogger(__name__)

# How long a server's answer is trusted: admins change limits rarely.
LIMITS_TTL_S = 3600.0
# How long the defaults stand in for a server that did not answer.
UNANSWERED_TTL_S = 60.0
# The document is asked for while a post is created: never keep the caller long.
FETCH_TIMEOUT_S = 5.0


def _positive(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def limits_from_instance(document: dict[str, Any]) -> ServerLimits:
    """The limits one instance document states (v2, v1 or Pleroma's), None where it is silent."""
    configuration = document.get("configuration")
    configuration = configuration if isinstance(configuration, dict) else {}
    statuses = configuration.get("statuses")
    statuses = statuses if isinstance(statuses, dict) else {}
    media = configuration.get("media_attachments")
    media = media if isinstance(media, dict) else {}
    types = media.get("supported_mime_types")
    upload_limit = _positive(document.get("upload_limit"))
    return ServerLimits(
        max_characters=_positive(statuses.get("max_characters"))
        or _positive(document.get("max_toot_chars")),
        max_media=_positive(statuses.get("max_media_attachments")),
        characters_per_url=_positive(statuses.get("characters_reserved_per_url")),
        media_types=(
            frozenset(t for t in types if isinstance(t, str)) if isinstance(types, list) else None
        ),
        image_size_limit=_positive(media.get("image_size_limit")) or upload_limit,
        video_size_limit=_positive(media.get("video_size_limit")) or upload_limit,
    )


class InstanceLimits:
    """Each instance's limits, asked for once per `ttl_s` (per process)."""

    def __init__(self, http: httpx.AsyncClient, ttl_s: float = LIMITS_TTL_S) -> None:
        self._http = http
        self._ttl_s = ttl_s
        self._known: dict[str, tuple[float, ServerLimits]] = {}

    async def of(self, instance_url: str) -> ServerLimits:
        base = instance_url.rstrip("/")
        known = self._known.get(base)
        if known is not None and known[0] > time.monotonic():
            return known[1]
        document = await self._document(base)
        if document is None:
            limits, ttl = DOCUMENTED_LIMITS, UNANSWERED_TTL_S
        else:
            limits, ttl = limits_from_instance(document), self._ttl_s
        self._known[base] = (time.monotonic() + ttl, limits)
        return limits

    async def _document(self, base: str) -> dict[str, Any] | None:
        for path in ("/api/v2/instance", "/api/v1/instance"):
            try:
                response = await self._http.get(base + path, timeout=FETCH_TIMEOUT_S)
                document = response.json() if response.is_success else None
            except (httpx.HTTPError, ValueError, Rejected) as exc:
                log.info("instance %s did not answer %s: %s", base, path, exc)
                continue
            if isinstance(document, dict):
                return document
        log.warning("instance %s states no limits; Mastodon's defaults apply", base)
        return None
