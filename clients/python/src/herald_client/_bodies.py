"""Request bodies and query values, shared by the sync and async clients."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any


def drop_none(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def instant(value: datetime | str | None) -> str | None:
    """An RFC 3339 instant; a datetime must carry its offset (Herald refuses naive times)."""
    if value is None or isinstance(value, str):
        return value
    if value.tzinfo is None:
        raise ValueError("a time needs its offset (e.g. datetime.now(UTC))")
    return value.isoformat()


def targets_of(targets: Sequence[str | Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Each target as the API takes it: an account id alone, or the full target object."""
    return [{"account_id": t} if isinstance(t, str) else dict(t) for t in targets]


def post_body(
    content: str,
    targets: Sequence[str | Mapping[str, Any]],
    *,
    brand_id: str | None = None,
    media_ids: Sequence[str] = (),
    scheduled_at: datetime | str | None = None,
    publish_now: bool = False,
    queue: bool = False,
    draft: bool = False,
    external_id: str | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"content": content, "targets": targets_of(targets)}
    if media_ids:
        body["media_ids"] = list(media_ids)
    optional = {
        "brand_id": brand_id,
        "scheduled_at": instant(scheduled_at),
        "publish_now": publish_now or None,
        "queue": queue or None,
        "draft": draft or None,
        "external_id": external_id,
    }
    return {**body, **drop_none(optional)}
