"""Which adapter serves which platform; built once per process with one shared HTTP client.

Each adapter module names its production URLs (`PRODUCTION_APP`) and where the emulator serves
the same API (`emulated_app`); settings override either, field by field."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import httpx

from herald.errors import HeraldError
from herald.settings import Settings
from platforms.base import PlatformAdapter, PlatformApp
from platforms.bluesky import BlueskyAdapter
from platforms.facebook import PRODUCTION_APP as FACEBOOK_APP
from platforms.facebook import FacebookAdapter
from platforms.facebook import emulated_app as facebook_emulated_app
from platforms.instagram import PRODUCTION_APP as INSTAGRAM_APP
from platforms.instagram import InstagramAdapter
from platforms.instagram import emulated_app as instagram_emulated_app
from platforms.linkedin import PRODUCTION_APP as LINKEDIN_APP
from platforms.linkedin import LinkedInAdapter
from platforms.linkedin import emulated_app as linkedin_emulated_app
from platforms.mastodon import MastodonAdapter
from platforms.threads import PRODUCTION_APP as THREADS_APP
from platforms.threads import ThreadsAdapter
from platforms.threads import emulated_app as threads_emulated_app
from platforms.tiktok import PRODUCTION_APP as TIKTOK_APP
from platforms.tiktok import TikTokAdapter
from platforms.tiktok import emulated_app as tiktok_emulated_app
from platforms.x import PRODUCTION_APP as X_APP
from platforms.x import XAdapter
from platforms.x import emulated_app as x_emulated_app


@dataclass(frozen=True)
class AdapterSpec:
    """How to build one platform's adapter."""

    build: Callable[[httpx.AsyncClient, PlatformApp], PlatformAdapter]
    production_app: PlatformApp
    emulated_app: Callable[[str], PlatformApp]


def _no_app(_emulator_url: str) -> PlatformApp:
    return PlatformApp(api_url="")


# Adding a platform is adding its line here.
ADAPTERS: dict[str, AdapterSpec] = {
    "mastodon": AdapterSpec(lambda http, _app: MastodonAdapter(http), PlatformApp(""), _no_app),
    "bluesky": AdapterSpec(lambda http, _app: BlueskyAdapter(http), PlatformApp(""), _no_app),
    "threads": AdapterSpec(ThreadsAdapter, THREADS_APP, threads_emulated_app),
    "tiktok": AdapterSpec(TikTokAdapter, TIKTOK_APP, tiktok_emulated_app),
    "linkedin": AdapterSpec(LinkedInAdapter, LINKEDIN_APP, linkedin_emulated_app),
    "x": AdapterSpec(XAdapter, X_APP, x_emulated_app),
    "facebook": AdapterSpec(FacebookAdapter, FACEBOOK_APP, facebook_emulated_app),
    "instagram": AdapterSpec(InstagramAdapter, INSTAGRAM_APP, instagram_emulated_app),
}


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


def resolve_app(settings: Settings, platform: str, spec: AdapterSpec) -> PlatformApp:
    """Explicit settings win field by field over the emulator (when on) or production."""
    base = (
        spec.emulated_app(settings.emulator_url)
        if settings.platforms_use_emulator
        else spec.production_app
    )
    override = settings.platform_apps.get(platform)
    if override is None:
        return base
    secret = override.client_secret.get_secret_value() if override.client_secret else None
    return PlatformApp(
        api_url=(override.api_url or base.api_url).rstrip("/"),
        authorize_url=override.authorize_url or base.authorize_url,
        token_url=override.token_url or base.token_url,
        client_id=override.client_id or base.client_id,
        client_secret=secret or base.client_secret,
    )


def build_registry(http: httpx.AsyncClient, settings: Settings) -> AdapterRegistry:
    return AdapterRegistry(
        [
            spec.build(http, resolve_app(settings, platform, spec))
            for platform, spec in ADAPTERS.items()
        ]
    )
