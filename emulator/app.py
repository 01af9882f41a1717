"""The emulator application: platform routers, the control API and the shared middleware.

Run it on its own with ``uvicorn emulator.app:create_app --factory --port 8123``; a Mastodon
"instance URL" is then ``http://127.0.0.1:8123/mastodon``, the Bluesky PDS (service URL)
``http://127.0.0.1:8123/bluesky`` and the X API base ``http://127.0.0.1:8123/x``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from fastapi import FastAPI, Request

from emulator import control
from emulator.bluesky import BlueskyEmulator
from emulator.facebook import FacebookEmulator
from emulator.faults import FaultMiddleware
from emulator.instagram import InstagramEmulator
from emulator.linkedin import LinkedInEmulator
from emulator.mastodon import MastodonEmulator
from emulator.platform import (
    KNOWN_PLATFORMS,
    PlatformEmulator,
    PlatformError,
    platform_error_handler,
)
from emulator.ratelimit import RateLimitMiddleware
from emulator.requestlog import RequestLogMiddleware
from emulator.sandbox import sandbox_accounts
from emulator.settings import EmulatorSettings
from emulator.state import EmulatorState
from emulator.threads import ThreadsEmulator
from emulator.tiktok import TikTokEmulator
from emulator.x import XEmulator


def build_platforms() -> dict[str, PlatformEmulator]:
    """Implemented platforms; adding one is adding its module here."""
    implemented: list[PlatformEmulator] = [
        MastodonEmulator(),
        BlueskyEmulator(),
        XEmulator(),
        ThreadsEmulator(),
        TikTokEmulator(),
        LinkedInEmulator(),
        FacebookEmulator(),
        InstagramEmulator(),
    ]
    return {p.name: p for p in implemented}


def create_app(settings: EmulatorSettings | None = None, **overrides: Any) -> FastAPI:
    """A fresh emulator with its own in-memory state (tests may build several).

    ``overrides`` replace single settings, e.g. ``create_app(processing_s=0.1)``."""
    if settings is None:
        settings = EmulatorSettings.from_env(**overrides)
    elif overrides:
        settings = replace(settings, **overrides)
    platforms = build_platforms()
    state = EmulatorState(settings)

    app = FastAPI(title="Herald platform emulator", version="1")
    app.state.emulator = state
    app.state.platforms = platforms
    app.add_exception_handler(PlatformError, platform_error_handler)
    app.include_router(control.router, prefix="/_emulator", tags=["control"])
    for platform in platforms.values():
        app.include_router(platform.router(), prefix=f"/{platform.name}", tags=[platform.name])

    # Starlette runs the last added middleware outermost: log → faults → rate limit → routes.
    # Faults sit outside rate limiting so a "before" fault never reaches the platform at all
    # (and is not counted), while an "after" fault replaces the platform's complete answer.
    app.add_middleware(RateLimitMiddleware, state=state, platforms=platforms)
    app.add_middleware(FaultMiddleware, state=state, platforms=platforms)
    app.add_middleware(RequestLogMiddleware, log=state.requests, now=state.now, platforms=platforms)

    @app.get("/")
    async def describe(request: Request) -> dict[str, Any]:
        base = str(request.base_url).rstrip("/")
        return {
            "name": "herald-emulator",
            "description": "Local stand-ins for social platform APIs, with fault injection.",
            "platforms": {name: f"{base}/{name}" for name in platforms},
            "planned_platforms": [p for p in KNOWN_PLATFORMS if p not in platforms],
            "control": f"{base}/_emulator",
            "sandbox_accounts": [
                {"platform": s.platform, "username": s.username, "token": s.token}
                for s in sandbox_accounts()
            ],
        }

    return app
