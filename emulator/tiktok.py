"""TikTok (API v2): the Content Posting, Display and Login Kit subset Herald uses, mounted at
/tiktok (so ``POST /tiktok/v2/post/publish/video/init/``).

Routes live in ``tiktok_publish`` (creator info, init, chunk upload, status), ``tiktok_display``
(user info, video list) and ``tiktok_oauth`` (authorize, token). Credentials are user access
tokens: ``Authorization: Bearer <token>`` with the emulator account's token or one issued by
the token endpoint; the account id is the ``open_id``.

Rate limits per user access token and minute, as the references state them: 6 on each init
endpoint, 20 on creator info, 30 on status fetch, 600 on the Display API. TikTok documents no
rate-limit headers, so a 429 ``rate_limit_exceeded`` carries none (an injected fault with
``retry_after`` adds ``Retry-After``).
"""

from __future__ import annotations

import hashlib
from typing import Any

from fastapi import APIRouter

from emulator.platform import PlatformEmulator, PlatformError, RequestInfo
from emulator.ratelimit import RateLimitResult
from emulator.state import EmulatorState
from emulator.tiktok_common import PLATFORM, bearer_token, code_for_status, error_struct
from emulator.tiktok_display import router as display_router
from emulator.tiktok_oauth import router as oauth_router
from emulator.tiktok_publish import router as publish_router

_INIT_PATHS = frozenset(
    {
        "/v2/post/publish/video/init/",
        "/v2/post/publish/inbox/video/init/",
        "/v2/post/publish/content/init/",
    }
)


def _rule(state: EmulatorState, path: str) -> tuple[str, int] | None:
    settings = state.settings
    if path in _INIT_PATHS:
        return f"init:{path}", settings.tiktok_init_rate_limit
    if path == "/v2/post/publish/creator_info/query/":
        return "creator_info", settings.tiktok_creator_info_rate_limit
    if path == "/v2/post/publish/status/fetch/":
        return "status", settings.tiktok_status_rate_limit
    if path in ("/v2/user/info/", "/v2/video/list/", "/v2/video/query/"):
        return f"display:{path}", settings.tiktok_display_rate_limit
    return None


class TikTokEmulator(PlatformEmulator):
    name = PLATFORM

    def router(self) -> APIRouter:
        router = APIRouter()
        router.include_router(publish_router)
        router.include_router(display_router)
        router.include_router(oauth_router)
        return router

    def error_body(self, status: int, message: str | None = None) -> dict[str, Any]:
        return {"error": error_struct(None, code_for_status(status), message)}

    def rate_limit(self, state: EmulatorState, request: RequestInfo) -> RateLimitResult | None:
        rule = _rule(state, request.path)
        if rule is None:
            return None
        name, limit = rule
        token = bearer_token(request.headers.get("authorization", ""))
        key = hashlib.sha256(token.encode()).hexdigest() if token else f"ip:{request.client_host}"
        return state.rate_counter.hit(
            f"tiktok:{name}", key, limit, state.settings.tiktok_rate_period_s, state.now()
        )

    def rate_limited_error(self, result: RateLimitResult) -> PlatformError:
        return PlatformError(429, self.error_body(429))
