"""The media library: initiate an upload, complete it (probe the real bytes), delete.

Nothing half-written stays behind: a failed completion deletes the stored bytes and keeps only
the row, marked failed with the reason.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from herald.db.engine import SessionFactory
from herald.db.models import Media, Post
from herald.errors import ErrorCode, HeraldError
from herald.media.fetch import FetchError, check_url
from herald.media.probe import Probe, ProbeError, probe, sha256_of
from herald.media.suitability import suitability
from herald.outbound import import_policy
from herald.principal import Principal
from herald.repositories.brands import get_brand
from herald.repositories.media import get_media, get_media_by_storage_key
from herald.schemas.media import (
    BulkPresignItem,
    ImportRequest,
    MediaOut,
    UploadOut,
    UploadRequest,
)
from herald.services import audit
from herald.services.events import record_event
from herald.settings import Settings
from herald.status import MediaStatus, PostStatus
from herald.storage.base import MediaStorage

log = logging.getLogger(__name__)

# Posts that will still read their media: deleting it would break them.
POSTS_USING_MEDIA = (
    PostStatus.SCHEDULED,
    PostStatus.QUEUED,
    PostStatus.PROCESSING,
    PostStatus.PENDING_APPROVAL,
    PostStatus.DRAFT,
)


def size_limit(settings: Settings, mime_type: str) -> int:
    return (
        settings.media_max_video_bytes
        if mime_type.startswith("video/")
        else settings.media_max_image_bytes
    )


def _check_upload(settings: Settings, body: UploadRequest, type_path: str = "mime_type") -> None:
    """What any upload must declare: an image or a video, within its kind's size limit (the
    bytes are sniffed later; the real type's limit holds then too). `type_path`: where the
    request declared the type."""
    if not body.mime_type.startswith(("image/", "video/")):
        raise HeraldError.invalid(type_path, "only images and videos can be uploaded")
    limit = size_limit(settings, body.mime_type)
    if body.size > limit:
        raise HeraldError(
            ErrorCode.PAYLOAD_TOO_LARGE,
            f"{body.size} bytes is over the {limit}-byte limit for {body.mime_type.split('/')[0]}s",
        )


def _new_upload(
    principal: Principal, body: UploadRequest, now: datetime, expires_at: datetime
) -> Media:
    media_id = uuid.uuid4()
    return Media(
        id=media_id,
        workspace_id=principal.workspace_id,
        brand_id=body.brand_id,
        filename=body.filename,
        declared_mime_type=body.mime_type,
        declared_size=body.size,
        status=MediaStatus.PENDING,
        suitability={},
        storage_key=f"{principal.workspace_id}/{media_id}",
        upload_expires_at=expires_at,
        created_at=now,
        updated_at=now,
    )


async def initiate_upload(
    session: AsyncSession,
    storage: MediaStorage,
    settings: Settings,
    principal: Principal,
    body: UploadRequest,
    now: datetime,
) -> UploadOut:
    _check_upload(settings, body)
    if await get_brand(session, principal.workspace_id, body.brand_id) is None:
        raise HeraldError.invalid("brand_id", "no such brand in this workspace")
    expires_at = now + timedelta(seconds=settings.media_url_ttl_s)
    media = _new_upload(principal, body, now, expires_at)
    session.add(media)
    audit.record(
        session,
        principal,
        "media.upload_started",
        "media",
        media.id,
        {"filename": body.filename, "mime_type": body.mime_type, "size": body.size},
        now,
    )
    target = await storage.upload_target(media.storage_key, body.mime_type, body.size, expires_at)
    return UploadOut(
        media_id=media.id,
        upload_url=target.url,
        method=target.method,
        headers=target.headers,
        expires_at=expires_at,
    )


async def initiate_uploads(
    session: AsyncSession,
    storage: MediaStorage,
    settings: Settings,
    principal: Principal,
    files: list[dict[str, Any]],
    now: datetime,
    *,
    videos_only: bool = False,
) -> list[BulkPresignItem]:
    """Several uploads at once (bulk-presign, bulk-video-upload-urls): each file is started as
    `initiate_upload` starts one, or refused on its own (a savepoint each)."""
    results = []
    for index, raw in enumerate(files):
        try:
            item = UploadRequest.model_validate(raw)
            if videos_only and not item.mime_type.startswith("video/"):
                raise HeraldError.invalid("mime_type", "only videos (video/*) are taken here")
            async with session.begin_nested():
                upload = await initiate_upload(session, storage, settings, principal, item, now)
        except ValidationError as err:
            first = err.errors()[0]
            path = ".".join(str(p) for p in first["loc"]) or "body"
            error = {"code": "VALIDATION_ERROR", "message": first["msg"], "path": path}
            results.append(BulkPresignItem(index=index, status=400, error=error))
            continue
        except HeraldError as err:
            error = {"code": err.code.value, "message": err.message}
            if err.details:
                error["path"] = err.details[0].path
            results.append(BulkPresignItem(index=index, status=err.http_status, error=error))
            continue
        results.append(BulkPresignItem(index=index, status=201, upload=upload))
    return results


async def mark_failed(
    session: AsyncSession, storage: MediaStorage, media: Media, reason: str
) -> None:
    """Failed, with the reason kept for the user; stored bytes are removed."""
    await storage.delete(media.storage_key)
    media.status = MediaStatus.FAILED
    media.failure_reason = reason
    record_event(
        session,
        media.workspace_id,
        "media.failed",
        "media",
        media.id,
        {"id": str(media.id), "reason": reason},
    )


@dataclass(frozen=True)
class Inspection:
    """What arrived under a media's key, read with no database work in progress: probing a
    large file takes seconds, and must not hold a transaction (on SQLite, the write lock)."""

    stored: int | None
    found: Probe | None = None
    digest: str | None = None
    problem: str | None = None


async def inspect_upload(
    storage: MediaStorage, settings: Settings, key: str, declared_size: int
) -> Inspection:
    # From here on no upload URL can change what is probed.
    await storage.seal(key)
    stored = await storage.size_of(key)
    if stored is None or stored != declared_size:
        return Inspection(stored)
    return await _probe_stored(storage, settings, key, stored)


async def inspect_stored(storage: MediaStorage, settings: Settings, key: str) -> Inspection:
    """What a ready media's stored bytes are now (a validation checks them again)."""
    stored = await storage.size_of(key)
    if stored is None:
        return Inspection(None, problem="the stored file is gone")
    return await _probe_stored(storage, settings, key, stored)


