"""Media activities: import a file from a URL into the library, then probe it like an upload;
check stored media against the platforms again."""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path

import httpx
from temporalio import activity

from activities.heartbeat import heartbeating
from herald.db.engine import SessionFactory
from herald.db.models import Media
from herald.db.types import utcnow
from herald.media.fetch import FetchError, fetch_to_file
from herald.outbound import import_policy
from herald.payloads import MediaImportInput, MediaValidationInput
from herald.services.media import (
    Inspection,
    complete_upload,
    inspect_upload,
    mark_failed,
    size_limit,
)
from herald.services.media_validation import run_validation
from herald.settings import Settings
from herald.status import MediaStatus
from herald.storage.base import MediaStorage


class MediaActivities:
    def __init__(
        self,
        sessions: SessionFactory,
        storage: MediaStorage,
        settings: Settings,
        http: httpx.AsyncClient,
    ) -> None:
        self._sessions = sessions
        self._storage = storage
        self._settings = settings
        self._http = http

    @activity.defn(name="import_media")
    async def import_media(self, input: MediaImportInput) -> MediaStatus:
        # Heartbeats: a worker killed mid-download is noticed in seconds and the import is
        # tried again (the row stays pending until one attempt settles it).
        async with heartbeating():
            return await self._import(input)

    @activity.defn(name="validate_media")
    async def validate_media(self, input: MediaValidationInput) -> None:
        async with heartbeating():
            await run_validation(
                self._sessions,
                self._storage,
                self._settings,
                uuid.UUID(input.validation_id),
                utcnow(),
            )

    async def _import(self, input: MediaImportInput) -> MediaStatus:
        async with self._sessions() as session:
            media = await session.get(Media, uuid.UUID(input.media_id))
            if media is None or media.status != MediaStatus.PENDING:
                return media.status if media else MediaStatus.FAILED
            key = media.storage_key
        settings = self._settings
        with tempfile.TemporaryDirectory(prefix="herald-import-") as folder:
            try:
                fetched = await fetch_to_file(
                    self._http,
                    input.url,
                    Path(folder) / "download",
                    max_bytes=size_limit(settings, input.expected_mime_type or "video/"),
                    timeout_s=settings.media_import_timeout_s,
                    max_redirects=settings.media_import_max_redirects,
                    policy=import_policy(settings),
                )
            except FetchError as err:
                return await self._fail(input.media_id, str(err))
            await self._storage.put_file(
                key, fetched.path, fetched.content_type or "application/octet-stream"
            )
        inspection = await inspect_upload(self._storage, settings, key, fetched.size)
        unexpected = _unexpected(input.expected_mime_type, inspection)
        if unexpected is not None:
            return await self._fail(input.media_id, unexpected)
        async with self._sessions() as session, session.begin():
            media = await session.get(Media, uuid.UUID(input.media_id))
            assert media is not None
            media.declared_size = fetched.size
            await complete_upload(session, self._storage, settings, media, utcnow(), inspection)
            return media.status

    async def _fail(self, media_id: str, reason: str) -> MediaStatus:
        async with self._sessions() as session, session.begin():
            media = await session.get(Media, uuid.UUID(media_id))
            assert media is not None
            await mark_failed(session, self._storage, media, reason)
            return media.status


def _unexpected(expected: str | None, inspection: Inspection) -> str | None:
    """Why the bytes are not what the source said it serves (an HTML error page where an image
    was promised), or None. Only the kind is compared: `image/*` promises any image, and a
    source may name a JPEG `image/png`."""
    if not expected or inspection.found is None:
        return None  # nothing promised, or unusable anyway (complete_upload says why)
    wanted, found = expected.split("/", 1)[0], inspection.found.mime_type
    if found.split("/", 1)[0] == wanted:
        return None
    return f"the source said it serves {expected}, but the file is {found}"
