"""Which adapter serves which platform; built once per worker with one shared HTTP client."""

from __future__ import annotations

import httpx

from herald.errors import HeraldError
from platforms.base import PlatformAdapter
from platforms.mastodon import MastodonAdapter


class AdapterRegistry:
    def __init__(self, adapters: list[PlatformAdapter]) -> None:
        self._adapters = {adapter.platform: adapter for adapter in adapters}

    @property
    def platforms(self) -> list[str]:
        return sorted(self._adapters)

    def get(self, platform: str) -> PlatformAdapter:
        try:
            return self._adapters[platform]
        except KeyError:
            raise HeraldError.invalid(
                "platform", f"platform {platform!r} is not supported"
            ) from None


def build_registry(http: httpx.AsyncClient) -> AdapterRegistry:
    return AdapterRegistry([MastodonAdapter(http)])
