"""Approvals through the API: pending posts wait for a reviewer; the author may not decide."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from tests.support.stack import Stack


async def test_approval_flow(stack: Stack) -> None:
    tenant = await stack.new_tenant()
    reviewer = await stack.second_key(tenant)
    await stack.set_workspace(tenant, approval_required=True)
    account = str(tenant.accounts["mastodon"])
    at = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
    created = await stack.api.post(
        "/v1/posts",
        json={
            "content": "please approve",
            "scheduled_at": at,
            "targets": [{"account_id": account}],
        },
        headers=tenant.headers,
    )
    assert created.status_code == 201, created.text
    post = created.json()
    assert post["status"] == "pending_approval"
    assert post["approval"] == {"status": "pending", "decided_by": None, "reason": None}

    pending = await stack.api.get("/v1/approvals", params={"status": "pending"}, headers=reviewer)
    assert [a["id"] for a in pending.json()["data"]] == [post["id"]]

    own = await stack.api.post(f"/v1/approvals/{post['id']}/approve", headers=tenant.headers)
    assert own.status_code == 403

    await asyncio.sleep(1.5)  # past its time: the approval publishes it at once
    approved = await stack.api.post(f"/v1/approvals/{post['id']}/approve", headers=reviewer)
    assert approved.status_code == 200, approved.text
    assert approved.json()["approval"]["status"] == "approved"
    done = await stack.wait_for_post(tenant, post["id"])
    assert done["status"] == "published"
    again = await stack.api.post(f"/v1/approvals/{post['id']}/approve", headers=reviewer)
    assert again.status_code == 409

    second = await stack.api.post(
        "/v1/posts",
        json={"content": "off-brand", "publish_now": True, "targets": [{"account_id": account}]},
        headers=tenant.headers,
    )
    rejected = await stack.api.post(
        f"/v1/approvals/{second.json()['id']}/reject",
        json={"reason": "off-brand"},
        headers=reviewer,
    )
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["status"] == "rejected"
    assert rejected.json()["approval"]["reason"] == "off-brand"
    await asyncio.sleep(0.5)
    texts = [
        p["text"] for p in await stack.emulator_posts("mastodon", tenant.usernames["mastodon"])
    ]
    assert texts == ["please approve"]
    no_reason = await stack.api.post(
        f"/v1/approvals/{second.json()['id']}/reject", json={}, headers=reviewer
    )
    assert no_reason.status_code == 400


async def test_submitting_a_draft_requests_approval(stack: Stack) -> None:
    tenant = await stack.new_tenant()
    reviewer = await stack.second_key(tenant)
    draft = await stack.api.post(
        "/v1/posts",
        json={
            "content": "draft",
            "draft": True,
            "targets": [{"account_id": str(tenant.accounts["mastodon"])}],
        },
        headers=tenant.headers,
    )
    submitted = await stack.api.post(
        f"/v1/posts/{draft.json()['id']}/submit", headers=tenant.headers
    )
    assert submitted.status_code == 200, submitted.text
    assert submitted.json()["status"] == "pending_approval"
    again = await stack.api.post(f"/v1/posts/{draft.json()['id']}/submit", headers=tenant.headers)
    assert again.status_code == 409
    approved = await stack.api.post(f"/v1/approvals/{draft.json()['id']}/approve", headers=reviewer)
    assert approved.status_code == 200
    assert (await stack.wait_for_post(tenant, draft.json()["id"]))["status"] == "published"
