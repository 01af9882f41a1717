"""A post travels the whole stack: API → workflow → publish activity → Mastodon adapter →
emulator over HTTP → outcome in the database → GET /v1/posts/{id}. On SQLite and Postgres."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from tests.support.stack import Stack, Tenant


def _body(tenant: Tenant, text: str, **timing: Any) -> dict[str, Any]:
    return {
        "content": text,
        "targets": [{"account_id": str(tenant.accounts["mastodon"])}],
        **(timing or {"publish_now": True}),
    }


async def test_publish_now_reaches_mastodon_exactly_once(stack: Stack) -> None:
    tenant = await stack.new_tenant()
    created = await stack.api.post(
        "/v1/posts", json=_body(tenant, "Hello from Herald"), headers=tenant.headers
    )
    assert created.status_code == 201, created.text
    post = await stack.wait_for_post(tenant, created.json()["id"])

    assert post["status"] == "published"
    [target] = post["targets"]
    assert target["status"] == "published"
    assert target["attempts"] == 1
    assert target["error"] is None
    statuses = await stack.emulator_posts("mastodon", tenant.usernames["mastodon"])
    assert [s["text"] for s in statuses] == ["Hello from Herald"]
    assert target["platform_post_id"] == statuses[0]["id"]
    assert target["platform_post_url"].endswith(
        f"/@{tenant.usernames['mastodon']}/{statuses[0]['id']}"
    )
    assert post["published_at"] is not None


async def test_a_scheduled_post_waits_for_its_time(stack: Stack) -> None:
    tenant = await stack.new_tenant()
    at = (datetime.now(UTC) + timedelta(seconds=3)).replace(microsecond=0)
    created = await stack.api.post(
        "/v1/posts",
        json=_body(tenant, "Later", scheduled_at=at.isoformat()),
        headers=tenant.headers,
    )
    assert created.status_code == 201, created.text
    assert created.json()["status"] == "scheduled"
    assert created.json()["scheduled_at"] == at.isoformat(timespec="milliseconds").replace(
        "+00:00", "Z"
    )
    assert await stack.emulator_posts("mastodon", tenant.usernames["mastodon"]) == []

    post = await stack.wait_for_post(tenant, created.json()["id"])
    assert post["status"] == "published"
    [status] = await stack.emulator_posts("mastodon", tenant.usernames["mastodon"])
    published = datetime.fromisoformat(status["created_at"].replace("Z", "+00:00"))
    assert at <= published < at + timedelta(seconds=2)


async def test_transient_failures_are_retried_without_duplicates(stack: Stack) -> None:
    tenant = await stack.new_tenant()
    fault = {"platform": "mastodon", "status": 503, "count": 2, "path": "/api/v1/statuses"}
    assert (await stack.emulator.post("/_emulator/faults", json=fault)).status_code == 200
    try:
        created = await stack.api.post(
            "/v1/posts", json=_body(tenant, "Retry me"), headers=tenant.headers
        )
        post = await stack.wait_for_post(tenant, created.json()["id"])
    finally:
        await stack.emulator.delete("/_emulator/faults")
    assert post["status"] == "published"
    assert post["targets"][0]["attempts"] == 3
    assert len(await stack.emulator_posts("mastodon", tenant.usernames["mastodon"])) == 1


async def test_a_lost_response_does_not_post_twice(stack: Stack) -> None:
    """The platform stores the status but the answer never arrives: the retry finds it."""
    tenant = await stack.new_tenant()
    fault = {
        "platform": "mastodon",
        "status": 502,
        "count": 1,
        "path": "/api/v1/statuses",
        "method": "POST",
        "phase": "after",
    }
    assert (await stack.emulator.post("/_emulator/faults", json=fault)).status_code == 200
    try:
        created = await stack.api.post(
            "/v1/posts", json=_body(tenant, "Only once"), headers=tenant.headers
        )
        post = await stack.wait_for_post(tenant, created.json()["id"])
    finally:
        await stack.emulator.delete("/_emulator/faults")
    assert post["status"] == "published"
    statuses = await stack.emulator_posts("mastodon", tenant.usernames["mastodon"])
    assert [s["text"] for s in statuses] == ["Only once"]
    assert post["targets"][0]["platform_post_id"] == statuses[0]["id"]


async def test_a_rate_limit_is_waited_out(stack: Stack) -> None:
    tenant = await stack.new_tenant()
    fault = {
        "platform": "mastodon",
        "status": 429,
        "retry_after": 2,
        "count": 1,
        "path": "/api/v1/statuses",
    }
    assert (await stack.emulator.post("/_emulator/faults", json=fault)).status_code == 200
    try:
        created = await stack.api.post(
            "/v1/posts", json=_body(tenant, "Patience"), headers=tenant.headers
        )
        post_id = created.json()["id"]
        # While it waits, the target says when it is tried again: when the 429 said.
        for _ in range(100):
            waiting = (await stack.api.get(f"/v1/posts/{post_id}", headers=tenant.headers)).json()
            target = waiting["targets"][0]
            if target["next_attempt_at"] is not None or waiting["status"] == "published":
                break
            await asyncio.sleep(0.05)
        assert target["error"]["code"] == "rate_limited", waiting
        next_at = datetime.fromisoformat(target["next_attempt_at"])
        assert timedelta(0) < next_at - datetime.now(UTC) <= timedelta(seconds=2.5)
        post = await stack.wait_for_post(tenant, post_id)
    finally:
        await stack.emulator.delete("/_emulator/faults")
    assert post["status"] == "published"
    assert post["targets"][0]["attempts"] == 1  # waiting for the platform is not an attempt
    assert post["targets"][0]["next_attempt_at"] is None


async def _waiting_target(stack: Stack, tenant: Tenant, post_id: str) -> dict[str, Any]:
    for _ in range(200):
        post = (await stack.api.get(f"/v1/posts/{post_id}", headers=tenant.headers)).json()
        if post["targets"][0]["next_attempt_at"] is not None or post["status"] == "published":
            return cast(dict[str, Any], post["targets"][0])
        await asyncio.sleep(0.05)
    raise AssertionError(f"post {post_id} never waited: {post}")


async def _mastodon_account(stack: Stack, tenant: Tenant) -> dict[str, Any]:
    listed = await stack.api.get("/v1/accounts?platform=mastodon", headers=tenant.headers)
    [account] = listed.json()["data"]
    return cast(dict[str, Any], account)


async def test_a_named_rate_limit_holds_the_accounts_other_posts_without_calls(
    stack: Stack,
) -> None:
    tenant = await stack.new_tenant()
    fault = {
        "platform": "mastodon",
        "status": 429,
        "retry_after": 3,
        "count": 1,
        "path": "/api/v1/statuses",
    }
    assert (await stack.emulator.post("/_emulator/faults", json=fault)).status_code == 200
    await stack.emulator.delete("/_emulator/requests")
    try:
        first = await stack.api.post(
            "/v1/posts", json=_body(tenant, "Met the limit"), headers=tenant.headers
        )
        held = await _waiting_target(stack, tenant, first.json()["id"])
        assert held["error"]["code"] == "rate_limited", held
        second = await stack.api.post(
            "/v1/posts", json=_body(tenant, "Waits with it"), headers=tenant.headers
        )
        waiting = await _waiting_target(stack, tenant, second.json()["id"])
        # The second waits for the same reset, told why, without asking the platform first.
        assert waiting["error"]["code"] == "rate_limited", waiting
        assert abs(
            datetime.fromisoformat(waiting["next_attempt_at"])
            - datetime.fromisoformat(held["next_attempt_at"])
        ) < timedelta(seconds=0.5)
        assert (await _mastodon_account(stack, tenant))["rate_limited_until"] == (
            held["next_attempt_at"]
        )
        posts = [
            await stack.wait_for_post(tenant, created.json()["id"]) for created in (first, second)
        ]
    finally:
        await stack.emulator.delete("/_emulator/faults")
    assert [p["status"] for p in posts] == ["published", "published"]
    assert [p["targets"][0]["attempts"] for p in posts] == [1, 1]
    calls = await stack.emulator.get(
        "/_emulator/requests",
        params={"platform": "mastodon", "path": "/api/v1/statuses", "method": "POST"},
    )
    assert [c["status"] for c in calls.json()["data"]] == [429, 200, 200]
    assert (await _mastodon_account(stack, tenant))["rate_limited_until"] is None  # over


async def test_rejected_content_fails_at_once_with_the_platform_message(stack: Stack) -> None:
    """Content Herald's rules pass but the server refuses (it counts differently from what it
    states): a rejection with the server's own words, no retry."""
    tenant = await stack.new_tenant()
    await stack.server_refuses_next()
    created = await stack.api.post(
        "/v1/posts", json=_body(tenant, "x" * 480), headers=tenant.headers
    )
    post = await stack.wait_for_post(tenant, created.json()["id"])
    assert post["status"] == "failed"
    [target] = post["targets"]
    assert target["attempts"] == 1
    assert target["error"]["code"] == "rejected"
    assert target["error"]["retryable"] is False
    assert target["error"]["message"] == "Validation failed: Text character limit of 500 exceeded"


