"""The local media backend's signed URLs: PUT the bytes of an upload, GET a stored file.
The signature is the credential; no API key is sent (as with S3 presigned URLs)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.responses import FileResponse

from api.deps import ResourcesDep
from api.openapi import error_responses
from herald.db.types import utcnow
from herald.errors import ErrorCode, HeraldError
from herald.services.media import check_upload_open
from herald.storage.base import content_disposition, key_of_upload
from herald.storage.local import FILES_PATH, LocalStorage

router = APIRouter(prefix=FILES_PATH, tags=["media"])


def _local(resources: ResourcesDep) -> LocalStorage:
    if not isinstance(resources.storage, LocalStorage):
        raise HeraldError.not_found("file")  # S3 serves its own URLs
    return resources.storage


def _check(
    storage: LocalStorage,
    method: str,
    key: str,
    expires: int,
    signature: str,
    size: int | None,
    content_type: str = "",
) -> None:
    problem = storage.signer.verify(method, key, expires, signature, utcnow(), size, content_type)
    if problem is not None:
        raise HeraldError(ErrorCode.FORBIDDEN, problem)


@router.put(
    "/{key:path}",
    status_code=status.HTTP_200_OK,
    summary="Upload bytes to a signed URL",
    # 409: the upload was completed or deleted meanwhile.
    responses=error_responses(403, 409),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
        }
    },
)
async def put_file(
    key: str,
    request: Request,
    resources: ResourcesDep,
    expires: Annotated[int, Query()],
    signature: Annotated[str, Query()],
    size: Annotated[int, Query(ge=1)],
) -> Response:
    storage = _local(resources)
    _check(storage, "PUT", key, expires, signature, size)
    # URLs signed before uploads were staged name the media's own key.
    media_key = key_of_upload(key) or key
    await check_upload_open(resources.read_sessions, media_key)
    final = storage.path_of(key)
    final.parent.mkdir(parents=True, exist_ok=True)
    # Written beside the final name, then renamed: a reader never sees half a file.
    handle, temp_name = tempfile.mkstemp(dir=final.parent, prefix=".upload-")
    received = 0
    try:
        with os.fdopen(handle, "wb") as out:
            async for chunk in request.stream():
                received += len(chunk)
                if received > size:
                    raise HeraldError(
                        ErrorCode.PAYLOAD_TOO_LARGE,
                        f"more than the {size} bytes declared for this upload",
                    )
                out.write(chunk)
        await check_upload_open(resources.read_sessions, media_key)  # completed meanwhile?
        os.replace(temp_name, final)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
    return Response(status_code=status.HTTP_200_OK)


@router.get(
    "/{key:path}",
    summary="Download a stored file through a signed URL",
    responses=error_responses(403),
)
async def get_file(
    key: str,
    resources: ResourcesDep,
    expires: Annotated[int, Query()],
    signature: Annotated[str, Query()],
    content_type: Annotated[str, Query(alias="type")] = "",
) -> FileResponse:
    storage = _local(resources)
    _check(storage, "GET", key, expires, signature, None, content_type)
    path = storage.path_of(key)
    if not path.exists():
        raise HeraldError.not_found("file")
    served = content_type or "application/octet-stream"
    return FileResponse(
        path,
        media_type=served,
        headers={
            "X-Content-Type-Options": "nosniff",
            "Content-Disposition": content_disposition(served),
        },
    )
