"""A batch's first attempts run in one activity, and still keep to the platform's concurrency:
the activity holds one slot of the platform's queue for all its targets, so the calls
themselves are bounded (settings platform_concurrency)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from temporalio.testing import ActivityEnvironment

from activities.publish import PublishActivities
from herald.payloads import PublishBatchInput, TargetRef
from herald.status import TargetStatus
from tests.support.stack import Stack

pytestmark = pytest.mark.sqlite_only  # the subject is the worker's calls, not the database

CALL_S = 0.5  # how long the platform takes over each status


async def test_a_batch_makes_no_more_calls_at_once_than_the_platform_allows(
    stack: Stack,
) -> None:
    tenant = await stack.new_tenant()
    accounts = [tenant.accounts["mastodon"]]
    usernames = [tenant.usernames["mastodon"]]
    for _ in range(2):
        account_id, username, _token = await stack.add_account(tenant, "mastodon")
        accounts.append(account_id)
        usernames.append(username)
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    created = await stack.api.post(
        "/v1/posts",
        json={
            "content": "three accounts, one at a time",
            "targets": [{"account_id": str(a)} for a in accounts],
            "scheduled_at": later,
        },
        headers=tenant.headers,
    )
    assert created.status_code == 201, created.text
    post = created.json()
    slow = {"platform": "mastodon", "path": "/api/v1/statuses", "method": "POST"}
    armed = await stack.emulator.post(
        "/_emulator/faults", json={**slow, "delay_s": CALL_S, "count": 3}
    )
    armed.raise_for_status()

    resources = stack.resources
    one_at_a_time = PublishActivities(
        resources.sessions,
        resources.adapters,
        resources.cipher,
        resources.storage,
        concurrency=lambda platform: 1,
    )
    attempts = await ActivityEnvironment().run(
        one_at_a_time.publish_targets,
        PublishBatchInput(
            post_id=post["id"],
            targets=[TargetRef(id=t["id"], platform="mastodon") for t in post["targets"]],
        ),
    )

    assert [a.outcome.status if a.outcome else a.error_message for a in attempts] == [
        TargetStatus.PUBLISHED
    ] * 3
    statuses = [s for u in usernames for s in await stack.emulator_posts("mastodon", u)]
    landed = sorted(datetime.fromisoformat(status["created_at"]) for status in statuses)
    assert len(landed) == 3
    # Side by side all three would land within moments of each other; one at a time, each
    # waits out the one before.
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(landed)]
    assert all(gap >= CALL_S * 0.9 for gap in gaps), gaps
