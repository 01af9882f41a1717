"""Media library endpoints: presigned and multipart uploads, completion (probing), URL imports
and registration, validation, listing, deletion."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Annotated, BinaryIO

from fastapi import APIRouter, Depends, File, Form, Query, Response, UploadFile, status
from pydantic import ValidationError

from api.deps import ResourcesDep, SessionDep, TemporalDep, require
from api.limits import PathLimit
from herald.db.models import Media, MediaValidation
from herald.db.types import utcnow
from herald.errors import HeraldError
from herald.principal import Permission, Principal
from herald.repositories.media import get_media, get_media_validation, list_media
from herald.schemas.media import (
    BulkPresignOut,
    BulkPresignRequest,
    BulkValidateRequest,
    ImportRequest,
    MediaList,
    MediaOut,
    MediaValidationOut,
    UploadOut,
    UploadRequest,
)
from herald.services import media as service
from herald.services import media_validation as validations
from herald.settings import Settings

router = APIRouter(prefix="/v1/media", tags=["media"])

# The multipart upload's body may be larger than the API's cap: its file, plus the form's
# boundaries, part headers and brand_id.
FORM_UPLOAD_PATH = router.prefix
FORM_OVERHEAD_BYTES = 64 * 1024


def form_upload_limit(settings: Settings) -> PathLimit:
    return PathLimit(
        max(
            settings.media_max_form_upload_bytes + FORM_OVERHEAD_BYTES, settings.api_max_body_bytes
        ),
        "HERALD_MEDIA_MAX_FORM_UPLOAD_BYTES",
    )


Uploader = Annotated[Principal, Depends(require(Permission.MEDIA_UPLOAD))]
Reader = Annotated[Principal, Depends(require(Permission.WORKSPACE_READ))]
Deleter = Annotated[Principal, Depends(require(Permission.MEDIA_DELETE))]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=MediaOut,
    summary="Upload a small file in one multipart/form-data request (brand_id, file): checked "
    "and probed as a completed upload, answered settled (ready, or failed with the reason)",
)
async def upload_file(
    brand_id: Annotated[uuid.UUID, Form()],
    file: Annotated[UploadFile, File(description="An image or a video")],
    session: SessionDep,
    resources: ResourcesDep,
    principal: Uploader,
) -> MediaOut:
    with tempfile.TemporaryDirectory(prefix="herald-upload-") as folder:
        path = Path(folder) / "file"
        size = await asyncio.to_thread(_save, file.file, path)
        body = _declared(brand_id, file, size)
        media = await service.upload_small_file(
            session,
            resources.read_sessions,
            resources.storage,
            resources.settings,
            principal,
            body,
            path,
            utcnow(),
        )
    ttl = resources.settings.media_url_ttl_s
    return await service.to_out(resources.storage, media, utcnow(), ttl)


def _save(source: BinaryIO, path: Path) -> int:
    with path.open("wb") as out:
        shutil.copyfileobj(source, out, 1 << 20)
        return out.tell()


def _declared(brand_id: uuid.UUID, file: UploadFile, size: int) -> UploadRequest:
    """What the form's file part declares, as a presigned upload would declare it."""
    mime_type = (file.content_type or "").split(";", 1)[0].strip().lower()
    try:
        return UploadRequest(
            brand_id=brand_id,
            filename=(file.filename or "upload")[-255:],
            mime_type=mime_type,
            size=size,
        )
    except ValidationError as err:
        field = str(err.errors()[0]["loc"][0])
        reasons = {
            "mime_type": f"the file part's Content-Type {mime_type!r} is not an image or video type",
            "size": "the file is empty",
        }
        raise HeraldError.invalid("file", reasons.get(field, "the file part is invalid")) from err


@router.post(
    "/uploads",
    status_code=status.HTTP_201_CREATED,
    response_model=UploadOut,
    summary="Start an upload: returns the URL to PUT the bytes to",
)
async def upload(
    body: UploadRequest, session: SessionDep, resources: ResourcesDep, principal: Uploader
) -> UploadOut:
    return await service.initiate_upload(
        session, resources.storage, resources.settings, principal, body, utcnow()
    )


@router.post(
    "/bulk-presign", status_code=207, response_model=BulkPresignOut, summary="Start several uploads"
)
async def bulk_presign(
    body: BulkPresignRequest, session: SessionDep, resources: ResourcesDep, principal: Uploader
) -> BulkPresignOut:
    results = await service.initiate_uploads(
        session, resources.storage, resources.settings, principal, body.files, utcnow()
    )
    return BulkPresignOut(results=results)


@router.post(
    "/bulk-video-upload-urls",
    status_code=207,
    response_model=BulkPresignOut,
    summary="Start several video uploads: an upload URL per video, each finished by complete",
)
async def bulk_video_upload_urls(
    body: BulkPresignRequest, session: SessionDep, resources: ResourcesDep, principal: Uploader
) -> BulkPresignOut:
    results = await service.initiate_uploads(
        session,
        resources.storage,
        resources.settings,
        principal,
        body.files,
        utcnow(),
        videos_only=True,
    )
    return BulkPresignOut(results=results)


