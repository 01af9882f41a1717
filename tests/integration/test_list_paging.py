"""Every list endpoint pages with the same keyset cursor and refuses paging it cannot honour
(a limit outside 1 to 100, a cursor it never answered) with the contract's 400."""

from __future__ import annotations

from typing import Any

from tests.support.stack import Stack, Tenant

LISTS = ("/v1/accounts", "/v1/account-groups", "/v1/mirrors", "/v1/media", "/v1/posts")


async def _all_pages(stack: Stack, tenant: Tenant, path: str) -> list[str]:
    ids: list[str] = []
    params: dict[str, Any] = {"limit": 2}
    for _ in range(10):
        page = await stack.api.get(path, params=params, headers=tenant.headers)
        assert page.status_code == 200, page.text
        body = page.json()
        assert len(body["data"]) <= 2
        ids += [item["id"] for item in body["data"]]
        if body["next_cursor"] is None:
            return ids
        params["cursor"] = body["next_cursor"]
    raise AssertionError(f"{path} never ended")


async def test_every_list_pages_with_a_cursor(stack: Stack) -> None:
    tenant = await stack.new_tenant()
    accounts = [str(tenant.accounts["mastodon"])]
    accounts += [str((await stack.add_account(tenant))[0]) for _ in range(4)]
    groups, mirrors = [], []
    for index in range(3):
        group = await stack.api.post(
            "/v1/account-groups",
            json={"name": f"group {index}", "account_ids": accounts[:2]},
            headers=tenant.headers,
        )
        assert group.status_code == 201, group.text
        groups.append(group.json()["id"])
        mirror = await stack.api.post(
            "/v1/mirrors",
            json={
                "name": f"mirror {index}",
                "source_account_id": accounts[index],
                "target_account_ids": [accounts[4]],
            },
            headers=tenant.headers,
        )
        assert mirror.status_code == 201, mirror.text
        mirrors.append(mirror.json()["id"])
    # Oldest first, each once, across pages.
    assert await _all_pages(stack, tenant, "/v1/accounts") == accounts
    assert await _all_pages(stack, tenant, "/v1/account-groups") == groups
    assert await _all_pages(stack, tenant, "/v1/mirrors") == mirrors
    for mirror_id in mirrors:
        await stack.api.delete(f"/v1/mirrors/{mirror_id}", headers=tenant.headers)


async def test_bad_paging_is_a_400_on_every_list(stack: Stack) -> None:
    tenant = await stack.new_tenant()
    for path in LISTS:
        for params in ({"limit": -5}, {"limit": 0}, {"limit": 101}, {"cursor": "zzz"}):
            answered = await stack.api.get(path, params=params, headers=tenant.headers)
            assert answered.status_code == 400, (path, params, answered.text)
            assert answered.json()["error"]["code"] == "VALIDATION_ERROR", answered.text
