"""Media library endpoints: presigned uploads, completion (probing), listing, deletion."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status
from pydantic import ValidationError

from api.deps import ResourcesDep, SessionDep, TemporalDep, require
from herald.db.models import Media
from herald.db.types import utcnow
from herald.errors import HeraldError
from herald.principal import Permission, Principal
from herald.repositories.media import get_media, list_media
from herald.schemas.media import (
    BulkPresignItem,
    BulkPresignOut,
    BulkPresignRequest,
    ImportRequest,
    MediaList,
    MediaOut,
    UploadOut,
    UploadRequest,
)
from herald.services import media as service

router = APIRouter(prefix="/v1/media", tags=["media"])

Uploader = Annotated[Principal, Depends(require(Permission.MEDIA_UPLOAD))]
Reader = Annotated[Principal, Depends(require(Permission.WORKSPACE_READ))]
Deleter = Annotated[Principal, Depends(require(Permission.MEDIA_DELETE))]


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
    results = []
    for index, raw in enumerate(body.files):
        try:
            item = UploadRequest.model_validate(raw)
            async with session.begin_nested():
                upload = await service.initiate_upload(
                    session, resources.storage, resources.settings, principal, item, utcnow()
                )
        except ValidationError as err:
            first = err.errors()[0]
            path = ".".join(str(p) for p in first["loc"]) or "body"
            results.append(
                BulkPresignItem(
                    index=index,
                    status=400,
                    error={"code": "VALIDATION_ERROR", "message": first["msg"], "path": path},
                )
            )
            continue
        except HeraldError as err:
            results.append(
                BulkPresignItem(
                    index=index,
                    status=err.http_status,
                    error={"code": err.code.value, "message": err.message},
                )
            )
            continue
        results.append(BulkPresignItem(index=index, status=201, upload=upload))
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
