"""A team's day over HTTP, from an empty account to an approved post: the owner logs in and
makes a workspace that needs approvals and a brand with an account; an editor, a reviewer and
a viewer are invited and join; the editor writes a post, which waits; the editor may not
approve it, the reviewer does; the viewer reads everything and changes nothing; and the audit
log tells each step with who took it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from api.counters import Counters
from api.login_throttle import LoginThrottle
from tests.support.people import PASSWORD, as_user, audit_events, log_in, new_person
from tests.support.stack import Stack
from tests.unit.test_openapi import ANY_USER

READ = "workspace.read"


async def _ok(response: Any, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_owner_editor_reviewer_and_viewer(stack: Stack) -> None:
    api = stack.api
    saved = stack.resources.login_throttle
    # Its own login throttle: the story's five logins never wait on other tests' attempts.
    stack.resources.login_throttle = LoginThrottle("5/minute", "30/minute", Counters(None, "story"))
    try:
        owner = await log_in(stack, await new_person(stack))
        boss = as_user(owner)
        space = await _ok(
            await api.post(
                "/v1/workspaces",
                json={"name": "Team", "settings": {"approval_required": True}},
                headers=boss,
            ),
            201,
        )
        ws = f"/v1/workspaces/{space['id']}"
        brand = await _ok(await api.post(f"{ws}/brands", json={"name": "Acme"}, headers=boss), 201)
        made = await stack.emulator.post(
            "/_emulator/accounts",
            json={"platform": "mastodon", "username": f"t{uuid.uuid4().hex[:10]}"},
        )
        made.raise_for_status()
        emulated = made.json()
        account = await _ok(
            await api.post(
                "/v1/accounts",
                json={
                    "brand_id": brand["id"],
                    "platform": "mastodon",
                    "credentials": {
                        "instance_url": f"{stack.emulator.base_url}/mastodon",
                        "access_token": emulated["token"],
                    },
                },
                headers=boss,
            ),
            201,
        )
        roles = {
            r["name"]: r["id"]
            for r in (await _ok(await api.get(f"{ws}/roles", headers=boss)))["data"]
        }
        team: dict[str, dict[str, Any]] = {}
        for role in ("editor", "reviewer", "viewer"):
            email = f"{role}-{uuid.uuid4().hex[:8]}@example.com"
            invited = await _ok(
                await api.post(
                    f"{ws}/users/invite",
                    json={"email": email, "role_id": roles[role]},
                    headers=boss,
                ),
                201,
            )
            await _ok(
                await api.post(
                    f"/v1/invitations/{invited['token']}/accept",
                    json={"name": role.title(), "password": PASSWORD},
                ),
                201,
            )
            team[role] = await log_in(stack, email)
    finally:
        stack.resources.login_throttle = saved
    editor, reviewer, viewer = (as_user(team[r]) for r in ("editor", "reviewer", "viewer"))

    # The editor writes; the workspace needs approval, so the post waits.
    at = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    post = await _ok(
        await api.post(
            "/v1/posts",
            json={
                "brand_id": brand["id"],
                "content": "Our launch, for review",
                "scheduled_at": at,
                "targets": [{"account_id": account["id"]}],
            },
            headers=editor,
        ),
        201,
    )
    assert post["status"] == "pending_approval"
    waiting = await _ok(
        await api.get("/v1/approvals", params={"status": "pending"}, headers=reviewer)
    )
    assert [a["id"] for a in waiting["data"]] == [post["id"]]

    refused = await api.post(f"/v1/approvals/{post['id']}/approve", headers=editor)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "FORBIDDEN"
    approved = await _ok(await api.post(f"/v1/approvals/{post['id']}/approve", headers=reviewer))
    assert approved["approval"]["status"] == "approved"
    assert approved["approval"]["decided_by"] == team["reviewer"]["user"]["id"]
    assert approved["status"] == "scheduled"

    # The viewer reads every list, and every write the API has answers 403 (the document's
    # own list of operations; reading-state such as marking notifications read is reading).
    for listing in (
        "/v1/posts",
        "/v1/accounts",
        f"{ws}/brands",
        f"{ws}/users",
        "/v1/media",
        "/v1/approvals",
    ):
        assert (await api.get(listing, headers=viewer)).status_code == 200, listing
    ids = {
        "workspace_id": space["id"],
        "brand_id": brand["id"],
        "account_id": account["id"],
        "post_id": post["id"],
        "approval_id": post["id"],
        "target_id": post["targets"][0]["id"],
        "user_id": team["editor"]["user"]["id"],
        "role_id": roles["editor"],
        "platform": "mastodon",
    }
    schema = (await api.get("/openapi.json")).json()
    writes = [
        (method, path, op.get("x-herald-permission"))
        for path, methods in schema["paths"].items()
        for method, op in methods.items()
        if method in ("post", "put", "patch", "delete") and "security" in op
    ]
    allowed = []
    for method, path, permission in writes:
        if (method, path) in ANY_USER or permission == READ:
            continue
        url = path
        for part in [p[1:-1] for p in path.split("/") if p.startswith("{")]:
            url = url.replace("{" + part + "}", ids.get(part, str(uuid.uuid4())))
        answer = await api.request(method.upper(), url, json={}, headers=viewer)
        if answer.status_code != 403:
            allowed.append(f"{method.upper()} {path}: {answer.status_code} {answer.text}")
    assert len(writes) > 50
    assert not allowed, "\n".join(allowed)
    still = await _ok(await api.get(f"/v1/posts/{post['id']}", headers=viewer))
    assert still["status"] == "scheduled" and still["version"] == approved["version"]

    # The log, newest first: each step, and who took it. The viewer did nothing.
    person = {who: ("user", team[who]["user"]["id"]) for who in team}
    person["owner"] = ("user", owner["user"]["id"])
    expected = [
        ("approval.approved", "reviewer", "post", post["id"]),
        ("post.created", "editor", "post", post["id"]),
        ("member.joined", "viewer", "member", team["viewer"]["user"]["id"]),
        ("invitation.created", "owner", "invitation", None),
        ("member.joined", "reviewer", "member", team["reviewer"]["user"]["id"]),
        ("invitation.created", "owner", "invitation", None),
        ("member.joined", "editor", "member", team["editor"]["user"]["id"]),
        ("invitation.created", "owner", "invitation", None),
        ("account.connected", "owner", "account", account["id"]),
        ("brand.created", "owner", "brand", brand["id"]),
        ("workspace.created", "owner", "workspace", space["id"]),
    ]
    log = await audit_events(stack, boss)
    told = [
        (e["action"], e["actor"]["type"], e["actor"]["id"], e["resource_type"], e["resource_id"])
        for e in log
    ]
    assert [t[:4] for t in told] == [
        (action, *person[who], kind) for action, who, kind, _ in expected
    ], told
    assert all(rid is None or t[4] == rid for t, (*_, rid) in zip(told, expected, strict=True))
    assert log[0]["metadata"]["status"] == "scheduled"
    # Reading the log is the owner's: the others may not.
    for other in (editor, reviewer, viewer):
        assert (await api.get("/v1/audit-events", headers=other)).status_code == 403
