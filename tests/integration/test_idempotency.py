"""Idempotency-Key: replays, reuse with another body, concurrent duplicates, scoping."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from herald.db.types import utcnow
from herald.repositories import idempotency as records
from tests.support.stack import Stack, Tenant


def _body(tenant: Tenant, text: str) -> dict[str, Any]:
    return {
        "content": text,
        "publish_now": True,
        "targets": [{"account_id": str(tenant.accounts["mastodon"])}],
    }


async def test_a_replay_returns_the_stored_answer_and_creates_nothing(stack: Stack) -> None:
    tenant = await stack.new_tenant()
    headers = {**tenant.headers, "Idempotency-Key": "create-1"}
    first = await stack.api.post("/v1/posts", json=_body(tenant, "once"), headers=headers)
    assert first.status_code == 201 and "Idempotent-Replayed" not in first.headers
    second = await stack.api.post("/v1/posts", json=_body(tenant, "once"), headers=headers)
    assert second.status_code == 201
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.json() == first.json()
    assert second.headers["ETag"] == first.headers["ETag"]
    await stack.wait_for_post(tenant, first.json()["id"])
    listed = await stack.api.get("/v1/posts", headers=tenant.headers)
    assert len(listed.json()["data"]) == 1
    assert len(await stack.emulator_posts("mastodon", tenant.usernames["mastodon"])) == 1

    reused = await stack.api.post("/v1/posts", json=_body(tenant, "other"), headers=headers)
    assert reused.status_code == 422 and reused.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    elsewhere = await stack.api.post(f"/v1/posts/{first.json()['id']}/archive", headers=headers)
    assert elsewhere.status_code == 422


async def test_keys_are_per_workspace_and_validated(stack: Stack) -> None:
    tenant, other = await stack.new_tenant(), await stack.new_tenant()
    key = {"Idempotency-Key": "shared"}
    one = await stack.api.post(
        "/v1/posts", json=_body(tenant, "a"), headers={**tenant.headers, **key}
    )
    two = await stack.api.post(
        "/v1/posts", json=_body(other, "a"), headers={**other.headers, **key}
    )
    assert one.status_code == two.status_code == 201
    assert one.json()["id"] != two.json()["id"]
    for bad in ("", "x" * 256, "tab\there"):
        response = await stack.api.post(
            "/v1/posts", json=_body(tenant, "b"), headers={**tenant.headers, "Idempotency-Key": bad}
        )
        assert response.status_code == 400, bad
        assert response.json()["error"]["details"][0]["path"] == "Idempotency-Key"


async def test_errors_are_replayed_too(stack: Stack) -> None:
    tenant = await stack.new_tenant()
    past = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    body = {**_body(tenant, "late"), "publish_now": False, "scheduled_at": past}
    headers = {**tenant.headers, "Idempotency-Key": "past"}
    first = await stack.api.post("/v1/posts", json=body, headers=headers)
    second = await stack.api.post("/v1/posts", json=body, headers=headers)
    assert first.status_code == second.status_code == 400
    assert second.headers["Idempotent-Replayed"] == "true"


async def test_concurrent_identical_creates_make_one_post(stack: Stack) -> None:
    tenant = await stack.new_tenant()
    headers = {**tenant.headers, "Idempotency-Key": f"race-{uuid.uuid4()}"}
    answers = await asyncio.gather(
        *(
            stack.api.post("/v1/posts", json=_body(tenant, "race"), headers=headers)
            for _ in range(6)
        )
    )
    codes = sorted(a.status_code for a in answers)
    assert codes.count(201) >= 1 and set(codes) <= {201, 409}, codes
    created = {a.json()["id"] for a in answers if a.status_code == 201}
    assert len(created) == 1
    await stack.wait_for_post(tenant, created.pop())
    assert len(await stack.emulator_posts("mastodon", tenant.usernames["mastodon"])) == 1


async def test_in_flight_and_expired_records(stack: Stack) -> None:
    tenant = await stack.new_tenant()
    now = utcnow()
    async with stack.resources.sessions() as session, session.begin():
        await records.claim(
            session, tenant.workspace_id, "busy", "x", now, now + timedelta(hours=1)
        )
        await records.claim(
            session,
            tenant.workspace_id,
            "old",
            "x",
            now - timedelta(days=2),
            now - timedelta(days=1),
        )
    busy = await stack.api.post(
        "/v1/posts", json=_body(tenant, "b"), headers={**tenant.headers, "Idempotency-Key": "busy"}
    )
    assert busy.status_code == 409 and busy.json()["error"]["code"] == "CONFLICT"
    old = await stack.api.post(
        "/v1/posts", json=_body(tenant, "o"), headers={**tenant.headers, "Idempotency-Key": "old"}
    )
    assert old.status_code == 201
    async with stack.resources.sessions() as session, session.begin():
        removed = await records.delete_expired(session, utcnow() + timedelta(hours=2))
    assert removed >= 1


async def test_unknown_routes_and_openapi(stack: Stack) -> None:
    tenant = await stack.new_tenant()
    headers = {**tenant.headers, "Idempotency-Key": "nothing-here"}
    missing = await stack.api.delete(f"/v1/posts/{uuid.uuid4()}", headers=headers)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "NOT_FOUND"
    spec = (await stack.api.get("/openapi.json")).json()
    names = [p["name"] for p in spec["paths"]["/v1/posts"]["post"]["parameters"]]
    assert "Idempotency-Key" in names
