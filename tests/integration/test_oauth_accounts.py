"""OAuth connections for every OAuth platform Herald has an adapter for, against the emulator:
connect → consent → callback makes an active account; a state works once and expires; no token
or secret appears in an answer or a log line; a refused refresh marks the account expired and
its scheduled posts fail with that reason."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from emulator.oauth import CLIENT_SECRET as EMULATOR_CLIENT_SECRET
from herald.db.models import Event, OAuthState, SocialAccount
from herald.logs import quiet_libraries
from tests.integration.test_media import MediaClient
from tests.support.media_files import jpeg
from tests.support.oauth import OAUTH_PLATFORMS, callback, consent, new_platform_user
from tests.support.stack import Stack


def _secrets_of(stack: Stack, row: SocialAccount) -> list[str]:
    credentials = stack.cipher.decrypt(row.credentials_encrypted)
    values = [str(v) for k, v in credentials.items() if "token" in k or "secret" in k]
    return [v for v in values if len(v) >= 8] + [EMULATOR_CLIENT_SECRET]


@pytest.mark.parametrize("platform", OAUTH_PLATFORMS)
async def test_connect_callback_and_a_replayed_state(
    stack: Stack, platform: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    quiet_libraries()  # as every Herald process configures its logging
    tenant = await stack.new_tenant(())
    username = await new_platform_user(stack, platform)
    answers: list[httpx.Response] = []

    given = await consent(stack, tenant, platform, username)
    connected = await callback(stack, platform, given)
    answers.append(connected)
    assert connected.status_code == 200, connected.text
    account = connected.json()
    assert (account["platform"], account["status"]) == (platform, "active")
    assert account["username"]

    replayed = await callback(stack, platform, given)
    answers.append(replayed)
    assert replayed.status_code == 400, replayed.text
    assert replayed.json()["error"]["code"] == "VALIDATION_ERROR"
    assert "state" in replayed.json()["error"]["message"]

    answers.append(await stack.api.get("/v1/accounts", headers=tenant.headers))
    answers.append(
        await stack.api.post(f"/v1/accounts/{account['id']}/refresh", headers=tenant.headers)
    )
    assert answers[-1].status_code == 200, answers[-1].text
    async with stack.resources.sessions() as session:
        row = await session.get(SocialAccount, uuid.UUID(account["id"]))
        assert row is not None
        secrets = _secrets_of(stack, row)
        events = (await session.scalars(select(Event).where(Event.resource_id == row.id))).all()
    assert any(e.type == "account.connected" for e in events)
    assert len(secrets) >= 2, "an access token and the client secret at least"
    for secret in secrets:
        for answer in answers:
            assert secret not in answer.text, f"a secret in {answer.request.url}"
        assert secret not in caplog.text, "a secret in the logs"
        assert all(secret not in str(e.data) for e in events)


async def test_an_expired_or_unknown_state_is_refused(stack: Stack) -> None:
    platform = OAUTH_PLATFORMS[0]
    tenant = await stack.new_tenant(())
    username = await new_platform_user(stack, platform)
    given = await consent(stack, tenant, platform, username)
    async with stack.resources.sessions() as session, session.begin():
        await session.execute(
            update(OAuthState)
            .where(OAuthState.workspace_id == tenant.workspace_id)
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    expired = await callback(stack, platform, given)
    assert expired.status_code == 400, expired.text

    unknown = await stack.api.get(
        f"/v1/accounts/callback/{platform}", params={"code": "x", "state": "not-a-state"}
    )
    assert unknown.status_code == 400
    # A refusal by the user spends the state too.
    given = await consent(stack, tenant, platform, username)
    denied = await stack.api.get(
        f"/v1/accounts/callback/{platform}",
        params={"state": given.state, "error": "access_denied"},
    )
    assert denied.status_code == 400 and "access_denied" in denied.json()["error"]["message"]
    assert (await callback(stack, platform, given)).status_code == 400


async def test_connect_refusals(stack: Stack) -> None:
    tenant = await stack.new_tenant(())
    credential_platform = await stack.api.post(
        "/v1/accounts/connect/mastodon",
        json={"brand_id": str(tenant.brand_id)},
        headers=tenant.headers,
    )
    assert credential_platform.status_code == 400
    other_brand = await stack.api.post(
        f"/v1/accounts/connect/{OAUTH_PLATFORMS[0]}",
        json={"brand_id": str(uuid.uuid4())},
        headers=tenant.headers,
    )
    assert other_brand.status_code == 400
    no_key = await stack.api.post(
        f"/v1/accounts/connect/{OAUTH_PLATFORMS[0]}", json={"brand_id": str(tenant.brand_id)}
    )
    assert no_key.status_code == 401


async def test_reconnect_renews_the_same_account(stack: Stack) -> None:
    platform = OAUTH_PLATFORMS[0]
    tenant = await stack.new_tenant(())
    username = await new_platform_user(stack, platform)
    first = (
        await callback(stack, platform, await consent(stack, tenant, platform, username))
    ).json()

    again = await consent(
        stack, tenant, platform, username, path=f"/v1/accounts/{first['id']}/reconnect"
    )
    renewed = await callback(stack, platform, again)
    assert renewed.status_code == 200, renewed.text
    assert renewed.json()["id"] == first["id"]
    listed = await stack.api.get(
        "/v1/accounts", params={"platform": platform}, headers=tenant.headers
    )
    assert [a["id"] for a in listed.json()["data"]] == [first["id"]]

    someone_else = await new_platform_user(stack, platform)
    wrong = await consent(
        stack, tenant, platform, someone_else, path=f"/v1/accounts/{first['id']}/reconnect"
    )
    refused = await callback(stack, platform, wrong)
    assert refused.status_code == 400 and someone_else in refused.json()["error"]["message"]


@pytest.mark.parametrize("platform", OAUTH_PLATFORMS)
async def test_a_refused_refresh_expires_the_account_and_fails_its_scheduled_posts(
    stack: Stack, platform: str
) -> None:
    tenant = await stack.new_tenant(())
    username = await new_platform_user(stack, platform)
    account = (
        await callback(stack, platform, await consent(stack, tenant, platform, username))
    ).json()
    body = _scheduled_post(account["id"], platform, seconds=3)
    if platform in ("instagram", "tiktok"):  # they take no text-only posts
        photo = await MediaClient(stack.api, tenant, None).upload("a.jpg", "image/jpeg", jpeg())
        body["media_ids"] = [photo["id"]]
    if platform == "tiktok":
        body["targets"][0]["options"] = {"privacy_level": "SELF_ONLY"}
    post = await stack.api.post("/v1/posts", json=body, headers=tenant.headers)
    assert post.status_code == 201, post.text

    # The user revokes Herald's access on the platform: the next renewal is refused.
    revoked = await stack.emulator.post(f"/_emulator/accounts/{platform}/{username}/revoke")
    revoked.raise_for_status()
    refresh = await stack.api.post(f"/v1/accounts/{account['id']}/refresh", headers=tenant.headers)
    assert refresh.status_code == 409, refresh.text
    assert "reconnect" in refresh.json()["error"]["message"]
    listed = await stack.api.get(f"/v1/accounts?platform={platform}", headers=tenant.headers)
    assert [a["status"] for a in listed.json()["data"]] == ["expired"]
    async with stack.resources.sessions() as session:
        types = (
            await session.scalars(
                select(Event.type).where(Event.resource_id == uuid.UUID(account["id"]))
            )
        ).all()
    assert "account.expired" in types

    failed = await stack.wait_for_post(tenant, post.json()["id"], timeout_s=30)
    assert failed["status"] == "failed"
    [target] = failed["targets"]
    assert "expired" in target["error"]["message"]
    assert target["error"]["retryable"] is False
    assert await stack.emulator_posts(platform, username) == []


def _scheduled_post(account_id: str, platform: str, seconds: int) -> dict[str, Any]:
    at = (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()
    body: dict[str, Any] = {
        "content": f"scheduled for an account about to expire ({platform})",
        "targets": [{"account_id": account_id}],
        "scheduled_at": at,
    }
    return body
