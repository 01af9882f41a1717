"""Liveness and readiness."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from api.deps import ResourcesDep
from herald.errors import HeraldError

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="The process is up")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="The database and Temporal are reachable")
async def readyz(resources: ResourcesDep) -> dict[str, str]:
    try:
        async with resources.engine.connect() as connection:
            await asyncio.wait_for(connection.execute(text("SELECT 1")), 3)
    except (SQLAlchemyError, OSError, TimeoutError) as exc:
        raise HeraldError.unavailable("the database is unreachable") from exc
    await resources.temporal.check()
    return {"status": "ready", "database": "ok", "temporal": "ok"}
