"""Webhook endpoint and delivery bodies."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_serializer

from herald.db.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from herald.schemas.posts import rfc3339
from herald.status import DeliveryState
from herald.webhooks.signing import message_id

URL = Field(min_length=1, max_length=2000, description="https URL that receives the events.")
EVENTS = Field(min_length=1, max_length=50, description='Event types to receive, or ["*"] for all.')


class EndpointBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = URL
    events: list[str] = EVENTS
    description: str | None = Field(default=None, max_length=500)


class EndpointPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(default=None, min_length=1, max_length=2000)
    events: list[str] | None = Field(default=None, min_length=1, max_length=50)
    description: str | None = Field(default=None, max_length=500)
    is_active: bool | None = None


class EndpointOut(BaseModel):
    id: uuid.UUID
    url: str
    events: list[str]
    description: str | None
    is_active: bool
    # Why Herald switched it off (410 Gone, or days of failures); None when it did not.
    disabled_reason: str | None
    # Until when the secret before the last rotation still signs beside the current one.
    previous_secret_expires_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @field_serializer("previous_secret_expires_at", "created_at", "updated_at")
    def _times(self, value: datetime | None) -> str | None:
        return rfc3339(value)

    @classmethod
    def of(cls, endpoint: WebhookEndpoint, now: datetime) -> EndpointOut:
        until = endpoint.previous_secret_until
        return cls(
            id=endpoint.id,
            url=endpoint.url,
            events=endpoint.events,
            description=endpoint.description,
            is_active=endpoint.is_active,
            disabled_reason=endpoint.disabled_reason,
            previous_secret_expires_at=until if until is not None and until > now else None,
            created_at=endpoint.created_at,
            updated_at=endpoint.updated_at,
        )


class EndpointCreated(EndpointOut):
    secret: str = Field(description="The whsec_ signing secret: shown on create only.")


class SecretOut(BaseModel):
    secret: str = Field(description="The new whsec_ signing secret: shown this once.")
    previous_secret_expires_at: datetime

    @field_serializer("previous_secret_expires_at")
    def _times(self, value: datetime) -> str | None:
        return rfc3339(value)


class EndpointList(BaseModel):
    data: list[EndpointOut]
    next_cursor: str | None = None


class AttemptOut(BaseModel):
    number: int
    at: datetime
    status_code: int | None
    duration_ms: int
    response: str | None
    error: str | None

    @field_serializer("at")
    def _times(self, value: datetime) -> str | None:
        return rfc3339(value)

    @classmethod
    def of(cls, attempt: WebhookAttempt) -> AttemptOut:
        return cls(
            number=attempt.number,
            at=attempt.at,
            status_code=attempt.status_code,
            duration_ms=attempt.duration_ms,
            response=attempt.response,
            error=attempt.error,
        )


class DeliveryOut(BaseModel):
    id: uuid.UUID
    # The webhook-id header of every attempt: the same on retries, for deduplication.
    message_id: str
    event_id: uuid.UUID | None
    event_type: str
    state: DeliveryState
    attempts: int
    last_status_code: int | None
    last_response: str | None
    last_duration_ms: int | None
    last_error: str | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    created_at: datetime
    attempt_log: list[AttemptOut]

    @field_serializer("next_attempt_at", "delivered_at", "created_at")
    def _times(self, value: datetime | None) -> str | None:
        return rfc3339(value)

    @classmethod
    def of(cls, delivery: WebhookDelivery, attempts: list[WebhookAttempt]) -> DeliveryOut:
        return cls(
            id=delivery.id,
            message_id=message_id(delivery.id),
            event_id=delivery.event_id,
            event_type=delivery.event_type,
            state=delivery.state,
            attempts=delivery.attempts,
            last_status_code=delivery.last_status_code,
            last_response=delivery.last_response,
            last_duration_ms=delivery.last_duration_ms,
            last_error=delivery.last_error,
            next_attempt_at=delivery.next_attempt_at,
            delivered_at=delivery.delivered_at,
            created_at=delivery.created_at,
            attempt_log=[AttemptOut.of(a) for a in attempts],
        )


class DeliveryList(BaseModel):
    data: list[DeliveryOut]
    next_cursor: str | None = None
