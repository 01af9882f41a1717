"""The one keyset cursor every list endpoint pages with: (created_at, id) of a page's last
row, opaque to clients, refused with a 400 when it is not one this API returned."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol, TypeVar

from sqlalchemy import Select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from herald.errors import HeraldError


class Created(Protocol):
    id: Any
    created_at: Any


Row = TypeVar("Row", bound=Created)


def encode_keyset(created_at: datetime, row_id: uuid.UUID) -> str:
    """An opaque cursor naming the last row of a page."""
    raw = json.dumps([created_at.isoformat(), str(row_id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        created_at, row_id = json.loads(base64.urlsafe_b64decode(padded))
        return datetime.fromisoformat(created_at), uuid.UUID(row_id)
    except (ValueError, TypeError) as exc:
        raise HeraldError.invalid("cursor", "not a cursor this API returned") from exc


async def page_by_creation(
    session: AsyncSession,
    query: Select[Row],
    created_at: InstrumentedAttribute[datetime],
    row_id: InstrumentedAttribute[uuid.UUID],
    limit: int,
    cursor: str | None,
    *,
    newest_first: bool,
) -> tuple[Sequence[Row], str | None]:
    """One page of `query` in creation order, and the cursor of the next page (None: last)."""
    key = tuple_(created_at, row_id)
    if cursor is not None:
        after = tuple_(*decode_cursor(cursor))
        query = query.where(key < after if newest_first else key > after)
    if newest_first:
        query = query.order_by(created_at.desc(), row_id.desc())
    else:
        query = query.order_by(created_at, row_id)
    rows = (await session.execute(query.limit(limit + 1))).scalars().all()
    page = rows[:limit]
    more = len(rows) > limit
    return page, encode_keyset(page[-1].created_at, page[-1].id) if more else None
