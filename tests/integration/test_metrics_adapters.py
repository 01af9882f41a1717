"""Every adapter's fetch_metrics and fetch_account_metrics against the emulator: a post
published through Herald, the emulator clock moved on, and the exact counters the platform's
documented fields carry by then, normalised, with a platform's unreported metrics None."""

from __future__ import annotations

import uuid

import pytest

from herald.db.models import SocialAccount
from tests.support.analytics import (
    PLATFORMS,
    advance_emulator,
    expected_followers,
    expected_post,
    publish_one,
)
from tests.support.stack import Stack

# These move the shared emulator's clock; the adapters, not the database, are the subject.
pytestmark = [pytest.mark.usefixtures("emulator_clock_restored"), pytest.mark.sqlite_only]

HOURS = 3


@pytest.mark.parametrize("platform", PLATFORMS)
async def test_post_and_account_metrics_grow_with_the_emulator_clock(
    stack: Stack, platform: str
) -> None:
    tenant = await stack.new_tenant((platform,))
    post = await publish_one(stack, tenant, platform, f"counted {uuid.uuid4().hex[:6]}")
    platform_post_id = post["targets"][0]["platform_post_id"]
    async with stack.resources.sessions() as session:
        account = await session.get(SocialAccount, tenant.accounts[platform])
        assert account is not None
        context = stack.cipher.context_of(account)
    adapter = stack.resources.adapters.get(platform)

    fresh = await adapter.fetch_metrics(context, platform_post_id)
    assert fresh.values == {**expected_post(platform, 0), "followers": None}

    await advance_emulator(stack, HOURS)
    grown = await adapter.fetch_metrics(context, platform_post_id)
    assert grown.values == {**expected_post(platform, HOURS), "followers": None}
    assert grown.raw and all(isinstance(v, int) for v in grown.raw.values())

    audience = await adapter.fetch_account_metrics(context)
    assert audience["followers"] == expected_followers(HOURS)
    assert all(audience[name] is None for name in expected_post(platform, 0))
