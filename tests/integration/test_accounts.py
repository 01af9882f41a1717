"""Connecting, testing and disconnecting credential accounts; secrets never come back."""

from __future__ import annotations

from tests.support.stack import Stack


async def _emulated_user(stack: Stack) -> dict[str, str]:
    import uuid

    created = await stack.emulator.post(
        "/_emulator/accounts", json={"platform": "mastodon", "username": f"u{uuid.uuid4().hex[:8]}"}
    )
    result: dict[str, str] = created.json()
    return result


async def test_connect_post_and_disconnect_a_mastodon_account(stack: Stack) -> None:
    tenant = await stack.new_tenant(platforms=())
    user = await _emulated_user(stack)
    body = {
        "brand_id": str(tenant.brand_id),
        "platform": "mastodon",
        "credentials": {
            "instance_url": f"{stack.emulator.base_url}/mastodon",
            "access_token": user["token"],
        },
    }
    connected = await stack.api.post("/v1/accounts", json=body, headers=tenant.headers)
    assert connected.status_code == 201, connected.text
    account = connected.json()
    assert account["username"] == user["username"] and account["status"] == "active"
    assert user["token"] not in connected.text

    again = await stack.api.post("/v1/accounts", json=body, headers=tenant.headers)
    assert again.status_code == 409

    post = await stack.api.post(
        "/v1/posts",
        json={
            "content": "via API account",
            "publish_now": True,
            "targets": [{"account_id": account["id"]}],
        },
        headers=tenant.headers,
    )
    assert (await stack.wait_for_post(tenant, post.json()["id"]))["status"] == "published"
    assert len(await stack.emulator_posts("mastodon", user["username"])) == 1

    tested = await stack.api.post(f"/v1/accounts/{account['id']}/test", headers=tenant.headers)
    assert tested.status_code == 200 and tested.json()["status"] == "active"

    gone = await stack.api.delete(f"/v1/accounts/{account['id']}", headers=tenant.headers)
    assert gone.status_code == 204
    listed = await stack.api.get("/v1/accounts", headers=tenant.headers)
    assert [a["status"] for a in listed.json()["data"]] == ["revoked"]
    refused = await stack.api.post(
        "/v1/posts",
        json={"content": "x", "publish_now": True, "targets": [{"account_id": account["id"]}]},
        headers=tenant.headers,
    )
    assert refused.status_code == 400


async def test_bad_credentials_and_internal_hosts_are_refused(stack: Stack) -> None:
    tenant = await stack.new_tenant(platforms=())
    base = {"brand_id": str(tenant.brand_id), "platform": "mastodon"}
    wrong = await stack.api.post(
        "/v1/accounts",
        json={
            **base,
            "credentials": {
                "instance_url": f"{stack.emulator.base_url}/mastodon",
                "access_token": "nope",
            },
        },
        headers=tenant.headers,
    )
    assert wrong.status_code == 400 and wrong.json()["error"]["details"][0]["path"] == "credentials"
    internal = await stack.api.post(
        "/v1/accounts",
        json={**base, "credentials": {"instance_url": "http://10.0.0.5", "access_token": "x"}},
        headers=tenant.headers,
    )
    assert internal.status_code == 400
    assert internal.json()["error"]["details"][0]["path"] == "credentials.instance_url"
    missing = await stack.api.post(
        "/v1/accounts",
        json={**base, "credentials": {"instance_url": "https://example.org"}},
        headers=tenant.headers,
    )
    assert missing.status_code == 400
    assert missing.json()["error"]["details"][0]["path"] == "credentials.access_token"
    oauth = await stack.api.post(
        "/v1/accounts", json={**base, "platform": "x", "credentials": {}}, headers=tenant.headers
    )
    assert oauth.status_code == 400
