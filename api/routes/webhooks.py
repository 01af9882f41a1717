"""Webhook endpoints, their secrets and their delivery log."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import PageCursor, PageLimit, ResourcesDep, SessionDep, SettingsDep, require
from herald.db.models import WebhookDelivery, WebhookEndpoint
from herald.db.types import utcnow
from herald.errors import HeraldError
from herald.principal import Permission, Principal
from herald.repositories.webhooks import (
    attempts_of,
    get_delivery,
    get_endpoint,
    list_deliveries,
    list_endpoints,
)
from herald.schemas.webhooks import (
    DeliveryList,
    DeliveryOut,
    EndpointBody,
    EndpointCreated,
    EndpointList,
    EndpointOut,
    EndpointPatch,
    SecretOut,
)
from herald.services import webhooks
from herald.status import DeliveryState

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])

Manager = Annotated[Principal, Depends(require(Permission.WEBHOOKS_MANAGE))]


async def _endpoint(
    session: AsyncSession, principal: Principal, endpoint_id: uuid.UUID
) -> WebhookEndpoint:
    endpoint = await get_endpoint(session, principal.workspace_id, endpoint_id)
    if endpoint is None:
        raise HeraldError.not_found("webhook")
    return endpoint


async def _delivery_out(session: AsyncSession, delivery: WebhookDelivery) -> DeliveryOut:
    attempts = await attempts_of(session, [delivery.id])
    return DeliveryOut.of(delivery, attempts[delivery.id])


@router.get("", response_model=EndpointList, summary="List webhook endpoints")
async def list_(
    session: SessionDep, principal: Manager, cursor: PageCursor = None, limit: PageLimit = 50
) -> EndpointList:
    rows, next_cursor = await list_endpoints(session, principal.workspace_id, limit, cursor)
    now = utcnow()
    return EndpointList(data=[EndpointOut.of(e, now) for e in rows], next_cursor=next_cursor)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=EndpointCreated,
    summary="Subscribe a URL to events; the signing secret is in this answer only",
)
async def create(
    body: EndpointBody, session: SessionDep, resources: ResourcesDep, principal: Manager
) -> EndpointCreated:
    now = utcnow()
    endpoint, secret = await webhooks.create_endpoint(
        session, resources.settings, resources.cipher, principal, body, now
    )
    return EndpointCreated(**EndpointOut.of(endpoint, now).model_dump(), secret=secret)


@router.get("/{webhook_id}", response_model=EndpointOut, summary="Get a webhook endpoint")
async def get(webhook_id: uuid.UUID, session: SessionDep, principal: Manager) -> EndpointOut:
    return EndpointOut.of(await _endpoint(session, principal, webhook_id), utcnow())


@router.patch(
    "/{webhook_id}",
    response_model=EndpointOut,
    summary="Change the URL or the events, or switch the endpoint off and on (is_active)",
)
async def patch(
    webhook_id: uuid.UUID,
    body: EndpointPatch,
    session: SessionDep,
    settings: SettingsDep,
    principal: Manager,
) -> EndpointOut:
    endpoint = await _endpoint(session, principal, webhook_id)
    now = utcnow()
    await webhooks.update_endpoint(session, settings, principal, endpoint, body, now)
    return EndpointOut.of(endpoint, now)


@router.delete("/{webhook_id}", status_code=204, summary="Delete an endpoint and its delivery log")
async def delete(webhook_id: uuid.UUID, session: SessionDep, principal: Manager) -> Response:
    endpoint = await _endpoint(session, principal, webhook_id)
    await webhooks.delete_endpoint(session, principal, endpoint, utcnow())
    return Response(status_code=204)


@router.post(
    "/{webhook_id}/rotate-secret",
    response_model=SecretOut,
    summary="A new signing secret; the old one keeps signing beside it for 24 hours",
)
async def rotate_secret(
    webhook_id: uuid.UUID, session: SessionDep, resources: ResourcesDep, principal: Manager
) -> SecretOut:
    endpoint = await _endpoint(session, principal, webhook_id)
    secret = webhooks.rotate_secret(
        session, resources.settings, resources.cipher, principal, endpoint, utcnow()
    )
    assert endpoint.previous_secret_until is not None
    return SecretOut(secret=secret, previous_secret_expires_at=endpoint.previous_secret_until)


@router.post(
    "/{webhook_id}/test",
    response_model=DeliveryOut,
    summary="Send a webhook.test event now; the answer is that attempt's result",
)
async def test(
    webhook_id: uuid.UUID, session: SessionDep, resources: ResourcesDep, principal: Manager
) -> DeliveryOut:
    endpoint = await _endpoint(session, principal, webhook_id)
    delivery = await webhooks.send_test(
        session, principal, resources.webhook_http, resources.cipher, endpoint, utcnow()
    )
    return await _delivery_out(session, delivery)


@router.get(
    "/{webhook_id}/deliveries",
    response_model=DeliveryList,
    summary="The endpoint's deliveries, newest first, each with its attempts",
)
async def deliveries(
    webhook_id: uuid.UUID,
    session: SessionDep,
    principal: Manager,
    state: Annotated[DeliveryState | None, Query()] = None,
    cursor: PageCursor = None,
    limit: PageLimit = 50,
) -> DeliveryList:
    endpoint = await _endpoint(session, principal, webhook_id)
    rows, next_cursor = await list_deliveries(session, endpoint.id, limit, cursor, state)
    attempts = await attempts_of(session, [d.id for d in rows])
    return DeliveryList(
        data=[DeliveryOut.of(d, attempts[d.id]) for d in rows], next_cursor=next_cursor
    )


@router.post(
    "/{webhook_id}/deliveries/{delivery_id}/retry",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=DeliveryOut,
    summary="Send a delivered or failed delivery again (same webhook-id)",
)
async def retry(
    webhook_id: uuid.UUID, delivery_id: uuid.UUID, session: SessionDep, principal: Manager
) -> DeliveryOut:
    endpoint = await _endpoint(session, principal, webhook_id)
    delivery = await get_delivery(session, endpoint.id, delivery_id)
    if delivery is None:
        raise HeraldError.not_found("delivery")
    webhooks.requeue(session, principal, endpoint, delivery, utcnow())
    return await _delivery_out(session, delivery)
