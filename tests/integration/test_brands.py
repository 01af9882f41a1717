"""Brands over HTTP: made, listed, renamed and deleted in their own workspace only; a brand
still in use (a connected account, a post not yet published) is not deleted."""

from __future__ import annotations

import uuid

from herald.db.models import SocialAccount
from tests.support.stack import Stack


async def test_brands_are_made_renamed_and_deleted_once_nothing_uses_them(stack: Stack) -> None:
    tenant = await stack.new_tenant()
    other = await stack.new_tenant()
    brands = f"/v1/workspaces/{tenant.workspace_id}/brands"

    made = await stack.api.post(brands, json={"name": "Acme"}, headers=tenant.headers)
    assert made.status_code == 201, made.text
    brand = made.json()
    assert brand["name"] == "Acme" and brand["workspace_id"] == str(tenant.workspace_id)
    listed = (await stack.api.get(brands, headers=tenant.headers)).json()
    assert [b["id"] for b in listed["data"]] == [str(tenant.brand_id), brand["id"]]
    one = f"/v1/brands/{brand['id']}"
    renamed = await stack.api.patch(one, json={"name": "Acme Ltd"}, headers=tenant.headers)
    assert renamed.status_code == 200 and renamed.json()["name"] == "Acme Ltd"
    assert (await stack.api.get(one, headers=tenant.headers)).json()["name"] == "Acme Ltd"
    bad = await stack.api.post(brands, json={"name": ""}, headers=tenant.headers)
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "VALIDATION_ERROR"

    # Another workspace sees none of it.
    for response in (
        await stack.api.get(one, headers=other.headers),
        await stack.api.patch(one, json={"name": "mine"}, headers=other.headers),
        await stack.api.delete(one, headers=other.headers),
        await stack.api.get(brands, headers=other.headers),
    ):
        assert response.status_code == 404, response.text
        assert response.json()["error"]["code"] == "NOT_FOUND"

    # In use: a connected account, then a draft once the account is disconnected.
    account_id, _, _ = await stack.add_account(tenant)
    async with stack.resources.sessions() as session, session.begin():
        account = await session.get(SocialAccount, account_id)
        assert account is not None
        account.brand_id = uuid.UUID(brand["id"])
    refused = await stack.api.delete(one, headers=tenant.headers)
    assert refused.status_code == 409, refused.text
    assert "connected account" in refused.json()["error"]["message"]
    draft = await stack.api.post(
        "/v1/posts",
        json={
            "brand_id": brand["id"],
            "content": "soon",
            "draft": True,
            "targets": [{"account_id": str(account_id)}],
        },
        headers=tenant.headers,
    )
    assert draft.status_code == 201, draft.text
    disconnected = await stack.api.delete(f"/v1/accounts/{account_id}", headers=tenant.headers)
    assert disconnected.status_code == 204
    refused = await stack.api.delete(one, headers=tenant.headers)
    assert refused.status_code == 409, refused.text
    assert "not yet published" in refused.json()["error"]["message"]

    archived = await stack.api.post(
        f"/v1/posts/{draft.json()['id']}/archive", headers=tenant.headers
    )
    assert archived.status_code == 200, archived.text
    assert (await stack.api.delete(one, headers=tenant.headers)).status_code == 204
    assert (await stack.api.get(one, headers=tenant.headers)).status_code == 404
    assert (await stack.api.delete(one, headers=tenant.headers)).status_code == 404
    listed = (await stack.api.get(brands, headers=tenant.headers)).json()
    assert [b["id"] for b in listed["data"]] == [str(tenant.brand_id)]
    # The finished post still names it.
    post = (await stack.api.get(f"/v1/posts/{draft.json()['id']}", headers=tenant.headers)).json()
    assert post["brand_id"] == brand["id"] and post["status"] == "archived"
    # A deleted brand takes nothing new.
    upload = await stack.api.post(
        "/v1/media/uploads",
        json={"brand_id": brand["id"], "filename": "a.png", "mime_type": "image/png", "size": 10},
        headers=tenant.headers,
    )
    assert upload.status_code == 400, upload.text


async def test_a_workspaces_first_brands_page_by_cursor(stack: Stack) -> None:
    tenant = await stack.new_tenant()
    brands = f"/v1/workspaces/{tenant.workspace_id}/brands"
    for name in ("b1", "b2", "b3"):
        made = await stack.api.post(brands, json={"name": name}, headers=tenant.headers)
        assert made.status_code == 201
    first = (await stack.api.get(brands, params={"limit": 2}, headers=tenant.headers)).json()
    assert len(first["data"]) == 2 and first["next_cursor"]
    second = (
        await stack.api.get(
            brands, params={"limit": 2, "cursor": first["next_cursor"]}, headers=tenant.headers
        )
    ).json()
    names = [b["name"] for b in first["data"] + second["data"]]
    assert names == ["brand", "b1", "b2", "b3"] and second["next_cursor"] is None
