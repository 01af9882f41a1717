"""The FastAPI application: lifespan-built resources, error handlers, routers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api.errors import UnexpectedErrorMiddleware, install_error_handlers
from api.idempotency import IdempotencyMiddleware, document_idempotency_header
from api.limits import BodyLimitMiddleware
from api.metrics import install_metrics
from api.middleware import RequestIdMiddleware
from api.openapi import document_errors
from api.rate_limits import RateLimitMiddleware
from api.resources import Resources
from api.routes import (
    account_groups,
    accounts,
    accounts_oauth,
    analytics,
    api_keys,
    approvals,
    audit,
    auth,
    brands,
    health,
    media,
    media_files,
    members,
    mirrors,
    notifications,
    posts,
    recurrence,
    roles,
    webhooks,
    workspaces,
)
from herald.gc_tuning import freeze_startup_objects
from herald.logs import redact_access_log
from herald.settings import Settings, get_settings
from herald.storage.local import FILES_PATH
from herald.tracing import instrument_app


def create_app(settings: Settings | None = None, resources: Resources | None = None) -> FastAPI:
    """`resources` lets tests hand in what they built; otherwise the lifespan builds them."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        redact_access_log()
        if resources is not None:
            app.state.resources = resources
            yield
            return
        built = Resources.build(settings or get_settings())
        app.state.resources = built
        freeze_startup_objects()
        try:
            yield
        finally:
            await built.close()

    app = FastAPI(
        title="Herald",
        version="0.1.0",
        summary="API-first social publishing on durable Temporal workflows",
        lifespan=lifespan,
    )
    if resources is not None:
        app.state.resources = resources
    configured = resources.settings if resources else settings or get_settings()
    # Added first, runs innermost: unexpected errors → 500 → idempotency → rate limits (where
    # the caller is resolved) → body limits → ids.
    app.add_middleware(UnexpectedErrorMiddleware)
    app.add_middleware(IdempotencyMiddleware)
    if configured.rate_limits_enabled:
        app.add_middleware(RateLimitMiddleware)
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=configured.api_max_body_bytes,
        exempt_prefixes=(FILES_PATH,),
        path_limits={media.FORM_UPLOAD_PATH: media.form_upload_limit(configured)},
    )
    app.add_middleware(RequestIdMiddleware)
    install_metrics(app)  # outermost: every request counts, refused ones too
    instrument_app(app)  # traces, when OTEL_EXPORTER_OTLP_ENDPOINT is set
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(auth.router)
    app.include_router(workspaces.router)
    app.include_router(members.router)
    app.include_router(roles.router)
    app.include_router(brands.router)
    app.include_router(api_keys.router)
    app.include_router(posts.router)
    app.include_router(accounts_oauth.router)
    app.include_router(accounts.router)
    app.include_router(account_groups.router)
    app.include_router(recurrence.router)
    app.include_router(mirrors.router)
    app.include_router(approvals.router)
    app.include_router(media.router)
    app.include_router(media_files.router)
    app.include_router(webhooks.router)
    app.include_router(notifications.router)
    app.include_router(audit.router)
    app.include_router(analytics.router)
    document_idempotency_header(app)
    document_errors(app)
    return app