async def test_one_failed_target_makes_the_post_partial(stack: Stack) -> None:
    tenant = await stack.new_tenant()
    second = await stack.new_tenant()
    # Borrow a second Mastodon account into the first tenant's workspace by revoking its token.
    async with stack.resources.sessions() as session, session.begin():
        from herald.db.models import SocialAccount

        account = await session.get(SocialAccount, second.accounts["mastodon"])
        assert account is not None
        account.workspace_id, account.brand_id = tenant.workspace_id, tenant.brand_id
        account.credentials_encrypted = stack.cipher.encrypt(
            {"instance_url": f"{stack.emulator.base_url}/mastodon", "access_token": "revoked"}
        )
    created = await stack.api.post(
        "/v1/posts",
        json={
            "content": "Half and half",
            "publish_now": True,
            "targets": [
                {"account_id": str(tenant.accounts["mastodon"])},
                {"account_id": str(second.accounts["mastodon"])},
            ],
        },
        headers=tenant.headers,
    )
    post = await stack.wait_for_post(tenant, created.json()["id"])
    assert post["status"] == "partial"
    by_account = {t["account_id"]: t for t in post["targets"]}
    assert by_account[str(tenant.accounts["mastodon"])]["status"] == "published"
    failed = by_account[str(second.accounts["mastodon"])]
    assert failed["status"] == "failed"
    assert failed["error"]["code"] == "auth_expired"
