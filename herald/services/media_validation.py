"""Media validation on request (POST /v1/media/{id}/validate and bulk-validate): each file's
stored bytes are probed again and judged by every platform's rules (herald.media.suitability),
by a workflow (`media-validation/<id>`); the request's row holds the results, and each media's
`suitability` is brought up to date with them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from herald.db.engine import SessionFactory
from herald.db.models import Media, MediaValidation
from herald.errors import ErrorCode, ErrorDetail, HeraldError
from herald.media.suitability import suitability
from herald.repositories.media import get_media_many
from herald.schemas.media import MediaValidationOut, MediaVerdict
from herald.services.media import inspect_stored
from herald.settings import Settings
from herald.status import MediaStatus, MediaValidationStatus
from herald.storage.base import MediaStorage


class ValidationWorkflows(Protocol):
    async def start_media_validation(self, validation_id: uuid.UUID) -> None: ...


async def request_validation(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    media_ids: list[uuid.UUID],
    now: datetime,
    workflows: ValidationWorkflows,
    *,
    path_id: bool = False,
) -> MediaValidation:
    """Stores the pending request, then starts its workflow (after the commit, so the workflow
    always finds the row). Every id must be this workspace's media: a 400 naming each that is
    not (a 404 for the one id of a path, `path_id`)."""
    wanted = list(dict.fromkeys(media_ids))
    found = await get_media_many(session, workspace_id, wanted)
    missing = [
        ErrorDetail(f"media_ids.{media_ids.index(m)}", "no such media in this workspace")
        for m in wanted
        if m not in found
    ]
    if missing and path_id:
        raise HeraldError.not_found("media")
    if missing:
        raise HeraldError(ErrorCode.VALIDATION_ERROR, missing[0].message, missing)
    validation = MediaValidation(
        id=uuid.uuid4(),
        workspace_id=workspace_id,
        media_ids=[str(m) for m in wanted],
        status=MediaValidationStatus.PENDING,
        results=[],
        created_at=now,
    )
    session.add(validation)
    await session.commit()
    await workflows.start_media_validation(validation.id)
    return validation


def to_out(validation: MediaValidation) -> MediaValidationOut:
    return MediaValidationOut(
        id=validation.id,
        status=validation.status,
        media_ids=[uuid.UUID(m) for m in validation.media_ids],
        results=[MediaVerdict.model_validate(r) for r in validation.results],
        created_at=validation.created_at,
        completed_at=validation.completed_at,
    )


async def run_validation(
    sessions: SessionFactory,
    storage: MediaStorage,
    settings: Settings,
    validation_id: uuid.UUID,
    now: datetime,
) -> None:
    """The workflow's one step. The files are probed with no transaction open (it takes
    seconds for a video); the verdicts are written in one. Running it again (a retried
    activity) writes the same verdicts; a completed request is left as it is."""
    async with sessions() as session:
        validation = await session.get(MediaValidation, validation_id)
        if validation is None or validation.status is MediaValidationStatus.COMPLETED:
            return
        ids = [uuid.UUID(m) for m in validation.media_ids]
        snapshot = await get_media_many(session, validation.workspace_id, ids)
        stored = {m.id: (m.status, m.storage_key) for m in snapshot.values()}
    verdicts = [await _verdict(storage, settings, m, *stored.get(m, (None, ""))) for m in ids]
    async with sessions() as session, session.begin():
        validation = await session.get(MediaValidation, validation_id)
        assert validation is not None
        media = await get_media_many(session, validation.workspace_id, ids)
        for verdict in verdicts:
            _update_suitability(media.get(uuid.UUID(verdict["media_id"])), verdict)
        validation.results = verdicts
        validation.status = MediaValidationStatus.COMPLETED
        validation.completed_at = now


async def _verdict(
    storage: MediaStorage,
    settings: Settings,
    media_id: uuid.UUID,
    status: MediaStatus | None,
    key: str,
) -> dict[str, Any]:
    if status is None:  # deleted since the request
        return _verdict_of(media_id, MediaStatus.FAILED, {}, "the media was deleted")
    if status is not MediaStatus.READY:
        return _verdict_of(media_id, status, {}, f"the media is {status}, not ready")
    inspection = await inspect_stored(storage, settings, key)
    if inspection.found is None or inspection.stored is None:
        problem = f"its stored bytes cannot be used: {inspection.problem}"
        return _verdict_of(media_id, status, {}, problem)
    return _verdict_of(media_id, status, suitability(inspection.found, inspection.stored), None)


def _verdict_of(
    media_id: uuid.UUID, status: MediaStatus, platforms: dict[str, Any], problem: str | None
) -> dict[str, Any]:
    verdict = MediaVerdict(
        media_id=media_id, media_status=status, platforms=platforms, problem=problem
    )
    return verdict.model_dump(mode="json")


def _update_suitability(media: Media | None, verdict: dict[str, Any]) -> None:
    """A ready media's stored verdicts become the fresh ones (post validation reads them)."""
    if media is not None and media.status is MediaStatus.READY and verdict["platforms"]:
        media.suitability = verdict["platforms"]
