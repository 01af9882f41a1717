"""The audit log over HTTP: each change names who made it (a user, an API key, Herald
itself), secrets never reach it, and it pages and filters like every list."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from herald.crypto import api_key_digest
from herald.db.models import ApiKey
from tests.support.people import PASSWORD, as_user, audit_events, log_in, new_person
from tests.support.stack import Stack, Tenant


async def _key_id(stack: Stack, tenant: Tenant) -> str:
    async with stack.resources.sessions() as session:
        key_id = await session.scalar(
            select(ApiKey.id).where(ApiKey.key_digest == api_key_digest(tenant.api_key))
        )
    return str(key_id)


def _one(events: list[dict[str, Any]], action: str) -> dict[str, Any]:
    found = [e for e in events if e["action"] == action]
    assert len(found) == 1, (action, [e["action"] for e in events])
    return found[0]


async def test_each_write_names_its_actor_and_no_secret_is_kept(stack: Stack) -> None:
    tenant = await stack.new_tenant()
    owner = await log_in(stack, await new_person(stack, tenant.workspace_id))
    me = as_user(owner)
    user_id = owner["user"]["id"]
    ws = f"/v1/workspaces/{tenant.workspace_id}"

    # An API key's write and a user's write.
    brand = await stack.api.post(f"{ws}/brands", json={"name": "Acme"}, headers=tenant.headers)
    assert brand.status_code == 201, brand.text
    renamed = await stack.api.patch(
        f"/v1/brands/{brand.json()['id']}", json={"name": "Acme Ltd"}, headers=me
    )
    assert renamed.status_code == 200, renamed.text

    # Writes whose requests or answers carry secrets.
    key = await stack.api.post(f"{ws}/api-keys", json={"name": "ci"}, headers=me)
    assert key.status_code == 201, key.text
    hook = await stack.api.post(
        "/v1/webhooks",
        json={"url": "http://127.0.0.1:9/herald", "events": ["post.published"]},
        headers=me,
    )
    assert hook.status_code == 201, hook.text
    rotated = await stack.api.post(f"/v1/webhooks/{hook.json()['id']}/rotate-secret", headers=me)
    assert rotated.status_code == 200, rotated.text
    viewer_role = next(
        r["id"]
        for r in (await stack.api.get(f"{ws}/roles", headers=me)).json()["data"]
        if r["name"] == "viewer"
    )
    invited = await stack.api.post(
        f"{ws}/users/invite",
        json={"email": f"v{uuid.uuid4().hex[:8]}@example.com", "role_id": viewer_role},
        headers=me,
    )
    assert invited.status_code == 201, invited.text
    new_password = "a different long secret password"
    accepted = await stack.api.post(
        f"/v1/invitations/{invited.json()['token']}/accept",
        json={"name": "Vi", "password": new_password},
    )
    assert accepted.status_code == 201, accepted.text
    made = await stack.emulator.post(
        "/_emulator/accounts",
        json={"platform": "mastodon", "username": f"t{uuid.uuid4().hex[:10]}"},
    )
    made.raise_for_status()
    platform_token = str(made.json()["token"])
    connected = await stack.api.post(
        "/v1/accounts",
        json={
            "brand_id": str(tenant.brand_id),
            "platform": "mastodon",
            "credentials": {
                "instance_url": f"{stack.emulator.base_url}/mastodon",
                "access_token": platform_token,
            },
        },
        headers=me,
    )
    assert connected.status_code == 201, connected.text

    events = await audit_events(stack, me)
    key_id = await _key_id(stack, tenant)
    created = _one(events, "brand.created")
    assert created["actor"] == {"type": "api_key", "id": key_id}
    assert created["resource_type"] == "brand" and created["resource_id"] == brand.json()["id"]
    assert created["metadata"] == {"name": "Acme"}
    updated = _one(events, "brand.updated")
    assert updated["actor"] == {"type": "user", "id": user_id}
    assert updated["metadata"] == {"name": "Acme Ltd"}
    assert _one(events, "api_key.created")["metadata"]["name"] == "ci"
    assert _one(events, "webhook.created")["resource_id"] == hook.json()["id"]
    assert _one(events, "webhook.secret_rotated")["actor"]["id"] == user_id
    assert _one(events, "invitation.created")["metadata"]["role_id"] == viewer_role
    joined = _one(events, "member.joined")
    assert joined["actor"] == {"type": "user", "id": accepted.json()["user"]["id"]}
    assert _one(events, "account.connected")["resource_id"] == connected.json()["id"]
    for event in events:
        assert set(event) == {
            "id",
            "action",
            "actor",
            "resource_type",
            "resource_id",
            "metadata",
            "created_at",
        }
        assert event["created_at"].endswith("Z")

    logged = json.dumps(events)
    secrets = {
        "API key": key.json()["key"],
        "API key of the tenant": tenant.api_key,
        "webhook secret": hook.json()["secret"],
        "rotated webhook secret": rotated.json()["secret"],
        "invitation token": invited.json()["token"],
        "password": new_password,
        "owner's password": PASSWORD,
        "access token": owner["access_token"],
        "refresh token": owner["refresh_token"],
        "platform token": platform_token,
    }
    for name, secret in secrets.items():
        assert secret not in logged, name
    for prefix in ("hk_", "whsec_", "hinv_", "hrt_"):
        assert prefix not in logged, prefix


async def test_the_log_filters_and_pages_and_needs_workspace_settings(stack: Stack) -> None:
    tenant = await stack.new_tenant()
    ws = f"/v1/workspaces/{tenant.workspace_id}"
    made = []
    for name in ("one", "two", "three"):
        response = await stack.api.post(f"{ws}/brands", json={"name": name}, headers=tenant.headers)
        assert response.status_code == 201
        made.append(response.json()["id"])
    await stack.api.patch(f"/v1/brands/{made[0]}", json={"name": "uno"}, headers=tenant.headers)

    every = await audit_events(stack, tenant.headers)
    assert [e["action"] for e in every] == ["brand.updated"] + ["brand.created"] * 3
    assert [e["resource_id"] for e in every] == [made[0], made[2], made[1], made[0]]
    # Pages of one, each item once, in the same order.
    paged, cursor = [], None
    while True:
        params = {"limit": "1", **({"cursor": cursor} if cursor else {})}
        page = (
            await stack.api.get("/v1/audit-events", params=params, headers=tenant.headers)
        ).json()
        paged += page["data"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [e["id"] for e in paged] == [e["id"] for e in every]

    first = await audit_events(stack, tenant.headers, resource_type="brand", resource_id=made[0])
    assert [e["action"] for e in first] == ["brand.updated", "brand.created"]
    key_id = await _key_id(stack, tenant)
    assert len(await audit_events(stack, tenant.headers, actor_id=key_id)) == 4
    assert await audit_events(stack, tenant.headers, actor_id=str(uuid.uuid4())) == []
    assert len(await audit_events(stack, tenant.headers, action="brand.created")) == 3
    assert await audit_events(stack, tenant.headers, resource_type="post") == []

    bad = await stack.api.get("/v1/audit-events", params={"cursor": "nope"}, headers=tenant.headers)
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "VALIDATION_ERROR"
    # Another workspace's log is its own.
    other = await stack.new_tenant()
    assert await audit_events(stack, other.headers) == []
    # Reading it needs workspace.settings.
    scoped = await stack.api.post(
        f"{ws}/api-keys",
        json={"name": "posts only", "permissions": ["posts.create"]},
        headers=tenant.headers,
    )
    assert scoped.status_code == 201, scoped.text
    refused = await stack.api.get(
        "/v1/audit-events", headers={"Authorization": f"Bearer {scoped.json()['key']}"}
    )
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "FORBIDDEN"


async def test_changes_workflows_make_name_who_asked_or_herald(stack: Stack) -> None:
    tenant = await stack.new_tenant()
    key_id = await _key_id(stack, tenant)
    account = str(tenant.accounts["mastodon"])
    later = (datetime.now(UTC) + timedelta(hours=2)).isoformat()

    # A cancel is written by the post's workflow, in the transaction of its change.
    post = await stack.api.post(
        "/v1/posts",
        json={"content": "later", "scheduled_at": later, "targets": [{"account_id": account}]},
        headers=tenant.headers,
    )
    assert post.status_code == 201, post.text
    cancelled = await stack.api.post(
        f"/v1/posts/{post.json()['id']}/cancel", headers=tenant.headers
    )
    assert cancelled.status_code == 200, cancelled.text
    trail = await audit_events(stack, tenant.headers, resource_id=post.json()["id"])
    assert [(e["action"], e["actor"]["id"]) for e in trail] == [
        ("post.cancelled", key_id),
        ("post.created", key_id),
    ]
    assert trail[0]["metadata"]["status"] == "cancelled"

    # An approval nobody answers in time expires: Herald did that.
    await stack.set_workspace(tenant, approval_required=True, approval_timeout_s=1)
    waiting = await stack.api.post(
        "/v1/posts",
        json={"content": "approve me", "scheduled_at": later, "targets": [{"account_id": account}]},
        headers=tenant.headers,
    )
    assert waiting.status_code == 201, waiting.text
    await stack.wait_for_post(tenant, waiting.json()["id"], frozenset({"rejected"}), 30.0)
    expired = _one(
        await audit_events(stack, tenant.headers, resource_id=waiting.json()["id"]),
        "approval.expired",
    )
    assert expired["actor"] == {"type": "system", "id": "approval-timeout"}
