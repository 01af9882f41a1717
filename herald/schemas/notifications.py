"""Notification bodies."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_serializer, model_validator

from herald.db.models import Notification
from herald.schemas.posts import rfc3339


class NotificationOut(BaseModel):
    id: uuid.UUID
    type: str
    title: str
    resource_type: str
    resource_id: uuid.UUID
    created_at: datetime
    read_at: datetime | None

    @field_serializer("created_at", "read_at")
    def _times(self, value: datetime | None) -> str | None:
        return rfc3339(value)

    @classmethod
    def of(cls, notification: Notification) -> NotificationOut:
        return cls(
            id=notification.id,
            type=notification.type,
            title=notification.title,
            resource_type=notification.resource_type,
            resource_id=notification.resource_id,
            created_at=notification.created_at,
            read_at=notification.read_at,
        )


class NotificationList(BaseModel):
    data: list[NotificationOut]
    next_cursor: str | None = None


class ReadBody(BaseModel):
    """Either the ids to mark read, or `all: true` for every unread one."""

    model_config = ConfigDict(extra="forbid")

    ids: list[uuid.UUID] | None = Field(default=None, max_length=500)
    all: bool = False

    @model_validator(mode="after")
    def _one_of(self) -> ReadBody:
        if (self.ids is None) == (not self.all):
            raise ValueError("send either ids or all: true")
        return self


class ReadOut(BaseModel):
    marked: int
