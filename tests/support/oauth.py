"""Connecting an OAuth account through Herald's API the way a user's browser would: start,
consent on the (emulated) platform, follow the redirect back to the callback."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import httpx

from platforms.registry import ADAPTERS
from tests.support.stack import Stack, Tenant

# Every platform Herald has an OAuth adapter for.
OAUTH_PLATFORMS = sorted(
    name
    for name, spec in ADAPTERS.items()
    if spec.build(httpx.AsyncClient(), spec.production_app).uses_oauth
)


@dataclass(frozen=True)
class Consent:
    """Where the platform sent the user back: the callback's query."""

    code: str
    state: str
    authorization_url: str


async def new_platform_user(stack: Stack, platform: str) -> str:
    username = f"o{uuid.uuid4().hex[:10]}"
    created = await stack.emulator.post(
        "/_emulator/accounts", json={"platform": platform, "username": username}
    )
    created.raise_for_status()
    return username


async def consent(
    stack: Stack, tenant: Tenant, platform: str, username: str, path: str | None = None
) -> Consent:
    """POST connect (or `path`, e.g. a reconnect), then approve as `username` on the emulator."""
    started = await stack.api.post(
        path or f"/v1/accounts/connect/{platform}",
        json={"brand_id": str(tenant.brand_id)},
        headers=tenant.headers,
    )
    assert started.status_code == 200, started.text
    url = started.json()["authorization_url"]
    parts = urlsplit(url)
    # The emulator approves at once as the user named here (its one non-standard parameter).
    page = await stack.emulator.get(
        f"{parts.path}?{parts.query}&emulator_username={username}", follow_redirects=False
    )
    assert page.status_code in (302, 303), page.text
    back = parse_qs(urlsplit(page.headers["location"]).query)
    assert back["state"] == [started.json()["state"]]
    return Consent(back["code"][0], back["state"][0], url)


async def callback(stack: Stack, platform: str, given: Consent) -> httpx.Response:
    return await stack.api.get(
        f"/v1/accounts/callback/{platform}", params={"code": given.code, "state": given.state}
    )
