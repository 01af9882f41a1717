"""Mirrors: creating, changing and deleting one, each a unit of work that commits before it
starts, steers or stops the mirror's workflow (the workflow reads the committed row)."""

from __future__ import annotations

import uuid
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from herald.db.models import Mirror
from herald.db.types import utcnow
from herald.errors import ErrorCode, ErrorDetail, HeraldError
from herald.principal import Principal
from herald.repositories.accounts import get_accounts
from herald.schemas.mirrors import MirrorBody, MirrorPatch
from herald.services import audit


class MirrorWorkflows(Protocol):
    async def start_mirror(self, mirror_id: uuid.UUID) -> None: ...
    async def pause_mirror(self, mirror_id: uuid.UUID) -> None: ...
    async def resume_mirror(self, mirror_id: uuid.UUID) -> None: ...
    async def stop_mirror(self, mirror_id: uuid.UUID) -> None: ...


async def _check_accounts(
    session: AsyncSession, principal: Principal, source: uuid.UUID | None, targets: list[uuid.UUID]
) -> None:
    wanted = [*([source] if source else []), *targets]
    found = await get_accounts(session, principal.workspace_id, wanted)
    problems = []
    if source is not None and source not in found:
        problems.append(ErrorDetail("source_account_id", "no such account in this workspace"))
    problems += [
        ErrorDetail(f"target_account_ids.{i}", "no such account in this workspace")
        for i, account in enumerate(targets)
        if account not in found
    ]
    if source is not None and source in targets:
        problems.append(ErrorDetail("target_account_ids", "the source cannot be a target"))
    if problems:
        raise HeraldError(ErrorCode.VALIDATION_ERROR, problems[0].message, problems)


async def create_mirror(
    session: AsyncSession, principal: Principal, body: MirrorBody, workflows: MirrorWorkflows
) -> Mirror:
    await _check_accounts(session, principal, body.source_account_id, body.target_account_ids)
    now = utcnow()
    mirror = Mirror(
        workspace_id=principal.workspace_id,
        name=body.name,
        description=body.description,
        source_account_id=body.source_account_id,
        target_account_ids=[str(a) for a in body.target_account_ids],
        is_active=body.is_active,
        future_content_enabled=body.future_content_enabled,
        existing_content_enabled=body.existing_content_enabled,
        existing_content_config=body.existing_content_config.model_dump(mode="json"),
        settings=body.settings.model_dump(mode="json"),
        last_enabled_at=now if body.is_active else None,
        created_at=now,
        updated_at=now,
    )
    session.add(mirror)
    await session.flush()
    audit.record(session, principal, "mirror.created", "mirror", mirror.id, _facts(mirror))
    await session.commit()
    await workflows.start_mirror(mirror.id)
    return mirror


async def update_mirror(
    session: AsyncSession,
    principal: Principal,
    mirror: Mirror,
    body: MirrorPatch,
    workflows: MirrorWorkflows,
) -> None:
    if body.target_account_ids is not None:
        await _check_accounts(session, principal, None, body.target_account_ids)
        if str(mirror.source_account_id) in {str(a) for a in body.target_account_ids}:
            raise HeraldError.invalid("target_account_ids", "the source cannot be a target")
        mirror.target_account_ids = [str(a) for a in body.target_account_ids]
    for field in ("name", "description", "future_content_enabled"):
        value = getattr(body, field)
        if value is not None:
            setattr(mirror, field, value)
    if body.settings is not None:
        mirror.settings = body.settings.model_dump(mode="json")
    toggled = body.is_active is not None and body.is_active != mirror.is_active
    if body.is_active is not None:
        mirror.is_active = body.is_active
        if body.is_active and toggled:
            mirror.last_enabled_at = utcnow()
    audit.record(
        session,
        principal,
        "mirror.updated",
        "mirror",
        mirror.id,
        {**_facts(mirror), "fields": sorted(body.model_fields_set)},
    )
    await session.commit()
    if toggled:
        if mirror.is_active:
            await workflows.resume_mirror(mirror.id)
        else:
            await workflows.pause_mirror(mirror.id)


def _facts(mirror: Mirror) -> dict[str, object]:
    return {
        "name": mirror.name,
        "source_account_id": mirror.source_account_id,
        "target_account_ids": mirror.target_account_ids,
        "is_active": mirror.is_active,
    }


async def delete_mirror(
    session: AsyncSession, principal: Principal, mirror: Mirror, workflows: MirrorWorkflows
) -> None:
    audit.record(session, principal, "mirror.deleted", "mirror", mirror.id, _facts(mirror))
    await session.delete(mirror)
    await session.commit()
    await workflows.stop_mirror(mirror.id)