async def _probe_stored(
    storage: MediaStorage, settings: Settings, key: str, stored: int
) -> Inspection:
    try:
        async with storage.local_copy(key) as path:
            found = await asyncio.to_thread(probe, path, settings.media_max_image_pixels)
            digest = await asyncio.to_thread(sha256_of, path)
    except ProbeError as err:
        return Inspection(stored, problem=str(err))
    return Inspection(stored, found, digest)


async def complete_upload(
    session: AsyncSession,
    storage: MediaStorage,
    settings: Settings,
    media: Media,
    now: datetime,
    inspection: Inspection,
) -> None:
    """Settles the media from what `inspect_upload` found: ready, failed with the reason,
    or 409 while no bytes have arrived yet."""
    if media.status != MediaStatus.PENDING:
        raise HeraldError.conflict(f"the media is already {media.status}")
    stored = inspection.stored
    if stored is None:
        if now > media.upload_expires_at:
            await mark_failed(
                session, storage, media, "no bytes arrived before the upload URL expired"
            )
            return
        raise HeraldError.conflict("no bytes were uploaded yet; PUT them to upload_url first")
    if stored != media.declared_size:
        await mark_failed(
            session,
            storage,
            media,
            f"{stored} bytes arrived but {media.declared_size} were declared",
        )
        return
    found = inspection.found
    if found is None:
        await mark_failed(session, storage, media, inspection.problem or "the file is unusable")
        return
    if stored > size_limit(settings, found.mime_type):
        # Declared as a (larger) video, turned out an image: the real type's limit holds.
        await mark_failed(
            session, storage, media, f"{stored} bytes is over the limit for {found.mime_type}"
        )
        return
    media.mime_type = found.mime_type
    media.size = stored
    media.width, media.height = found.width, found.height
    media.duration_s, media.codec = found.duration_s, found.codec
    media.sha256 = inspection.digest
    media.suitability = suitability(found, stored)
    media.status = MediaStatus.READY
    record_event(
        session,
        media.workspace_id,
        "media.uploaded",
        "media",
        media.id,
        {"id": str(media.id), "mime_type": found.mime_type, "size": stored},
    )


