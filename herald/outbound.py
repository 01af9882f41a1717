"""Herald's outbound HTTP clients and the address policy each one enforces
(platforms.outbound holds the policy itself): platform calls, media imports, webhooks."""

from __future__ import annotations

import httpx

from herald.settings import Settings
from platforms.outbound import OutboundPolicy, outbound_client


def platform_policy(settings: Settings) -> OutboundPolicy:
    """Public addresses, the operator's platform API URLs, and HERALD_PLATFORM_ALLOW_HOSTS
    (a self-hosted Mastodon on the LAN, the emulator)."""
    configured = [
        url
        for app in settings.platform_apps.values()
        for url in (app.api_url, app.authorize_url, app.token_url)
    ]
    return OutboundPolicy.of(settings.platform_allow_hosts, configured)


def import_policy(settings: Settings) -> OutboundPolicy:
    return OutboundPolicy.of(settings.media_import_allow_hosts)


def platform_client(settings: Settings) -> httpx.AsyncClient:
    return outbound_client(platform_policy(settings), timeout_s=settings.platform_timeout_s)


def import_client(settings: Settings) -> httpx.AsyncClient:
    # The whole download's limit is fetch_to_file's; this one bounds each read.
    return outbound_client(import_policy(settings), timeout_s=settings.platform_timeout_s)


def webhook_policy(settings: Settings) -> OutboundPolicy:
    return OutboundPolicy.of(settings.webhook_allow_hosts, loopback=settings.webhook_allow_loopback)


def webhook_client(settings: Settings) -> httpx.AsyncClient:
    # Redirects are never followed (the client follows none): a 3xx is a failed attempt.
    return outbound_client(webhook_policy(settings), timeout_s=settings.webhook_timeout_s)
