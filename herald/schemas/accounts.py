"""Social account response bodies: tokens and passwords never appear."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, field_serializer

from herald.db.models import SocialAccount
from herald.db.types import utcnow
from herald.rate_limits import rate_limit_wait
from herald.schemas.posts import rfc3339
from herald.status import AccountStatus


class AccountOut(BaseModel):
    id: uuid.UUID
    brand_id: uuid.UUID
    platform: str
    username: str
    display_name: str | None
    avatar_url: str | None
    status: AccountStatus
    token_expires_at: datetime | None
    # Set while a rate limit the platform named (a 429's reset) holds the account's posts.
    rate_limited_until: datetime | None
    settings: dict[str, Any]
    created_at: datetime

    @field_serializer("token_expires_at", "rate_limited_until", "created_at")
    def _times(self, value: datetime | None) -> str | None:
        return rfc3339(value)

    @classmethod
    def of(cls, account: SocialAccount) -> AccountOut:
        return cls(
            id=account.id,
            brand_id=account.brand_id,
            platform=account.platform,
            username=account.username,
            display_name=account.display_name,
            avatar_url=account.avatar_url,
            status=account.status,
            token_expires_at=account.token_expires_at,
            rate_limited_until=rate_limit_wait(account, utcnow()),
            settings=account.settings,
            created_at=account.created_at,
        )


class AccountList(BaseModel):
    data: list[AccountOut]
    next_cursor: str | None = None
