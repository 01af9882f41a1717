"""A post that is to publish is checked by each target's platform when it is made: what
`/v1/posts/validate` calls invalid answers 400 at create, edit, schedule and in a bulk item,
naming the target; a draft may be invalid and says so. Mastodon's limits are the instance's own."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.stack import Stack, Tenant

TOO_LONG = "a" * 501


def _body(tenant: Tenant, content: str, **extra: Any) -> dict[str, Any]:
    return {
        "content": content,
        "scheduled_at": "2099-01-01T09:00:00Z",
        "targets": [{"account_id": str(tenant.accounts["mastodon"])}],
        **extra,
    }


def _details(response: httpx.Response) -> list[dict[str, str]]:
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    details: list[dict[str, str]] = error["details"]
    return details


async def test_an_over_long_target_is_refused_at_create_and_kept_as_a_draft(stack: Stack) -> None:
    tenant = await stack.new_tenant(("mastodon", "bluesky"))
    body = {
        "content": "fine everywhere",
        "scheduled_at": "2099-01-01T09:00:00Z",
        "targets": [
            {"account_id": str(tenant.accounts["bluesky"])},
            {"account_id": str(tenant.accounts["mastodon"]), "content": TOO_LONG},
        ],
    }
    refused = await stack.api.post("/v1/posts", json=body, headers=tenant.headers)
    [detail] = _details(refused)
    assert detail["path"] == "targets.1.content"
    assert detail["message"] == "mastodon: 501 characters; this instance allows 500"
    listed = await stack.api.get("/v1/posts", headers=tenant.headers)
    assert listed.json()["data"] == []

    body.pop("scheduled_at")
    draft = await stack.api.post("/v1/posts", json={**body, "draft": True}, headers=tenant.headers)
    assert draft.status_code == 201, draft.text
    post_id = draft.json()["id"]
    validation = (
        await stack.api.get(f"/v1/posts/{post_id}/validation", headers=tenant.headers)
    ).json()
    assert validation["valid"] is False
    assert [p["path"] for t in validation["targets"] for p in t["problems"]] == [
        "targets.1.content"
    ]
    # Leaving the drafts is where the rules apply.
    scheduled = await stack.api.post(
        f"/v1/posts/{post_id}/schedule",
        json={"scheduled_at": "2099-01-01T09:00:00Z"},
        headers=tenant.headers,
    )
    assert _details(scheduled)[0]["path"] == "targets.1.content"
    still = await stack.api.get(f"/v1/posts/{post_id}", headers=tenant.headers)
    assert still.json()["status"] == "draft"


async def test_edits_bulk_items_and_unknown_options_are_checked_too(stack: Stack) -> None:
    tenant = await stack.new_tenant()
    created = await stack.api.post("/v1/posts", json=_body(tenant, "short"), headers=tenant.headers)
    assert created.status_code == 201, created.text
    post_id = created.json()["id"]
    edited = await stack.api.patch(
        f"/v1/posts/{post_id}", json={"content": TOO_LONG}, headers=tenant.headers
    )
    assert _details(edited)[0]["path"] == "targets.0.content"
    kept = (await stack.api.get(f"/v1/posts/{post_id}", headers=tenant.headers)).json()
    assert kept["content"] == "short"

    typo = _body(tenant, "hi")
    typo["targets"][0]["options"] = {"visibilty": "unlisted"}
    [unknown] = _details(await stack.api.post("/v1/posts", json=typo, headers=tenant.headers))
    assert unknown["path"] == "targets.0.options.visibilty"
    assert "visibility" in unknown["message"]  # it says which options there are

    bulk = await stack.api.post(
        "/v1/posts/bulk",
        json={"posts": [_body(tenant, "ok"), _body(tenant, TOO_LONG)]},
        headers=tenant.headers,
    )
    assert bulk.status_code == 207, bulk.text
    first, second = bulk.json()["results"]
    assert first["status"] == 201
    assert second["status"] == 400
    assert second["error"]["details"][0]["path"] == "targets.0.content"


async def test_the_instances_own_limit_is_the_limit(stack: Stack, large_instance_url: str) -> None:
    """600 characters: refused for an instance stating 500, published on one stating 1000."""
    text = "b" * 600
    tenant = await stack.new_tenant()
    _details(await stack.api.post("/v1/posts", json=_body(tenant, text), headers=tenant.headers))

    async with httpx.AsyncClient(base_url=large_instance_url, timeout=10) as large:
        account_id, username, _ = await stack.add_account(tenant, "mastodon", emulator=large)
        created = await stack.api.post(
            "/v1/posts",
            json={
                "content": text,
                "publish_now": True,
                "targets": [{"account_id": str(account_id)}],
            },
            headers=tenant.headers,
        )
        assert created.status_code == 201, created.text
        post = await stack.wait_for_post(tenant, created.json()["id"])
        assert post["status"] == "published", post
        statuses = await large.get(
            "/_emulator/posts", params={"platform": "mastodon", "account": username}
        )
        assert [s["text"] for s in statuses.json()["data"]] == [text]
        # The instance's limit is the limit there too: 1001 is refused at create.
        over = await stack.api.post(
            "/v1/posts",
            json={
                "content": "c" * 1001,
                "publish_now": True,
                "targets": [{"account_id": str(account_id)}],
            },
            headers=tenant.headers,
        )
        assert (
            _details(over)[0]["message"] == "mastodon: 1001 characters; this instance allows 1000"
        )
