"""The audit log: who did what in the workspace, newest first."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from api.deps import PageCursor, PageLimit, SessionDep, require
from herald.principal import ActorType, Permission, Principal
from herald.repositories.audit import AuditFilter, list_audit_events
from herald.schemas.audit import AuditEventList, AuditEventOut

router = APIRouter(prefix="/v1/audit-events", tags=["audit"])

Auditor = Annotated[Principal, Depends(require(Permission.WORKSPACE_SETTINGS))]
Text = Annotated[str | None, Query(min_length=1, max_length=64)]


@router.get("", response_model=AuditEventList, summary="Who did what, newest first")
async def list_(
    session: SessionDep,
    principal: Auditor,
    resource_type: Annotated[
        str | None, Query(min_length=1, max_length=32, description="`post`, `brand`, ...")
    ] = None,
    resource_id: Text = None,
    actor_id: Annotated[
        str | None,
        Query(min_length=1, max_length=64, description="A user's or API key's id"),
    ] = None,
    actor_type: Annotated[ActorType | None, Query()] = None,
    action: Annotated[
        str | None, Query(min_length=1, max_length=64, description="`post.created`, ...")
    ] = None,
    cursor: PageCursor = None,
    limit: PageLimit = 50,
) -> AuditEventList:
    where = AuditFilter(
        resource_type=resource_type,
        resource_id=resource_id,
        actor_id=actor_id,
        actor_type=actor_type.value if actor_type else None,
        action=action,
    )
    rows, next_cursor = await list_audit_events(
        session, principal.workspace_id, where, limit, cursor
    )
    return AuditEventList(data=[AuditEventOut.of(r) for r in rows], next_cursor=next_cursor)
