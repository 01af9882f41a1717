"""Every post endpoint of the contract, through the whole stack: happy paths and refusals."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from herald import temporal as names
from tests.support.stack import Stack, Tenant


def _in(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


def _body(tenant: Tenant, text: str = "hello", **timing: Any) -> dict[str, Any]:
    return {
        "content": text,
        "targets": [{"account_id": str(tenant.accounts["mastodon"])}],
        **(timing or {"publish_now": True}),
    }


async def _create(stack: Stack, tenant: Tenant, **kwargs: Any) -> dict[str, Any]:
    response = await stack.api.post(
        "/v1/posts", json=_body(tenant, **kwargs), headers=tenant.headers
    )
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def _code(response: Any) -> str:
    return str(response.json()["error"]["code"])


async def test_rescheduled_three_times_publishes_once_at_the_last_time(stack: Stack) -> None:
    tenant = await stack.new_tenant()
    post = await _create(stack, tenant, text="moved around", scheduled_at=_in(3600))
    last = None
    for seconds in (7200, 60, 3):
        last = (datetime.now(UTC) + timedelta(seconds=seconds)).replace(microsecond=0)
        response = await stack.api.post(
            f"/v1/posts/{post['id']}/schedule",
            json={"scheduled_at": last.isoformat()},
            headers=tenant.headers,
        )
        assert response.status_code == 200, response.text
        assert response.json()["scheduled_at"].startswith(last.isoformat()[:19])
        assert response.json()["status"] == "scheduled"
    assert response.json()["version"] == 4
    done = await stack.wait_for_post(tenant, post["id"])
    assert done["status"] == "published"
    [status] = await stack.emulator_posts("mastodon", tenant.usernames["mastodon"])
    published = datetime.fromisoformat(status["created_at"].replace("Z", "+00:00"))
    assert last is not None and last <= published < last + timedelta(seconds=2)


async def test_a_cancelled_post_never_publishes(stack: Stack) -> None:
    tenant = await stack.new_tenant()
    post = await _create(stack, tenant, scheduled_at=_in(2))
    response = await stack.api.post(f"/v1/posts/{post['id']}/cancel", headers=tenant.headers)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "cancelled"
    assert response.json()["targets"][0]["status"] == "cancelled"
    await asyncio.sleep(3)
    assert await stack.emulator_posts("mastodon", tenant.usernames["mastodon"]) == []
    again = await stack.api.post(f"/v1/posts/{post['id']}/cancel", headers=tenant.headers)
    assert again.status_code == 409 and _code(again) == "CONFLICT"
    moved = await stack.api.post(
        f"/v1/posts/{post['id']}/schedule", json={"scheduled_at": _in(60)}, headers=tenant.headers
    )
    assert moved.status_code == 409


async def test_publish_now_of_a_scheduled_post(stack: Stack) -> None:
    tenant = await stack.new_tenant()
    post = await _create(stack, tenant, scheduled_at=_in(3600))
    response = await stack.api.post(f"/v1/posts/{post['id']}/publish", headers=tenant.headers)
    assert response.status_code == 202, response.text
    assert response.json()["status"] in ("queued", "processing", "published")
    done = await stack.wait_for_post(tenant, post["id"])
    assert done["status"] == "published"


async def test_a_draft_is_scheduled_then_published(stack: Stack) -> None:
    tenant = await stack.new_tenant()
    draft = await _create(stack, tenant, draft=True)
    assert draft["status"] == "draft" and draft["targets"][0]["status"] == "pending"
    scheduled = await stack.api.post(
        f"/v1/posts/{draft['id']}/schedule", json={"scheduled_at": _in(1)}, headers=tenant.headers
    )
    assert scheduled.status_code == 200, scheduled.text
    assert scheduled.json()["status"] == "scheduled"
    done = await stack.wait_for_post(tenant, draft["id"])
    assert done["status"] == "published"


async def test_retry_republishes_only_the_failed_targets(stack: Stack) -> None:
    tenant = await stack.new_tenant()
    other = await stack.new_tenant()
    from herald.db.models import SocialAccount

    good_token = None
    async with stack.resources.sessions() as session, session.begin():
        account = await session.get(SocialAccount, other.accounts["mastodon"])
        assert account is not None
        good_token = stack.cipher.decrypt(account.credentials_encrypted)
        account.workspace_id, account.brand_id = tenant.workspace_id, tenant.brand_id
        account.credentials_encrypted = stack.cipher.encrypt({**good_token, "access_token": "bad"})
    body = {
        "content": "retry me",
        "publish_now": True,
        "targets": [
            {"account_id": str(tenant.accounts["mastodon"])},
            {"account_id": str(other.accounts["mastodon"])},
        ],
    }
    created = await stack.api.post("/v1/posts", json=body, headers=tenant.headers)
    post = await stack.wait_for_post(tenant, created.json()["id"])
    assert post["status"] == "partial"
    failed = next(t for t in post["targets"] if t["status"] == "failed")
    published = next(t for t in post["targets"] if t["status"] == "published")

    async with stack.resources.sessions() as session, session.begin():
        account = await session.get(SocialAccount, other.accounts["mastodon"])
        assert account is not None
        account.credentials_encrypted = stack.cipher.encrypt(good_token)
    response = await stack.api.post(
        f"/v1/posts/{post['id']}/retry",
        json={"target_ids": [failed["id"], published["id"]]},
        headers=tenant.headers,
    )
    assert response.status_code == 207, response.text
    results = {r["target_id"]: r for r in response.json()["results"]}
    assert results[failed["id"]]["status"] == "queued"
    assert results[published["id"]]["status"] == "skipped"
    assert results[published["id"]]["error"]["code"] == "CONFLICT"
    done = await stack.wait_for_post(tenant, post["id"])
    assert done["status"] == "published"
    assert len(await stack.emulator_posts("mastodon", tenant.usernames["mastodon"])) == 1
    assert len(await stack.emulator_posts("mastodon", other.usernames["mastodon"])) == 1
    nothing = await stack.api.post(f"/v1/posts/{post['id']}/retry", headers=tenant.headers)
    assert nothing.status_code == 409


async def test_fix_edits_a_failed_target_and_requeues_it(stack: Stack) -> None:
    tenant = await stack.new_tenant()
    await stack.server_refuses_next()
    post = await _create(stack, tenant, text="refused by the server")
    done = await stack.wait_for_post(tenant, post["id"])
    assert done["status"] == "failed"
    target = done["targets"][0]
    too_long = await stack.api.post(
        f"/v1/posts/{post['id']}/targets/{target['id']}/fix",
        json={"content": "y" * 501},
        headers=tenant.headers,
    )
    assert too_long.status_code == 400, too_long.text
    assert too_long.json()["error"]["details"][0]["path"] == "targets.0.content"
    unchanged = (await stack.api.get(f"/v1/posts/{post['id']}", headers=tenant.headers)).json()
    assert unchanged["status"] == "failed" and unchanged["targets"][0]["content"] is None
    fixed = await stack.api.post(
        f"/v1/posts/{post['id']}/targets/{target['id']}/fix",
        json={"content": "shorter"},
        headers=tenant.headers,
    )
    assert fixed.status_code == 202, fixed.text
    done = await stack.wait_for_post(tenant, post["id"])
    assert done["status"] == "published"
    assert done["targets"][0]["content"] == "shorter"
    [status] = await stack.emulator_posts("mastodon", tenant.usernames["mastodon"])
    assert status["text"] == "shorter"
    again = await stack.api.post(
        f"/v1/posts/{post['id']}/targets/{target['id']}/fix",
        json={"content": "x"},
        headers=tenant.headers,
    )
    assert again.status_code == 409
    missing = await stack.api.post(
        f"/v1/posts/{post['id']}/targets/{uuid.uuid4()}/fix", json={}, headers=tenant.headers
    )
    assert missing.status_code == 404


async def test_patch_with_versions(stack: Stack) -> None:
    tenant = await stack.new_tenant()
    post = await _create(stack, tenant, text="first", scheduled_at=_in(3600))
    url = f"/v1/posts/{post['id']}"
    edited = await stack.api.patch(
        url, json={"content": "second"}, headers={**tenant.headers, "If-Match": "1"}
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["content"] == "second" and edited.headers["ETag"] == "2"
    stale = await stack.api.patch(
        url, json={"content": "third"}, headers={**tenant.headers, "If-Match": "1"}
    )
    assert stale.status_code == 412 and _code(stale) == "PRECONDITION_FAILED"
    bad = await stack.api.patch(url, json={"content": 5}, headers=tenant.headers)
    assert bad.status_code == 400
    moved = await stack.api.patch(url, json={"scheduled_at": _in(1)}, headers=tenant.headers)
    assert moved.status_code == 200, moved.text
    done = await stack.wait_for_post(tenant, post["id"])
    assert done["status"] == "published"
    [status] = await stack.emulator_posts("mastodon", tenant.usernames["mastodon"])
    assert status["text"] == "second"
    late = await stack.api.patch(url, json={"content": "too late"}, headers=tenant.headers)
    assert late.status_code == 409


async def test_delete_follows_the_state_rules(stack: Stack) -> None:
    tenant = await stack.new_tenant()
    scheduled = await _create(stack, tenant, scheduled_at=_in(3600))
    refused = await stack.api.delete(f"/v1/posts/{scheduled['id']}", headers=tenant.headers)
    assert refused.status_code == 409
    draft = await _create(stack, tenant, draft=True)
    other = await stack.new_tenant()
    hidden = await stack.api.delete(f"/v1/posts/{draft['id']}", headers=other.headers)
    assert hidden.status_code == 404
    gone = await stack.api.delete(f"/v1/posts/{draft['id']}", headers=tenant.headers)
    assert gone.status_code == 204
    assert (
        await stack.api.get(f"/v1/posts/{draft['id']}", headers=tenant.headers)
    ).status_code == 404
    await stack.api.post(f"/v1/posts/{scheduled['id']}/cancel", headers=tenant.headers)


async def test_clone_duplicate_and_archive(stack: Stack) -> None:
    tenant = await stack.new_tenant()
    source = await _create(stack, tenant, text="original", scheduled_at=_in(3600))
    clone = await stack.api.post(f"/v1/posts/{source['id']}/clone", headers=tenant.headers)
    assert clone.status_code == 201
    assert clone.json()["status"] == "draft" and clone.json()["content"] == "original"
    assert clone.json()["id"] != source["id"]
    duplicate = await stack.api.post(f"/v1/posts/{source['id']}/duplicate", headers=tenant.headers)
    assert duplicate.status_code == 201
    assert duplicate.json()["status"] == "scheduled"
    at = datetime.fromisoformat(duplicate.json()["scheduled_at"].replace("Z", "+00:00"))
    assert timedelta(minutes=59) < at - datetime.now(UTC) <= timedelta(minutes=61)
    refused = await stack.api.post(f"/v1/posts/{source['id']}/archive", headers=tenant.headers)
    assert refused.status_code == 409
    archived = await stack.api.post(
        f"/v1/posts/{clone.json()['id']}/archive", headers=tenant.headers
    )
    assert archived.status_code == 200 and archived.json()["status"] == "archived"
    for post_id in (source["id"], duplicate.json()["id"]):
        await stack.api.post(f"/v1/posts/{post_id}/cancel", headers=tenant.headers)


async def test_list_filters_and_keyset_pages(stack: Stack) -> None:
    tenant = await stack.new_tenant()
    ids = [(await _create(stack, tenant, text=f"draft {i}", draft=True))["id"] for i in range(5)]
    tagged = await stack.api.post(
        "/v1/posts",
        json={**_body(tenant, draft=True), "external_id": "crm-7"},
        headers=tenant.headers,
    )
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, "status": "draft"}
        if cursor:
            params["cursor"] = cursor
        page = await stack.api.get("/v1/posts", params=params, headers=tenant.headers)
        assert page.status_code == 200, page.text
        seen += [p["id"] for p in page.json()["data"]]
        if cursor is None:
            # A post added while paging must not shift the pages.
            await _create(stack, tenant, text="late", draft=True)
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == [tagged.json()["id"], *reversed(ids)]
    by_external = await stack.api.get(
        "/v1/posts", params={"external_id": "crm-7"}, headers=tenant.headers
    )
    assert [p["id"] for p in by_external.json()["data"]] == [tagged.json()["id"]]
    by_account = await stack.api.get(
        "/v1/posts", params={"account_id": str(uuid.uuid4())}, headers=tenant.headers
    )
    assert by_account.json()["data"] == []
    other = await stack.new_tenant()
    assert (await stack.api.get("/v1/posts", headers=other.headers)).json()["data"] == []
    bad = await stack.api.get("/v1/posts", params={"cursor": "nonsense"}, headers=tenant.headers)
    assert bad.status_code == 400
    too_many = await stack.api.get("/v1/posts", params={"limit": 500}, headers=tenant.headers)
    assert too_many.status_code == 400


async def test_validate_reports_platform_limits_with_paths(stack: Stack) -> None:
    tenant = await stack.new_tenant()
    body = {
        "content": "z" * 501,
        "draft": True,
        "targets": [{"account_id": str(tenant.accounts["mastodon"])}],
    }
    response = await stack.api.post("/v1/posts/validate", json=body, headers=tenant.headers)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["valid"] is False
    [target] = result["targets"]
    assert target["platform"] == "mastodon"
    assert [(p["code"], p["path"]) for p in target["problems"]] == [("text_too_long", "content")]
    ok = await stack.api.post(
        "/v1/posts/validate", json={**body, "content": "short"}, headers=tenant.headers
    )
    assert ok.json()["valid"] is True
    stored = await _create(stack, tenant, text="z" * 501, draft=True)
    stored_result = await stack.api.get(
        f"/v1/posts/{stored['id']}/validation", headers=tenant.headers
    )
    assert stored_result.json()["valid"] is False


async def test_bulk_creates_each_item_on_its_own(stack: Stack) -> None:
    tenant = await stack.new_tenant()
    good = _body(tenant, "bulk one")
    items = [
        good,
        {**good, "content": ""},  # empty
        {"content": "no targets", "publish_now": True, "targets": []},
        {**good, "targets": [{"account_id": str(uuid.uuid4())}]},
        _body(tenant, "bulk two", draft=True),
    ]
    response = await stack.api.post("/v1/posts/bulk", json={"posts": items}, headers=tenant.headers)
    assert response.status_code == 207, response.text
    results = response.json()["results"]
    assert [r["status"] for r in results] == [201, 400, 400, 400, 201]
    assert results[3]["error"]["details"][0]["path"] == "targets.0.account_id"
    assert results[2]["error"]["code"] == "VALIDATION_ERROR"
    assert results[0]["post"]["origin"] == "bulk"
    done = await stack.wait_for_post(tenant, results[0]["post"]["id"])
    assert done["status"] == "published"
    listed = await stack.api.get("/v1/posts", headers=tenant.headers)
    assert len(listed.json()["data"]) == 2
    too_many = await stack.api.post(
        "/v1/posts/bulk", json={"posts": [good] * 101}, headers=tenant.headers
    )
    assert too_many.status_code == 400


async def test_batch_archive_and_cancel_skip_other_workspaces(stack: Stack) -> None:
    tenant = await stack.new_tenant()
    other = await stack.new_tenant()
    drafts = [(await _create(stack, tenant, draft=True))["id"] for _ in range(2)]
    foreign = (await _create(stack, other, draft=True))["id"]
    archived = await stack.api.patch(
        "/v1/posts/batch",
        json={"ids": [*drafts, foreign], "action": "archive"},
        headers=tenant.headers,
    )
    assert archived.status_code == 200, archived.text
    assert archived.json() == {"data": {"archived": 2}}
    still = await stack.api.get(f"/v1/posts/{foreign}", headers=other.headers)
    assert still.json()["status"] == "draft"
    scheduled = [(await _create(stack, tenant, scheduled_at=_in(3600)))["id"] for _ in range(3)]
    cancelled = await stack.api.patch(
        "/v1/posts/batch", json={"ids": scheduled, "action": "cancel"}, headers=tenant.headers
    )
    assert cancelled.json() == {"data": {"cancelled": 3}}
    for post_id in scheduled:
        post = await stack.api.get(f"/v1/posts/{post_id}", headers=tenant.headers)
        assert post.json()["status"] == "cancelled"
    bad = await stack.api.patch(
        "/v1/posts/batch", json={"ids": drafts, "action": "explode"}, headers=tenant.headers
    )
    assert bad.status_code == 400


async def test_unpublish_deletes_from_the_platform(stack: Stack) -> None:
    tenant = await stack.new_tenant()
    post = await _create(stack, tenant, text="here and gone")
    await stack.wait_for_post(tenant, post["id"])
    assert len(await stack.emulator_posts("mastodon", tenant.usernames["mastodon"])) == 1
    response = await stack.api.post(f"/v1/posts/{post['id']}/unpublish", headers=tenant.headers)
    assert response.status_code == 202, response.text
    for _ in range(100):
        current = (await stack.api.get(f"/v1/posts/{post['id']}", headers=tenant.headers)).json()
        if current["targets"][0]["status"] == "deleted":
            break
        await asyncio.sleep(0.1)
    assert current["targets"][0]["status"] == "deleted"
    assert current["status"] == "unpublished"
    assert await stack.emulator_posts("mastodon", tenant.usernames["mastodon"]) == []
    # Operators find it in the Temporal UI by the post's id, and see it is gone.
    client = await stack.resources.temporal.client()
    unpublishing = client.get_workflow_handle(f"unpublish/{post['id']}")
    await unpublishing.result()
    attributes = (await unpublishing.describe()).typed_search_attributes
    assert attributes.get(names.POST_ID) == post["id"]
    assert attributes.get(names.STATUS) == "unpublished"
    again = await stack.api.post(f"/v1/posts/{post['id']}/unpublish", headers=tenant.headers)
    assert again.status_code == 409
    draft = await _create(stack, tenant, draft=True)
    refused = await stack.api.post(f"/v1/posts/{draft['id']}/unpublish", headers=tenant.headers)
    assert refused.status_code == 409
