"""Which adapter serves which platform, and the production URLs of each; built once per process
with one shared HTTP client. Where each platform's API is (production, the emulator, explicit
settings) is decided by the caller, which passes every adapter its `PlatformApp`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import httpx

from platforms.base import PlatformAdapter, PlatformApp
from platforms.bluesky import BlueskyAdapter
from platforms.facebook import PRODUCTION_APP as FACEBOOK_APP
from platforms.facebook import FacebookAdapter
from platforms.instagram import PRODUCTION_APP as INSTAGRAM_APP
from platforms.instagram import InstagramAdapter
from platforms.linkedin import PRODUCTION_APP as LINKEDIN_APP
from platforms.linkedin import LinkedInAdapter
from platforms.mastodon import MastodonAdapter
from platforms.threads import PRODUCTION_APP as THREADS_APP
from platforms.threads import ThreadsAdapter
from platforms.tiktok import PRODUCTION_APP as TIKTOK_APP
from platforms.tiktok import TikTokAdapter
from platforms.x import PRODUCTION_APP as X_APP
from platforms.x import XAdapter


@dataclass(frozen=True)
class AdapterSpec:
    """How to build one platform's adapter."""

    build: Callable[[httpx.AsyncClient, PlatformApp], PlatformAdapter]
    production_app: PlatformApp


# Adding a platform is adding its line here.
ADAPTERS: dict[str, AdapterSpec] = {
    "mastodon": AdapterSpec(lambda http, _app: MastodonAdapter(http), PlatformApp("")),
    "bluesky": AdapterSpec(lambda http, _app: BlueskyAdapter(http), PlatformApp("")),
    "threads": AdapterSpec(ThreadsAdapter, THREADS_APP),
    "tiktok": AdapterSpec(TikTokAdapter, TIKTOK_APP),
    "linkedin": AdapterSpec(LinkedInAdapter, LINKEDIN_APP),
    "x": AdapterSpec(XAdapter, X_APP),
    "facebook": AdapterSpec(FacebookAdapter, FACEBOOK_APP),
    "instagram": AdapterSpec(InstagramAdapter, INSTAGRAM_APP),
}


class UnknownPlatform(KeyError):
    """No adapter serves this platform; callers that answer HTTP turn it into their 400."""

    def __init__(self, platform: str) -> None:
        super().__init__(platform)
        self.platform = platform

    def __str__(self) -> str:
        return f"platform {self.platform!r} is not supported"


class AdapterRegistry:
    def __init__(self, adapters: list[PlatformAdapter]) -> None:
        self._adapters = {adapter.platform: adapter for adapter in adapters}

    @classmethod
    def build(cls, http: httpx.AsyncClient, apps: Mapping[str, PlatformApp]) -> AdapterRegistry:
        """Every adapter of `ADAPTERS`, each with its app from `apps` (production if absent)."""
        return cls(
            [
                spec.build(http, apps.get(platform, spec.production_app))
                for platform, spec in ADAPTERS.items()
            ]
        )

    @property
    def platforms(self) -> list[str]:
        return sorted(self._adapters)

    def get(self, platform: str) -> PlatformAdapter:
        try:
            return self._adapters[platform]
        except KeyError:
            raise UnknownPlatform(platform) from None
