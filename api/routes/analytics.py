"""Analytics endpoints: a brand's overview, an account's series, a post's targets."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query

from api.deps import ResourcesDep, SessionDep, require
from herald.db.types import utcnow
from herald.errors import HeraldError
from herald.instants import to_utc
from herald.principal import Permission, Principal
from herald.schemas.analytics import (
    AccountAnalytics,
    ExportBody,
    ExportOut,
    ExportStarted,
    Overview,
    PostAnalytics,
)
from herald.services.analytics import (
    account_analytics,
    brand_overview,
    post_analytics,
    resolve_range,
)
from herald.services.analytics_export import export_status, start_export

router = APIRouter(prefix="/v1/analytics", tags=["analytics"])

Viewer = Annotated[Principal, Depends(require(Permission.ANALYTICS_VIEW))]
Exporter = Annotated[Principal, Depends(require(Permission.ANALYTICS_EXPORT))]
From = Annotated[
    datetime | None, Query(alias="from", description="Start (default: 30 days before `to`)")
]
To = Annotated[datetime | None, Query(description="End (default: now)")]


def _instant(name: str, value: datetime | None) -> datetime | None:
    try:
        return to_utc(value) if value is not None else None
    except ValueError as err:
        raise HeraldError.invalid(name, str(err)) from err


def _range(start: datetime | None, end: datetime | None) -> tuple[datetime, datetime]:
    return resolve_range(_instant("from", start), _instant("to", end), utcnow())


@router.get(
    "/brands/{brand_id}/overview",
    response_model=Overview,
    response_model_by_alias=True,
    summary="A brand's followers, follower growth, impressions, engagement and posts",
    description="Over the brand's posts published in [from, to], each at its last sample at "
    "or before `to`; followers at `to`. The README (Analytics) defines each number.",
)
async def overview(
    brand_id: uuid.UUID, session: SessionDep, principal: Viewer, from_: From = None, to: To = None
) -> Overview:
    start, end = _range(from_, to)
    return await brand_overview(session, principal.workspace_id, brand_id, start, end)


@router.get(
    "/accounts/{account_id}",
    response_model=AccountAnalytics,
    summary="An account's followers and its posts' totals, per day or week",
)
async def account(
    account_id: uuid.UUID,
    session: SessionDep,
    principal: Viewer,
    from_: From = None,
    to: To = None,
    interval: Literal["day", "week"] = "day",
) -> AccountAnalytics:
    start, end = _range(from_, to)
    return await account_analytics(
        session, principal.workspace_id, account_id, start, end, interval
    )


@router.get(
    "/posts/{post_id}",
    response_model=PostAnalytics,
    summary="A post's metrics per target: the latest sample and the series",
)
async def post(
    post_id: uuid.UUID, session: SessionDep, principal: Viewer, from_: From = None, to: To = None
) -> PostAnalytics:
    start = _instant("from", from_)
    end = _instant("to", to) or utcnow()
    return await post_analytics(session, principal.workspace_id, post_id, start, end)


@router.post(
    "/export",
    status_code=202,
    response_model=ExportStarted,
    summary="Export a brand's analytics as CSV",
    description="One row per post target and UTC day (and per account and day), each its "
    "last sample of the day; the README (Analytics) lists the columns. Poll "
    "GET /v1/analytics/exports/{export_id} for the download URL.",
)
async def export(
    body: ExportBody, session: SessionDep, resources: ResourcesDep, principal: Exporter
) -> ExportStarted:
    started = await start_export(session, principal, body, resources.temporal)
    return ExportStarted(export_id=str(started.id))


@router.get(
    "/exports/{export_id}",
    response_model=ExportOut,
    summary="An export's status and, once done, a signed download URL that expires",
)
async def export_(
    export_id: uuid.UUID, session: SessionDep, resources: ResourcesDep, principal: Exporter
) -> ExportOut:
    return await export_status(
        session,
        resources.storage,
        principal.workspace_id,
        export_id,
        utcnow(),
        resources.settings.analytics_export_url_ttl_s,
    )