async def finish_upload(
    session: AsyncSession,
    read_sessions: SessionFactory,
    storage: MediaStorage,
    settings: Settings,
    principal: Principal,
    media_id: uuid.UUID,
    now: datetime,
) -> Media:
    """POST /v1/media/{id}/complete: the bytes are inspected before `session` is first used
    (so no write transaction waits on the probe), then the media is settled in it."""
    workspace_id = principal.workspace_id
    async with read_sessions() as reader:
        snapshot = await get_media(reader, workspace_id, media_id)
        if snapshot is None:
            raise HeraldError.not_found("media")
        pending = snapshot.status == MediaStatus.PENDING
        key, declared = snapshot.storage_key, snapshot.declared_size
    inspection = (
        await inspect_upload(storage, settings, key, declared) if pending else Inspection(None)
    )
    media = await get_media(session, workspace_id, media_id)
    if media is None:
        raise HeraldError.not_found("media")
    await complete_upload(session, storage, settings, media, now, inspection)
    audit.record(
        session,
        principal,
        "media.completed",
        "media",
        media.id,
        {
            "status": media.status,
            "mime_type": media.mime_type,
            "size": media.size,
            "failure_reason": media.failure_reason,
        },
        now,
    )
    return media


async def upload_small_file(
    session: AsyncSession,
    read_sessions: SessionFactory,
    storage: MediaStorage,
    settings: Settings,
    principal: Principal,
    body: UploadRequest,
    path: Path,
    now: datetime,
) -> Media:
    """The multipart POST /v1/media: the file (already at `path`, `body.size` bytes) is
    checked as `initiate_upload` checks a declared one, stored under the media's key and
    probed as `complete` probes an upload, outside any write transaction. The answer is the
    settled media: ready, or failed with the reason."""
    if body.size > settings.media_max_form_upload_bytes:
        raise HeraldError(
            ErrorCode.PAYLOAD_TOO_LARGE,
            f"{body.size} bytes is over the {settings.media_max_form_upload_bytes}-byte limit "
            "of this upload (HERALD_MEDIA_MAX_FORM_UPLOAD_BYTES); use POST /v1/media/uploads",
        )
    _check_upload(settings, body, type_path="file")  # the file part's Content-Type
    async with read_sessions() as reader:
        brand = await get_brand(reader, principal.workspace_id, body.brand_id)
    if brand is None:
        raise HeraldError.invalid("brand_id", "no such brand in this workspace")
    media = _new_upload(principal, body, now, now)
    await storage.put_file(media.storage_key, path, body.mime_type)
    inspection = await inspect_upload(storage, settings, media.storage_key, body.size)
    session.add(media)
    await complete_upload(session, storage, settings, media, now, inspection)
    audit.record(
        session,
        principal,
        "media.uploaded",
        "media",
        media.id,
        {
            "filename": media.filename,
            "status": media.status,
            "mime_type": media.mime_type,
            "size": media.size,
            "failure_reason": media.failure_reason,
        },
        now,
    )
    return media


async def delete_media(
    session: AsyncSession, principal: Principal, storage: MediaStorage, media: Media
) -> None:
    """Deletes the row, then the bytes: a failure in between leaves unreferenced bytes, never
    a row whose file is gone."""
    if await media_in_use(session, media):
        raise HeraldError.conflict("a post that has not published yet uses this media")
    audit.record(
        session, principal, "media.deleted", "media", media.id, {"filename": media.filename}
    )
    await session.delete(media)
    await session.commit()
    await storage.delete(media.storage_key)


async def media_in_use(session: AsyncSession, media: Media) -> bool:
    rows = await session.execute(
        select(Post.media_ids).where(
            Post.workspace_id == media.workspace_id, Post.status.in_(POSTS_USING_MEDIA)
        )
    )
    wanted = str(media.id)
    return any(wanted in (ids or []) for ids in rows.scalars())