@router.post(
    "/import-from-url",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=MediaOut,
    summary="Import a file from a public URL (asynchronous: poll the media or await media.uploaded)",
)
async def import_from_url(
    body: ImportRequest,
    session: SessionDep,
    resources: ResourcesDep,
    temporal: TemporalDep,
    principal: Uploader,
) -> MediaOut:
    media = await service.import_from_url(
        session, resources.settings, principal, body, utcnow(), temporal
    )
    ttl = resources.settings.media_url_ttl_s
    return await service.to_out(resources.storage, media, utcnow(), ttl)


@router.post(
    "/register",
    status_code=status.HTTP_201_CREATED,
    response_model=MediaOut,
    summary="Register a file already at a public URL: fetched and checked like an import, "
    "answered once settled (202 while it is still being fetched)",
    responses={
        202: {"model": MediaOut, "description": "Still being fetched: poll the media"},
    },
)
async def register(
    body: ImportRequest,
    response: Response,
    session: SessionDep,
    resources: ResourcesDep,
    temporal: TemporalDep,
    principal: Uploader,
) -> MediaOut:
    media, settled = await service.register_from_url(
        session, resources.settings, principal, body, utcnow(), temporal
    )
    if not settled:
        response.status_code = status.HTTP_202_ACCEPTED
    ttl = resources.settings.media_url_ttl_s
    return await service.to_out(resources.storage, media, utcnow(), ttl)


@router.post(
    "/bulk-validate",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=MediaValidationOut,
    summary="Check several media files against each platform again (asynchronous: poll "
    "GET /v1/media/validations/{id})",
)
async def bulk_validate(
    body: BulkValidateRequest,
    response: Response,
    session: SessionDep,
    temporal: TemporalDep,
    principal: Uploader,
) -> MediaValidationOut:
    validation = await validations.request_validation(
        session, principal.workspace_id, body.media_ids, utcnow(), temporal
    )
    return _accepted(validation, response)


@router.get(
    "/validations/{validation_id}",
    response_model=MediaValidationOut,
    summary="A media validation: pending, or completed with each file's verdicts",
)
async def get_validation(
    validation_id: uuid.UUID, session: SessionDep, principal: Reader
) -> MediaValidationOut:
    validation = await get_media_validation(session, principal.workspace_id, validation_id)
    if validation is None:
        raise HeraldError.not_found("media validation")
    return validations.to_out(validation)


def _accepted(validation: MediaValidation, response: Response) -> MediaValidationOut:
    response.headers["Location"] = f"{router.prefix}/validations/{validation.id}"
    return validations.to_out(validation)


async def _media_or_404(session: SessionDep, principal: Principal, media_id: uuid.UUID) -> Media:
    media = await get_media(session, principal.workspace_id, media_id)
    if media is None:
        raise HeraldError.not_found("media")
    return media


@router.post(
    "/{media_id}/complete",
    response_model=MediaOut,
    summary="Finish an upload: the bytes are checked and probed",
)
async def complete(
    media_id: uuid.UUID, session: SessionDep, resources: ResourcesDep, principal: Uploader
) -> MediaOut:
    media = await service.finish_upload(
        session,
        resources.read_sessions,
        resources.storage,
        resources.settings,
        principal,
        media_id,
        utcnow(),
    )
    return await service.to_out(
        resources.storage, media, utcnow(), resources.settings.media_url_ttl_s
    )


@router.post(
    "/{media_id}/validate",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=MediaValidationOut,
    summary="Check a media file against each platform again (asynchronous: poll "
    "GET /v1/media/validations/{id})",
)
async def validate(
    media_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    temporal: TemporalDep,
    principal: Uploader,
) -> MediaValidationOut:
    validation = await validations.request_validation(
        session, principal.workspace_id, [media_id], utcnow(), temporal, path_id=True
    )
    return _accepted(validation, response)


@router.get("", response_model=MediaList, summary="List media, newest first")
async def list_(
    session: SessionDep,
    resources: ResourcesDep,
    principal: Reader,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> MediaList:
    items, next_cursor = await list_media(session, principal.workspace_id, limit, cursor)
    ttl = resources.settings.media_url_ttl_s
    return MediaList(
        data=[await service.to_out(resources.storage, m, utcnow(), ttl) for m in items],
        next_cursor=next_cursor,
    )


@router.get("/{media_id}", response_model=MediaOut, summary="Get one media file")
async def get(
    media_id: uuid.UUID, session: SessionDep, resources: ResourcesDep, principal: Reader
) -> MediaOut:
    media = await _media_or_404(session, principal, media_id)
    return await service.to_out(
        resources.storage, media, utcnow(), resources.settings.media_url_ttl_s
    )


@router.delete(
    "/{media_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete media no scheduled post uses",
)
async def delete(
    media_id: uuid.UUID, session: SessionDep, resources: ResourcesDep, principal: Deleter
) -> Response:
    media = await _media_or_404(session, principal, media_id)
    await service.delete_media(session, principal, resources.storage, media)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
