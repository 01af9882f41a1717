"""Plan limits (402 PLAN_LIMIT): a workspace's connected accounts, posts created this month and
members are capped by its own limits, or the deployment's defaults; going past one answers
402 naming the limit and what is used, and reading keeps working."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from herald.db.models import Post, Workspace
from herald.roles import EDITOR
from herald.services.plan_limits import month_start
from tests.support.stack import Stack, Tenant

BIN = Path(sys.executable).parent


def _over_plan(response: httpx.Response, limit: str, allowed: int, used: int) -> None:
    assert response.status_code == 402, response.text
    error = response.json()["error"]
    assert error["code"] == "PLAN_LIMIT" and error["request_id"].startswith("req_")
    assert error["details"] == [
        {"path": f"plan_limits.{limit}", "message": f"limit {allowed}, used {used}"}
    ]


async def _connect(stack: Stack, tenant: Tenant) -> httpx.Response:
    created = await stack.emulator.post(
        "/_emulator/accounts",
        json={"platform": "mastodon", "username": f"u{uuid.uuid4().hex[:8]}"},
    )
    return await stack.api.post(
        "/v1/accounts",
        json={
            "brand_id": str(tenant.brand_id),
            "platform": "mastodon",
            "credentials": {
                "instance_url": f"{stack.emulator.base_url}/mastodon",
                "access_token": created.json()["token"],
            },
        },
        headers=tenant.headers,
    )


async def test_connected_accounts(stack: Stack) -> None:
    tenant = await stack.new_tenant()  # one account
    await stack.set_workspace(tenant, plan_limits={"accounts": 2})
    assert (await _connect(stack, tenant)).status_code == 201
    _over_plan(await _connect(stack, tenant), "accounts", 2, 2)
    listed = await stack.api.get("/v1/accounts", headers=tenant.headers)
    assert listed.status_code == 200 and len(listed.json()["data"]) == 2
    # A disconnected account frees its place.
    account_id = listed.json()["data"][0]["id"]
    gone = await stack.api.delete(f"/v1/accounts/{account_id}", headers=tenant.headers)
    assert gone.status_code == 204, gone.text
    assert (await _connect(stack, tenant)).status_code == 201


async def test_posts_created_this_month(stack: Stack) -> None:
    tenant = await stack.new_tenant()
    await stack.set_workspace(tenant, plan_limits={"posts_per_month": 3})
    # A post of last month does not count.
    old = await stack.new_draft(tenant, "last month")
    async with stack.resources.sessions() as session, session.begin():
        workspace = await session.get(Workspace, tenant.workspace_id)
        post = await session.get(Post, uuid.UUID(old["id"]))
        assert workspace is not None and post is not None
        post.created_at = month_start(workspace, datetime.now(UTC)) - timedelta(seconds=1)
    first = await stack.new_draft(tenant)
    await stack.new_draft(tenant)
    target = [{"account_id": str(tenant.accounts["mastodon"])}]
    # The third is allowed in a bulk; the fourth is refused, item by item.
    bulk = await stack.api.post(
        "/v1/posts/bulk",
        json={
            "posts": [{"content": f"bulk {i}", "draft": True, "targets": target} for i in (1, 2)]
        },
        headers=tenant.headers,
    )
    assert bulk.status_code == 207, bulk.text
    assert [r["status"] for r in bulk.json()["results"]] == [201, 402]
    assert bulk.json()["results"][1]["error"]["code"] == "PLAN_LIMIT"
    refused = await stack.api.post(
        "/v1/posts",
        json={"content": "one too many", "draft": True, "targets": target},
        headers=tenant.headers,
    )
    _over_plan(refused, "posts_per_month", 3, 3)
    for action in ("clone", "duplicate"):
        copied = await stack.api.post(f"/v1/posts/{first['id']}/{action}", headers=tenant.headers)
        _over_plan(copied, "posts_per_month", 3, 3)
    # Reads and changes of what exists keep working.
    listed = await stack.api.get("/v1/posts", headers=tenant.headers)
    assert listed.status_code == 200 and len(listed.json()["data"]) == 4
    edited = await stack.api.patch(
        f"/v1/posts/{first['id']}", json={"content": "edited"}, headers=tenant.headers
    )
    assert edited.status_code == 200, edited.text


async def test_creates_racing_for_the_last_places_never_pass_the_limit(stack: Stack) -> None:
    tenant = await stack.new_tenant()
    await stack.set_workspace(tenant, plan_limits={"posts_per_month": 3})
    target = [{"account_id": str(tenant.accounts["mastodon"])}]
    answers = await asyncio.gather(
        *(
            stack.api.post(
                "/v1/posts",
                json={"content": f"racing {n}", "draft": True, "targets": target},
                headers=tenant.headers,
            )
            for n in range(10)
        )
    )
    assert sorted(a.status_code for a in answers) == [201] * 3 + [402] * 7, [
        a.text for a in answers
    ]
    listed = await stack.api.get("/v1/posts", headers=tenant.headers)
    assert len(listed.json()["data"]) == 3


async def test_members_and_invitations(stack: Stack) -> None:
    tenant = await stack.new_tenant()
    await stack.set_workspace(tenant, plan_limits={"members": 2})
    ws = f"/v1/workspaces/{tenant.workspace_id}"

    async def invite() -> httpx.Response:
        return await stack.api.post(
            f"{ws}/users/invite",
            json={"email": f"p{uuid.uuid4().hex[:8]}@example.com", "role_id": str(EDITOR.id)},
            headers=tenant.headers,
        )

    first, second = await invite(), await invite()
    assert first.status_code == second.status_code == 201
    _over_plan(await invite(), "members", 2, 2)  # open invitations hold their places
    joined = await stack.api.post(
        f"/v1/invitations/{first.json()['token']}/accept",
        json={"name": "First", "password": "long enough password"},
    )
    assert joined.status_code == 201, joined.text
    _over_plan(await invite(), "members", 2, 2)
    # The limit lowered after an invitation was made: accepting it is refused.
    await stack.set_workspace(tenant, plan_limits={"members": 1})
    late = await stack.api.post(
        f"/v1/invitations/{second.json()['token']}/accept",
        json={"name": "Second", "password": "long enough password"},
    )
    _over_plan(late, "members", 1, 1)
    members = await stack.api.get(f"{ws}/users", headers=tenant.headers)
    assert members.status_code == 200 and len(members.json()["data"]) == 1


async def test_defaults_from_settings_and_the_operator_sets_a_workspace_own(
    stack: Stack, tmp_path: Path
) -> None:
    tenant = await stack.new_tenant()
    stack.resources.plan = type(stack.resources.plan)(accounts=None, posts_per_month=1)
    try:
        await stack.new_draft(tenant)
        refused = await stack.api.post(
            "/v1/posts",
            json={
                "content": "x",
                "draft": True,
                "targets": [{"account_id": str(tenant.accounts["mastodon"])}],
            },
            headers=tenant.headers,
        )
        _over_plan(refused, "posts_per_month", 1, 1)
        # The operator lifts it for this workspace alone.
        env = {
            **os.environ,
            **stack.settings.as_environment("database_url", "secret_key", "data_dir"),
            "HERALD_PLAN_LIMIT_POSTS_PER_MONTH": "1",
        }
        made = await asyncio.to_thread(
            subprocess.run,
            [
                str(BIN / "herald"),
                "admin",
                "set-plan-limits",
                "--workspace",
                str(tenant.workspace_id),
                "--posts-per-month",
                "none",
                "--members",
                "5",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert made.returncode == 0, made.stderr
        printed: dict[str, Any] = json.loads(made.stdout.strip().splitlines()[-1])
        assert printed["plan_limits"] == {"accounts": None, "posts_per_month": None, "members": 5}
        await stack.new_draft(tenant)
    finally:
        stack.resources.plan = type(stack.resources.plan).of(stack.settings)
