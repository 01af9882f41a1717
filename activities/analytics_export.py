"""The export activity: stream a brand's samples into a CSV file, then into media storage."""

from __future__ import annotations

import asyncio
import tempfile
import uuid
from datetime import datetime
from pathlib import Path

from temporalio import activity

from herald.analytics.export_csv import COLUMNS, daily_rows, encode
from herald.db.engine import SessionFactory
from herald.db.models import AnalyticsExport
from herald.db.types import utcnow
from herald.payloads import AnalyticsExportInput
from herald.repositories.analytics import stream_export_samples
from herald.storage.base import MediaStorage

CONTENT_TYPE = "text/csv; charset=utf-8"
# Rows encoded and written together: a bounded buffer, whatever the export's size.
ROWS_PER_WRITE = 1000


def export_key(export: AnalyticsExport) -> str:
    return f"exports/{export.workspace_id}/{export.id}.csv"


class AnalyticsExportActivities:
    def __init__(self, sessions: SessionFactory, storage: MediaStorage) -> None:
        self._sessions = sessions
        self._storage = storage

    @activity.defn(name="write_analytics_export")
    async def write_analytics_export(self, input: AnalyticsExportInput) -> int:
        export_id = uuid.UUID(input.export_id)
        async with self._sessions() as session, session.begin():
            export = await session.get(AnalyticsExport, export_id)
            if export is None:
                return 0
            if export.status == "done":
                return export.rows or 0
            export.status = "running"
            key, brand_id = export_key(export), export.brand_id
            start, end = export.range_from, export.range_to
        with tempfile.TemporaryDirectory(prefix="herald-export-") as folder:
            path = Path(folder) / "export.csv"
            rows = await self._write(path, brand_id, start, end)
            await self._storage.put_file(key, path, CONTENT_TYPE)
        async with self._sessions() as session, session.begin():
            export = await session.get(AnalyticsExport, export_id)
            if export is not None:
                export.status, export.rows, export.storage_key = "done", rows, key
                export.finished_at = utcnow()
        return rows

    async def _write(self, path: Path, brand_id: uuid.UUID, start: datetime, end: datetime) -> int:
        count = 0
        with path.open("w", encoding="utf-8", newline="") as handle:
            pending: list[list[str]] = [list(COLUMNS)]
            async with self._sessions() as session:
                async for row in daily_rows(stream_export_samples(session, brand_id, start, end)):
                    pending.append(row)
                    count += 1
                    if len(pending) >= ROWS_PER_WRITE:
                        await asyncio.to_thread(handle.write, encode(pending))
                        pending = []
                        activity.heartbeat(count)
            await asyncio.to_thread(handle.write, encode(pending))
        return count

    @activity.defn(name="fail_analytics_export")
    async def fail_analytics_export(self, input: AnalyticsExportInput) -> None:
        async with self._sessions() as session, session.begin():
            export = await session.get(AnalyticsExport, uuid.UUID(input.export_id))
            if export is not None and export.status != "done":
                export.status, export.finished_at = "failed", utcnow()
                export.error = "the export could not be written; start another"