async def to_out(storage: MediaStorage, media: Media, now: datetime, ttl_s: int) -> MediaOut:
    url = None
    if media.status == MediaStatus.READY:
        url = await storage.download_url(
            media.storage_key,
            now + timedelta(seconds=ttl_s),
            media.mime_type or "application/octet-stream",
        )
    return MediaOut(
        id=media.id,
        brand_id=media.brand_id,
        filename=media.filename,
        mime_type=media.mime_type or media.declared_mime_type,
        size=media.size if media.size is not None else media.declared_size,
        width=media.width,
        height=media.height,
        duration_s=media.duration_s,
        status=media.status,
        failure_reason=media.failure_reason,
        url=url,
        suitability=media.suitability,
        created_at=media.created_at,
    )


class ImportWorkflows(Protocol):
    async def start_media_import(self, media_id: uuid.UUID, url: str) -> None: ...
    async def import_media_and_wait(self, media_id: uuid.UUID, url: str, wait_s: float) -> bool: ...


async def import_from_url(
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    body: ImportRequest,
    now: datetime,
    workflows: ImportWorkflows,
) -> Media:
    """Stores the pending media row, then starts its import workflow (after the commit, so the
    workflow always finds the row)."""
    media = await _pending_import(session, settings, principal, body, now)
    await session.commit()
    await workflows.start_media_import(media.id, str(body.url))
    return media


async def register_from_url(
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    body: ImportRequest,
    now: datetime,
    workflows: ImportWorkflows,
) -> tuple[Media, bool]:
    """POST /v1/media/register: the URL import, waited for. The media and whether it settled
    (ready, or failed with the reason) within `media_register_wait_s`; if not it is still
    pending and the import goes on as `import_from_url`'s does."""
    media = await _pending_import(session, settings, principal, body, now)
    await session.commit()
    settled = await workflows.import_media_and_wait(
        media.id, str(body.url), settings.media_register_wait_s
    )
    await session.refresh(media)  # the import's activity wrote it in its own session
    return media, settled and media.status != MediaStatus.PENDING


async def _pending_import(
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    body: ImportRequest,
    now: datetime,
) -> Media:
    """A pending media row for a URL import; the URL is checked before anything is stored."""
    try:
        await check_url(str(body.url), import_policy(settings))
    except FetchError as err:
        raise HeraldError.invalid("url", str(err)) from err
    if await get_brand(session, principal.workspace_id, body.brand_id) is None:
        raise HeraldError.invalid("brand_id", "no such brand in this workspace")
    path = urlsplit(str(body.url)).path
    filename = body.filename or (path.rsplit("/", 1)[-1] or "import")
    media = pending_import(principal.workspace_id, body.brand_id, filename, now)
    session.add(media)
    # A URL's query and fragment may carry a token of the file's host: the log keeps the rest.
    where = urlsplit(str(body.url))
    audit.record(
        session,
        principal,
        "media.import_started",
        "media",
        media.id,
        {"filename": filename, "url": f"{where.scheme}://{where.netloc}{where.path}"},
        now,
    )
    return media


def pending_import(
    workspace_id: uuid.UUID,
    brand_id: uuid.UUID,
    filename: str,
    now: datetime,
    declared_mime_type: str = "application/octet-stream",
) -> Media:
    """The row a URL import fills in (activities.media.import_media): pending, no bytes yet."""
    media_id = uuid.uuid4()
    return Media(
        id=media_id,
        workspace_id=workspace_id,
        brand_id=brand_id,
        filename=filename[:255],
        declared_mime_type=declared_mime_type,
        declared_size=0,
        storage_key=f"{workspace_id}/{media_id}",
        upload_expires_at=now,
        created_at=now,
        updated_at=now,
    )


async def check_upload_open(sessions: SessionFactory, key: str) -> None:
    """A signed upload URL takes bytes only while its media waits for them: after `complete`
    the stored file is what was probed, and a second PUT must not replace it."""
    async with sessions() as session:
        media = await get_media_by_storage_key(session, key)
        status = media.status if media is not None else None
    if status != MediaStatus.PENDING:
        raise HeraldError.conflict(
            "this upload URL was used: the media is "
            f"{status or 'gone'}; create a new media item to upload other bytes"
        )
