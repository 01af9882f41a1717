"""`herald api` without what issue #12 put on every request, for bench/teams_cost.py to compare
the real one against: `python -m bench.bare_api` serves the same app on the same settings, but

- looks each API key up once and remembers it (bench/remembered_callers.py: no lookup per
  request after the first);
- counts no rate limit (`rate_limits_enabled` off: no middleware);
- writes no audit row and checks no plan limit.

It is a measuring device, never a way to run Herald: a revoked key keeps working here.
"""

from __future__ import annotations

from typing import Any

import uvicorn

import herald.services.audit as audit
from api.app import create_app
from api.auth import Authenticator
from api.http_protocol import PROTOCOL
from bench.remembered_callers import remember_callers
from herald.logs import configure_logging
from herald.posts.commands import PostCommands
from herald.settings import get_settings


def _no_audit(*_: Any, **__: Any) -> None:
    return None


async def _no_plan_limit(*_: Any, **__: Any) -> None:
    return None


def main() -> None:
    settings = get_settings().model_copy(update={"rate_limits_enabled": False})
    configure_logging(settings.log_level, settings.log_format)  # as `herald api` does
    # Module attributes: every caller reaches them as `audit.record(...)`.
    audit.record = _no_audit  # type: ignore[assignment]
    audit.record_as = _no_audit  # type: ignore[assignment]
    PostCommands._refuse_beyond_plan = _no_plan_limit  # type: ignore[method-assign]
    built = Authenticator.__init__

    def remembering(self: Authenticator, *args: Any, **kwargs: Any) -> None:
        built(self, *args, **kwargs)
        remember_callers(self)

    Authenticator.__init__ = remembering  # type: ignore[method-assign]
    app = create_app(settings)
    uvicorn.run(
        app,
        host=settings.api_host,
        port=settings.api_port,
        log_level=settings.log_level.lower(),
        proxy_headers=True,
        http=PROTOCOL,
    )


if __name__ == "__main__":
    main()
