"""The platform adapters as Herald configures them: each platform's app from settings, and the
API's answer for a platform no adapter serves. `platforms/` knows nothing of settings or of
Herald's errors; this is where the two meet."""

from __future__ import annotations

import httpx

from herald.errors import HeraldError
from herald.settings import Settings
from platforms.base import PlatformAdapter, PlatformApp
from platforms.registry import ADAPTERS, AdapterRegistry, AdapterSpec, UnknownPlatform


def resolve_app(settings: Settings, platform: str, spec: AdapterSpec) -> PlatformApp:
    """Explicit `platform_apps` values win field by field over production (`herald dev` and the
    tests fill them with the emulator's, herald/dev.py `with_emulator_apps`)."""
    base = spec.production_app
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
    apps = {platform: resolve_app(settings, platform, spec) for platform, spec in ADAPTERS.items()}
    return AdapterRegistry.build(http, apps)


def adapter_for(adapters: AdapterRegistry, platform: str) -> PlatformAdapter:
    """`adapters.get`, with an unknown platform as the 400 a request naming it gets."""
    try:
        return adapters.get(platform)
    except UnknownPlatform as err:
        raise HeraldError.invalid("platform", str(err)) from None
