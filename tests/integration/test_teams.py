"""People, sessions and teams over HTTP: logging in, workspaces, invitations, roles that
limit what a member may do, API keys a workspace makes for itself."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from typing import Any

import jwt
import pytest
from sqlalchemy import select

from api.counters import Counters
from api.login_throttle import LoginThrottle
from herald.db.models import Event
from herald.passwords import hash_password, verify_password
from tests.support.people import PASSWORD, as_user, log_in, new_person
from tests.support.stack import Stack, Tenant


def _refused(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == code and error["message"], error
    assert error["request_id"] == response.headers["X-Request-Id"]
    return error


@pytest.fixture
async def tenant(stack: Stack) -> Tenant:
    return await stack.new_tenant()


async def test_a_team_works_within_its_roles(stack: Stack, tenant: Tenant) -> None:
    owner_email = await new_person(stack, tenant.workspace_id)
    owner = await log_in(stack, owner_email.upper())  # addresses are case-insensitive
    me = (await stack.api.get("/v1/auth/me", headers=as_user(owner))).json()
    assert me["user"]["email"] == owner_email
    assert [(w["id"], w["role"]["name"]) for w in me["workspaces"]] == [
        (str(tenant.workspace_id), "owner")
    ]
    ws = f"/v1/workspaces/{tenant.workspace_id}"
    roles = {
        r["name"]: r
        for r in (await stack.api.get(f"{ws}/roles", headers=as_user(owner))).json()["data"]
    }
    assert list(roles) == ["owner", "admin", "editor", "reviewer", "viewer"]
    assert "posts.approve" not in roles["editor"]["permissions"]

    members = {}
    for role in ("editor", "viewer"):
        email = f"{role}-{uuid.uuid4().hex[:8]}@example.com"
        invited = await stack.api.post(
            f"{ws}/users/invite",
            json={"email": email, "role_id": roles[role]["id"]},
            headers=as_user(owner),
        )
        assert invited.status_code == 201, invited.text
        token = invited.json()["token"]
        accepted = await stack.api.post(
            f"/v1/invitations/{token}/accept", json={"name": role, "password": PASSWORD}
        )
        assert accepted.status_code == 201, accepted.text
        again = await stack.api.post(
            f"/v1/invitations/{token}/accept", json={"name": role, "password": PASSWORD}
        )
        _refused(again, 404, "NOT_FOUND")  # single use
        members[role] = await log_in(stack, email)
    editor, viewer = members["editor"], members["viewer"]
    async with stack.resources.sessions() as session:
        invited_events = (
            (
                await session.execute(
                    select(Event.data).where(
                        Event.workspace_id == tenant.workspace_id,
                        Event.type == "invitation.created",
                    )
                )
            )
            .scalars()
            .all()
        )
    assert len(invited_events) == 2 and all("token" not in e for e in invited_events)

    # One workspace each: no header needed. Every route's permission holds through the role.
    draft = await stack.api.post(
        "/v1/posts",
        json={
            "content": "hi",
            "draft": True,
            "targets": [{"account_id": str(tenant.accounts["mastodon"])}],
        },
        headers=as_user(editor),
    )
    assert draft.status_code == 201, draft.text
    assert (await stack.api.get("/v1/posts", headers=as_user(viewer))).status_code == 200
    _refused(
        await stack.api.post(f"/v1/posts/{draft.json()['id']}/archive", headers=as_user(viewer)),
        403,
        "FORBIDDEN",
    )
    _refused(await stack.api.get("/v1/webhooks", headers=as_user(editor)), 403, "FORBIDDEN")
    _refused(
        await stack.api.post(
            f"{ws}/users/invite",
            json={"email": "x@example.com", "role_id": roles["owner"]["id"]},
            headers=as_user(editor),
        ),
        403,
        "FORBIDDEN",
    )
    _refused(
        await stack.api.patch(ws, json={"name": "mine"}, headers=as_user(editor)), 403, "FORBIDDEN"
    )
    listed = (await stack.api.get(f"{ws}/users", headers=as_user(viewer))).json()["data"]
    assert sorted(m["role_name"] for m in listed) == ["editor", "owner", "viewer"]

    # The last owner can be neither demoted nor removed; the viewer can be promoted, removed.
    owner_id = me["user"]["id"]
    _refused(
        await stack.api.patch(
            f"{ws}/users/{owner_id}", json={"role_id": roles["admin"]["id"]}, headers=as_user(owner)
        ),
        409,
        "CONFLICT",
    )
    _refused(
        await stack.api.delete(f"{ws}/users/{owner_id}", headers=as_user(owner)), 409, "CONFLICT"
    )
    viewer_id = viewer["user"]["id"]
    promoted = await stack.api.patch(
        f"{ws}/users/{viewer_id}", json={"role_id": roles["reviewer"]["id"]}, headers=as_user(owner)
    )
    assert promoted.json()["role_name"] == "reviewer"
    assert (
        await stack.api.delete(f"{ws}/users/{viewer_id}", headers=as_user(owner))
    ).status_code == 204
    _refused(await stack.api.get(ws, headers=as_user(viewer)), 404, "NOT_FOUND")

    # A second workspace: its maker owns it, and now must say which one a request is for.
    made = await stack.api.post("/v1/workspaces", json={"name": "second"}, headers=as_user(owner))
    assert made.status_code == 201, made.text
    second = made.json()["id"]
    _refused(await stack.api.get("/v1/posts", headers=as_user(owner)), 400, "VALIDATION_ERROR")
    assert (await stack.api.get("/v1/posts", headers=as_user(owner, second))).json()["data"] == []
    assert (
        len(
            (await stack.api.get("/v1/posts", headers=as_user(owner, tenant.workspace_id))).json()[
                "data"
            ]
        )
        == 1
    )
    # Another workspace's id answers 404, by path or by header, for users and API keys alike.
    _refused(
        await stack.api.get(f"/v1/workspaces/{second}/users", headers=as_user(editor)),
        404,
        "NOT_FOUND",
    )
    _refused(await stack.api.get("/v1/posts", headers=as_user(editor, second)), 404, "NOT_FOUND")
    _refused(
        await stack.api.get(f"/v1/workspaces/{second}", headers=tenant.headers), 404, "NOT_FOUND"
    )
    # API keys act in their own workspace only.
    _refused(
        await stack.api.post("/v1/workspaces", json={"name": "x"}, headers=tenant.headers),
        403,
        "FORBIDDEN",
    )


async def test_refresh_rotates_and_a_reused_token_ends_the_session(stack: Stack) -> None:
    email = await new_person(stack)
    first = await log_in(stack, email)
    rotated = await stack.api.post(
        "/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}
    )
    assert rotated.status_code == 200, rotated.text
    second = rotated.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert (await stack.api.get("/v1/auth/me", headers=as_user(second))).status_code == 200

    # The first token again: someone else holds this session. All of it ends.
    reused = await stack.api.post(
        "/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}
    )
    _refused(reused, 401, "UNAUTHORIZED")
    _refused(
        await stack.api.post("/v1/auth/refresh", json={"refresh_token": second["refresh_token"]}),
        401,
        "UNAUTHORIZED",
    )
    _refused(await stack.api.get("/v1/auth/me", headers=as_user(second)), 401, "UNAUTHORIZED")
    # Another login is another session, untouched.
    assert (
        await stack.api.get("/v1/auth/me", headers=as_user(await log_in(stack, email)))
    ).status_code == 200


async def test_logout_ends_the_session_at_once(stack: Stack) -> None:
    tokens = await log_in(stack, await new_person(stack))
    assert (await stack.api.post("/v1/auth/logout", headers=as_user(tokens))).status_code == 204
    _refused(await stack.api.get("/v1/auth/me", headers=as_user(tokens)), 401, "UNAUTHORIZED")
    _refused(
        await stack.api.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}),
        401,
        "UNAUTHORIZED",
    )


async def test_expired_and_tampered_access_tokens_are_refused(stack: Stack) -> None:
    tokens = await log_in(stack, await new_person(stack))
    token = tokens["access_token"]
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert header["alg"] == "HS256" and header["kid"].startswith("v1.")
    forged = {
        "bad signature": jwt.encode(
            claims, "not the key" * 4, algorithm="HS256", headers={"kid": header["kid"]}
        ),
        "alg none": jwt.encode(claims, None, algorithm="none", headers={"kid": header["kid"]}),
        "unknown kid": token.split(".", 1)[0][:-2] + "xx." + token.split(".", 1)[1],
        "another kid": jwt.encode(claims, "k" * 32, algorithm="HS256", headers={"kid": "v1.12"}),
        "garbage": "a.b.c",
    }
    for name, bad in forged.items():
        response = await stack.api.get("/v1/auth/me", headers={"Authorization": f"Bearer {bad}"})
        assert response.status_code == 401, (name, response.text)
        _refused(response, 401, "UNAUTHORIZED")

    clock = stack.resources.clock
    clock.offset = timedelta(minutes=15, seconds=1)
    try:
        error = _refused(
            await stack.api.get("/v1/auth/me", headers=as_user(tokens)), 401, "UNAUTHORIZED"
        )
        assert "expired" in error["message"]
    finally:
        clock.offset = timedelta(0)
    assert (await stack.api.get("/v1/auth/me", headers=as_user(tokens))).status_code == 200


async def test_login_answers_alike_and_is_throttled(stack: Stack) -> None:
    email = await new_person(stack)

    async def timed(address: str, password: str) -> tuple[float, dict[str, Any]]:
        started = time.perf_counter()
        response = await stack.api.post(
            "/v1/auth/login", json={"email": address, "password": password}
        )
        return time.perf_counter() - started, _refused(response, 401, "UNAUTHORIZED")

    wrong_password = await timed(email, "not it")
    nobody = [await timed(f"nobody-{uuid.uuid4().hex}@example.com", "not it") for _ in range(2)]
    assert wrong_password[1]["message"] == nobody[0][1]["message"]
    # An unknown address costs one argon2 verification too (a decoy's): never quicker than
    # one, however busy the machine (a busy machine only makes the login slower).
    stored = await hash_password("anything")
    one_check = []
    for _ in range(3):
        started = time.perf_counter()
        await verify_password(stored, "not it")
        one_check.append(time.perf_counter() - started)
    assert min(t for t, _ in nobody) > 0.6 * min(one_check)

    saved = stack.resources.login_throttle
    stack.resources.login_throttle = LoginThrottle("3/minute", "5/minute", Counters(None, "test"))
    try:
        for _ in range(3):
            await stack.api.post("/v1/auth/login", json={"email": email, "password": "no"})
        limited = await stack.api.post(
            "/v1/auth/login", json={"email": email, "password": PASSWORD}
        )
        _refused(limited, 429, "RATE_LIMITED")
        assert 1 <= int(limited.headers["Retry-After"]) <= 60
        other = await new_person(stack)
        assert (
            await stack.api.post("/v1/auth/login", json={"email": other, "password": PASSWORD})
        ).status_code == 200
        # Five from this address in the minute: every address after that waits too.
        _refused(
            await stack.api.post("/v1/auth/login", json={"email": other, "password": PASSWORD}),
            429,
            "RATE_LIMITED",
        )
    finally:
        stack.resources.login_throttle = saved


async def test_api_keys_are_shown_once_scoped_and_revoked_at_once(
    stack: Stack, tenant: Tenant
) -> None:
    owner = await log_in(stack, await new_person(stack, tenant.workspace_id))
    keys = f"/v1/workspaces/{tenant.workspace_id}/api-keys"
    made = await stack.api.post(
        keys, json={"name": "ci", "permissions": ["posts.create"]}, headers=as_user(owner)
    )
    assert made.status_code == 201, made.text
    secret = made.json()["key"]
    scoped = {"Authorization": f"Bearer {secret}"}
    draft = {
        "content": "hi",
        "draft": True,
        "targets": [{"account_id": str(tenant.accounts["mastodon"])}],
    }
    assert (await stack.api.post("/v1/posts", json=draft, headers=scoped)).status_code == 201
    assert (await stack.api.get("/v1/posts", headers=scoped)).status_code == 200
    _refused(await stack.api.get("/v1/webhooks", headers=scoped), 403, "FORBIDDEN")
    _refused(await stack.api.get(keys, headers=scoped), 403, "FORBIDDEN")

    await stack.resources.auth.usage.close()  # the coalesced last_used_at write has landed
    listed = (await stack.api.get(keys, headers=as_user(owner))).json()["data"]
    mine = next(k for k in listed if k["id"] == made.json()["id"])
    assert mine["prefix"] == secret[:10] and "key" not in mine and mine["last_used_at"]

    assert (
        await stack.api.delete(f"{keys}/{mine['id']}", headers=as_user(owner))
    ).status_code == 204
    _refused(await stack.api.get("/v1/posts", headers=scoped), 401, "UNAUTHORIZED")
    assert mine["id"] not in [
        k["id"] for k in (await stack.api.get(keys, headers=as_user(owner))).json()["data"]
    ]


async def test_members_are_listed_a_page_at_a_time_in_the_order_they_joined(
    stack: Stack, tenant: Tenant
) -> None:
    emails = [await new_person(stack, tenant.workspace_id) for _ in range(5)]
    me = as_user(await log_in(stack, emails[0]))
    users = f"/v1/workspaces/{tenant.workspace_id}/users"
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = await stack.api.get(users, params=params, headers=me)
        assert page.status_code == 200, page.text
        assert len(page.json()["data"]) <= 2
        seen += [m["email"] for m in page.json()["data"]]
        pages += 1
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == emails and pages == 3
    refused = await stack.api.get(users, params={"cursor": "not-ours"}, headers=me)
    assert refused.status_code == 400 and refused.json()["error"]["details"][0]["path"] == "cursor"
