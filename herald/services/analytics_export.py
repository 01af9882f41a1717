"""CSV exports of a brand's analytics: the request row first (committed), then its workflow;
the status with a signed, expiring download URL once the file is written."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from herald.db.models import AnalyticsExport
from herald.errors import HeraldError
from herald.principal import Principal
from herald.repositories.analytics import get_export
from herald.repositories.brands import get_brand
from herald.schemas.analytics import ExportBody, ExportOut
from herald.storage.base import MediaStorage

CSV_TYPE = "text/csv; charset=utf-8"


class ExportWorkflows(Protocol):
    async def start_export(self, export_id: uuid.UUID) -> None: ...


async def start_export(
    session: AsyncSession, principal: Principal, body: ExportBody, workflows: ExportWorkflows
) -> AnalyticsExport:
    if await get_brand(session, principal.workspace_id, body.brand_id) is None:
        raise HeraldError.invalid("brand_id", "no such brand in this workspace")
    if body.start > body.end:
        raise HeraldError.invalid("from", "must not be after `to`")
    export = AnalyticsExport(
        workspace_id=principal.workspace_id,
        brand_id=body.brand_id,
        range_from=body.start,
        range_to=body.end,
        format=body.format,
        status="pending",
    )
    session.add(export)
    await session.commit()  # the workflow must find the row
    await workflows.start_export(export.id)
    return export


async def export_status(
    session: AsyncSession,
    storage: MediaStorage,
    workspace_id: uuid.UUID,
    export_id: uuid.UUID,
    now: datetime,
    ttl_s: int,
) -> ExportOut:
    export = await get_export(session, workspace_id, export_id)
    if export is None:
        raise HeraldError.not_found("export")
    url = None
    if export.status == "done" and export.storage_key:
        url = await storage.download_url(
            export.storage_key, now + timedelta(seconds=ttl_s), CSV_TYPE
        )
    return ExportOut(
        export_id=str(export.id),
        status=export.status,
        rows=export.rows,
        download_url=url,
        error=export.error,
    )
