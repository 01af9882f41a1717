"""What operators and integrators see: search attributes in Temporal, event rows per change."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import select

from herald.db.models import Event
from tests.support.stack import Stack


async def test_failed_posts_are_found_by_search_attribute_and_events_are_written(
    stack: Stack,
) -> None:
    tenant = await stack.new_tenant()
    created = await stack.api.post(
        "/v1/posts",
        json={
            "content": "f" * 501,
            "publish_now": True,
            "targets": [{"account_id": str(tenant.accounts["mastodon"])}],
        },
        headers=tenant.headers,
    )
    post_id = created.json()["id"]
    assert (await stack.wait_for_post(tenant, post_id))["status"] == "failed"

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
