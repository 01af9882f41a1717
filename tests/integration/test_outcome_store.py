"""Outcomes that arrive together are stored together (activities.outcomes.OutcomeStore): each
caller still gets its own target's answer and the post's status as its transaction left it, the
post's status event is written once, a gone target fails only its own caller, and a failure
never overwrites a published target."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from temporalio.exceptions import ApplicationError

from activities.outcomes import OutcomeStore
from herald.db.models import Event, Post
from herald.posts import transitions
from tests.support.stack import Stack, Tenant


async def _scheduled_post(stack: Stack, tenant: Tenant) -> dict[str, Any]:
    created = await stack.api.post(
        "/v1/posts",
        json={
            "content": f"stored together {uuid.uuid4().hex[:6]}",
            "targets": [{"account_id": str(a)} for a in tenant.accounts.values()],
            "scheduled_at": (datetime.now(UTC) + timedelta(days=1)).isoformat(),
        },
        headers=tenant.headers,
    )
    assert created.status_code == 201, created.text
    post: dict[str, Any] = created.json()
    return post


def _published(n: int) -> dict[str, Any]:
    return transitions.published_values(
        f"id-{n}", f"https://example.org/{n}", None, datetime.now(UTC)
    )


async def _events(stack: Stack, post_id: str) -> list[str]:
    async with stack.resources.sessions() as session:
        rows = await session.scalars(
            select(Event.type)
            .where(Event.resource_id == uuid.UUID(post_id))
            .order_by(Event.created_at)
        )
        return list(rows)


async def _event_data(stack: Stack, post_id: str, event_type: str) -> Any:
    async with stack.resources.sessions() as session:
        return await session.scalar(
            select(Event.data).where(
                Event.resource_id == uuid.UUID(post_id), Event.type == event_type
            )
        )


async def test_outcomes_arriving_together_share_a_transaction_and_answer_each_caller(
    stack: Stack,
) -> None:
    tenant = await stack.new_tenant(("mastodon", "bluesky", "x"))
    post = await _scheduled_post(stack, tenant)
    targets = [t["id"] for t in post["targets"]]
    outcomes = OutcomeStore(stack.resources.sessions)
    before = await _events(stack, post["id"])

    answers = await asyncio.gather(
        *(outcomes.store(t, _published(n), unless_published=False) for n, t in enumerate(targets)),
        outcomes.store(str(uuid.uuid4()), _published(9), unless_published=False),
        return_exceptions=True,
    )

    *stored, gone = answers
    assert isinstance(gone, ApplicationError) and gone.type == "Gone"
    assert [s.platform_post_id for s in stored] == ["id-0", "id-1", "id-2"]  # type: ignore[union-attr]
    assert all(s.status == "published" for s in stored)  # type: ignore[union-attr]
    # Stored together after the first: whoever was stored last saw every target published.
    assert stored[-1].post_status == "published"  # type: ignore[union-attr]
    assert await _events(stack, post["id"]) == [*before, "post.published"]
    async with stack.resources.sessions() as session:
        row = await session.get(Post, uuid.UUID(post["id"]))
        assert row is not None and row.status == "published"
        assert row.published_at is not None

    # The event carries the post as the API shows it.
    shown = await stack.api.get(f"/v1/posts/{post['id']}", headers=tenant.headers)
    assert await _event_data(stack, post["id"], "post.published") == shown.json()

    # A late failure of an attempt that lost the race leaves the published target as it is.
    again = await outcomes.store_failure(targets[0], "platform_unavailable", "late", True)
    assert again.status == "published" and again.platform_post_id == "id-0"
    assert await _events(stack, post["id"]) == [*before, "post.published"]


@pytest.mark.parametrize("failing", [1, 2])
async def test_a_failed_target_among_published_ones_makes_the_post_partial(
    stack: Stack, failing: int
) -> None:
    tenant = await stack.new_tenant(("mastodon", "bluesky", "x"))
    post = await _scheduled_post(stack, tenant)
    targets = [t["id"] for t in post["targets"]]
    outcomes = OutcomeStore(stack.resources.sessions)
    calls = [
        outcomes.store_failure(t, "rejected", "no", False)
        if n < failing
        else outcomes.store(t, _published(n), unless_published=False)
        for n, t in enumerate(targets)
    ]
    stored = await asyncio.gather(*calls)
    assert [s.status for s in stored] == ["failed"] * failing + ["published"] * (3 - failing)
    assert "partial" in {s.post_status for s in stored}  # the one stored last saw them all
    async with stack.resources.sessions() as session:
        row = await session.get(Post, uuid.UUID(post["id"]))
        assert row is not None and row.status == "partial"
    assert (await _events(stack, post["id"]))[-1] == "post.partial"
