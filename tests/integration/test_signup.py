"""HERALD_SIGNUP: who becomes a user through the API. `invite` (the default): invitees only;
`closed`: nobody (the operator's `herald admin create-user` alone), though users accept
invitations with their own token; `open`: anyone, with POST /v1/auth/signup."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from herald.roles import EDITOR
from tests.support.stack import Stack, Tenant

PASSWORD = "long enough password"


def _email() -> str:
    return f"s{uuid.uuid4().hex[:10]}@example.com"


async def _invitation(stack: Stack, tenant: Tenant, email: str) -> str:
    made = await stack.api.post(
        f"/v1/workspaces/{tenant.workspace_id}/users/invite",
        json={"email": email, "role_id": str(EDITOR.id)},
        headers=tenant.headers,
    )
    assert made.status_code == 201, made.text
    token: str = made.json()["token"]
    return token


async def _signup(stack: Stack, email: str) -> httpx.Response:
    return await stack.api.post(
        "/v1/auth/signup", json={"email": email, "name": "Newcomer", "password": PASSWORD}
    )


async def _accept(stack: Stack, token: str, **headers: str) -> httpx.Response:
    body: dict[str, Any] = {} if headers else {"name": "Invitee", "password": PASSWORD}
    return await stack.api.post(f"/v1/invitations/{token}/accept", json=body, headers=headers)


async def _login(stack: Stack, email: str) -> httpx.Response:
    return await stack.api.post("/v1/auth/login", json={"email": email, "password": PASSWORD})


def _forbidden(response: httpx.Response, mode: str) -> None:
    assert response.status_code == 403, response.text
    error = response.json()["error"]
    assert error["code"] == "FORBIDDEN" and f"HERALD_SIGNUP={mode}" in error["message"]


@pytest.fixture
def signup_mode(stack: Stack) -> Any:
    saved = stack.resources.settings

    def use(mode: str) -> None:
        stack.resources.settings = saved.model_copy(update={"signup": mode})

    yield use
    stack.resources.settings = saved


async def test_the_default_lets_invitees_in_and_nobody_else(stack: Stack) -> None:
    assert stack.settings.signup == "invite"
    tenant = await stack.new_tenant()
    _forbidden(await _signup(stack, _email()), "invite")
    email = _email()
    joined = await _accept(stack, await _invitation(stack, tenant, email))
    assert joined.status_code == 201, joined.text
    assert (await _login(stack, email)).status_code == 200


async def test_closed_makes_no_users(stack: Stack, signup_mode: Any) -> None:
    tenant = await stack.new_tenant()
    # A user from before (or from herald admin create-user) who is invited later.
    member_email = _email()
    other = await stack.new_tenant()
    assert (await _accept(stack, await _invitation(stack, other, member_email))).status_code == 201
    signup_mode("closed")
    _forbidden(await _signup(stack, _email()), "closed")
    newcomer = _email()
    _forbidden(await _accept(stack, await _invitation(stack, tenant, newcomer)), "closed")
    assert (await _login(stack, newcomer)).status_code == 401
    # ...but users join more workspaces with their own token.
    tokens = (await _login(stack, member_email)).json()
    joined = await _accept(
        stack,
        await _invitation(stack, tenant, member_email),
        Authorization=f"Bearer {tokens['access_token']}",
    )
    assert joined.status_code == 201, joined.text


async def test_open_lets_anyone_sign_up(stack: Stack, signup_mode: Any) -> None:
    signup_mode("open")
    email = _email()
    made = await _signup(stack, email)
    assert made.status_code == 201, made.text
    assert made.json()["email"] == email and "password" not in made.text
    again = await _signup(stack, email.upper())
    assert again.status_code == 409 and again.json()["error"]["code"] == "CONFLICT"
    tokens = (await _login(stack, email)).json()
    # A new user makes their own workspace and is its owner.
    created = await stack.api.post(
        "/v1/workspaces",
        json={"name": "Mine"},
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
    )
    assert created.status_code == 201, created.text
    short = await stack.api.post(
        "/v1/auth/signup", json={"email": _email(), "name": "x", "password": "short"}
    )
    assert short.status_code == 400
    # Invitations still make users.
    tenant = await stack.new_tenant()
    assert (await _accept(stack, await _invitation(stack, tenant, _email()))).status_code == 201
