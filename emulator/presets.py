"""Where the emulator serves each OAuth platform's API, as the `PlatformApp` Herald's adapters
take, with the emulator's one OAuth client: what `herald dev`, the tests and the benchmark point
Herald at. Herald's product code never reads this; they pass it in through `platform_apps`.

Mastodon and Bluesky are not here: their accounts carry the instance or service URL."""

from __future__ import annotations

from emulator.graph_common import GRAPH_VERSION as META_GRAPH_VERSION
from emulator.oauth import CLIENT_ID, CLIENT_SECRET
from emulator.threads_common import GRAPH_VERSION as THREADS_GRAPH_VERSION
from platforms.base import PlatformApp

# Below /<platform>: the API base, the authorization page, the token endpoint.
_PATHS: dict[str, tuple[str, str, str]] = {
    "x": ("", "/i/oauth2/authorize", "/2/oauth2/token"),
    "linkedin": ("", "/oauth/v2/authorization", "/oauth/v2/accessToken"),
    "threads": (f"/{THREADS_GRAPH_VERSION}", "/oauth/authorize", "/oauth/access_token"),
    "tiktok": ("", "/v2/auth/authorize/", "/v2/oauth/token/"),
    "facebook": (
        f"/{META_GRAPH_VERSION}",
        f"/{META_GRAPH_VERSION}/dialog/oauth",
        f"/{META_GRAPH_VERSION}/oauth/access_token",
    ),
    "instagram": (f"/{META_GRAPH_VERSION}", "/oauth/authorize", "/oauth/access_token"),
}
EMULATED_PLATFORMS = tuple(_PATHS)


def emulated_app(platform: str, emulator_url: str) -> PlatformApp:
    """`platform`'s API and OAuth endpoints on the emulator at `emulator_url`."""
    api, authorize, token = _PATHS[platform]
    base = f"{emulator_url.rstrip('/')}/{platform}"
    return PlatformApp(
        api_url=base + api,
        authorize_url=base + authorize,
        token_url=base + token,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
    )


def emulated_apps(emulator_url: str) -> dict[str, PlatformApp]:
    return {platform: emulated_app(platform, emulator_url) for platform in EMULATED_PLATFORMS}
