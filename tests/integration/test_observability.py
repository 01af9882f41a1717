"""What operators and integrators see: search attributes in Temporal, event rows per change."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import select
from temporalio.converter import default as default_converter

from herald.db.models import Event
from tests.support.stack import Stack, Tenant


async def _published_now(stack: Stack, tenant: Tenant, content: str, status: str) -> str:
    """A post to the tenant's Mastodon account with `publish_now`, once it ends in `status`."""
    created = await stack.api.post(
        "/v1/posts",
        json={
            "content": content,
            "publish_now": True,
            "targets": [{"account_id": str(tenant.accounts["mastodon"])}],
        },
        headers=tenant.headers,
    )
    post_id = str(created.json()["id"])
    assert (await stack.wait_for_post(tenant, post_id))["status"] == status
    return post_id


async def test_failed_posts_are_found_by_search_attribute_and_events_are_written(
    stack: Stack,
) -> None:
    tenant = await stack.new_tenant()
    await stack.server_refuses_next()
    post_id = await _published_now(stack, tenant, "refused by the server", "failed")

    client = await stack.resources.temporal.client()
    query = (
        f'HeraldStatus="failed" AND HeraldWorkspaceId="{tenant.workspace_id}" '
        f'AND HeraldPlatforms="mastodon"'
    )
    found: list[str] = []
    for _ in range(50):  # visibility is eventually consistent
        found = [w.id async for w in client.list_workflows(query)]
        if found:
            break
        await asyncio.sleep(0.2)
    assert found == [f"post/{post_id}"]

    async with stack.resources.sessions() as session:
        rows = await session.execute(
            select(Event.type)
            .where(Event.resource_id == uuid.UUID(post_id))
            .order_by(Event.created_at)
        )
        assert list(rows.scalars()) == ["post.created", "post.failed"]


async def test_a_post_published_now_shows_processing_from_its_start(stack: Stack) -> None:
    """Its workflow starts with HeraldStatus "processing" (publishing begins in its first
    activity), so the only upsert it needs is the final status."""
    tenant = await stack.new_tenant()
    post_id = await _published_now(stack, tenant, "processing from the start", "published")

    client = await stack.resources.temporal.client()
    handle = client.get_workflow_handle(f"post/{post_id}")
    # The post reads published once its outcome is stored; the run upserts its final status
    # a step later.
    await handle.result()
    history = await handle.fetch_history()
    converter = default_converter().payload_converter
    started = history.events[0].workflow_execution_started_event_attributes
    status_at_start = started.search_attributes.indexed_fields["HeraldStatus"]
    assert converter.from_payload(status_at_start) == "processing"
    upserted = [
        converter.from_payload(
            e.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields[
                "HeraldStatus"
            ]
        )
        for e in history.events
        if e.HasField("upsert_workflow_search_attributes_event_attributes")
    ]
    assert upserted == ["published"]
