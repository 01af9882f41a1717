"""The contract's conventions: error shape and codes, auth, tenancy, request ids, health."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.support.stack import Stack, Tenant


def _assert_error(response: Any, status: int, code: str, path: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]
    assert error["request_id"] == response.headers["X-Request-Id"]
    if path is not None:
        assert path in [d["path"] for d in error["details"]], error
    return error


def _post(tenant: Tenant, **fields: Any) -> dict[str, Any]:
    return {
        "content": "hello",
        "targets": [{"account_id": str(tenant.accounts["mastodon"])}],
        "publish_now": True,
        **fields,
    }


@pytest.fixture
async def tenant(stack: Stack) -> Tenant:
    return await stack.new_tenant()


async def test_malformed_json_is_a_validation_error(stack: Stack, tenant: Tenant) -> None:
    response = await stack.api.post(
        "/v1/posts",
        content=b'{"content": "oops",',
        headers={**tenant.headers, "Content-Type": "application/json"},
    )
    error = _assert_error(response, 400, "VALIDATION_ERROR")
    assert "malformed JSON" in error["message"]


async def test_wrong_types_are_400_never_422(stack: Stack, tenant: Tenant) -> None:
    body = _post(tenant, targets=[{"account_id": "not-a-uuid"}], publish_now="maybe")
    response = await stack.api.post("/v1/posts", json=body, headers=tenant.headers)
    error = _assert_error(response, 400, "VALIDATION_ERROR", "targets.0.account_id")
    assert "publish_now" in [d["path"] for d in error["details"]]


async def test_unknown_account_is_named_by_path(stack: Stack, tenant: Tenant) -> None:
    body = _post(tenant, targets=[{"account_id": str(uuid.uuid4())}])
    response = await stack.api.post("/v1/posts", json=body, headers=tenant.headers)
    _assert_error(response, 400, "VALIDATION_ERROR", "targets.0.account_id")


async def test_another_workspaces_account_is_unknown(stack: Stack, tenant: Tenant) -> None:
    other = await stack.new_tenant()
    body = _post(tenant, targets=[{"account_id": str(other.accounts["mastodon"])}])
    response = await stack.api.post("/v1/posts", json=body, headers=tenant.headers)
    _assert_error(response, 400, "VALIDATION_ERROR", "targets.0.account_id")


async def test_past_scheduled_at_is_refused(stack: Stack, tenant: Tenant) -> None:
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    body = _post(tenant, publish_now=False, scheduled_at=past)
    response = await stack.api.post("/v1/posts", json=body, headers=tenant.headers)
    _assert_error(response, 400, "VALIDATION_ERROR", "scheduled_at")


async def test_scheduled_at_without_offset_is_refused(stack: Stack, tenant: Tenant) -> None:
    body = _post(tenant, publish_now=False, scheduled_at="2030-01-01T10:00:00")
    response = await stack.api.post("/v1/posts", json=body, headers=tenant.headers)
    _assert_error(response, 400, "VALIDATION_ERROR", "scheduled_at")


async def test_offsets_are_normalised_to_utc(stack: Stack, tenant: Tenant) -> None:
    body = _post(tenant, publish_now=False, scheduled_at="2031-03-01T16:30:00+02:00")
    response = await stack.api.post("/v1/posts", json=body, headers=tenant.headers)
    assert response.status_code == 201, response.text
    assert response.json()["scheduled_at"] == "2031-03-01T14:30:00.000Z"
    assert response.headers["ETag"] == "1"


async def test_empty_content_without_media_is_refused(stack: Stack, tenant: Tenant) -> None:
    response = await stack.api.post(
        "/v1/posts", json=_post(tenant, content="  "), headers=tenant.headers
    )
    _assert_error(response, 400, "VALIDATION_ERROR", "content")


async def test_timing_must_be_given_once(stack: Stack, tenant: Tenant) -> None:
    response = await stack.api.post(
        "/v1/posts", json=_post(tenant, publish_now=False), headers=tenant.headers
    )
    _assert_error(response, 400, "VALIDATION_ERROR")
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    response = await stack.api.post(
        "/v1/posts", json=_post(tenant, scheduled_at=future), headers=tenant.headers
    )
    _assert_error(response, 400, "VALIDATION_ERROR")


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer hk_not-a-real-key"}, {"Authorization": "Basic abc"}],
    ids=["missing", "unknown", "wrong-scheme"],
)
async def test_requests_without_a_valid_key_are_unauthorized(
    stack: Stack, tenant: Tenant, headers: dict[str, str]
) -> None:
    response = await stack.api.post("/v1/posts", json=_post(tenant), headers=headers)
    _assert_error(response, 401, "UNAUTHORIZED")
    assert "WWW-Authenticate" in response.headers


async def test_a_raw_key_without_bearer_is_accepted(stack: Stack, tenant: Tenant) -> None:
    response = await stack.api.get("/v1/accounts", headers={"Authorization": tenant.api_key})
    assert response.status_code == 200
    assert [a["id"] for a in response.json()["data"]] == [str(tenant.accounts["mastodon"])]


async def test_accounts_never_show_credentials(stack: Stack, tenant: Tenant) -> None:
    response = await stack.api.get("/v1/accounts", headers=tenant.headers)
    [account] = response.json()["data"]
    assert set(account) == {
        "id",
        "brand_id",
        "platform",
        "username",
        "display_name",
        "avatar_url",
        "status",
        "token_expires_at",
        "rate_limited_until",
        "settings",
        "created_at",
    }
    assert "token" not in response.text.lower().replace("token_expires_at", "")


async def test_other_workspaces_posts_are_not_found(stack: Stack, tenant: Tenant) -> None:
    created = await stack.api.post("/v1/posts", json=_post(tenant), headers=tenant.headers)
    assert created.status_code == 201
    other = await stack.new_tenant()
    response = await stack.api.get(f"/v1/posts/{created.json()['id']}", headers=other.headers)
    _assert_error(response, 404, "NOT_FOUND")
    response = await stack.api.get(f"/v1/posts/{uuid.uuid4()}", headers=tenant.headers)
    _assert_error(response, 404, "NOT_FOUND")
    response = await stack.api.get("/v1/posts/not-a-uuid", headers=tenant.headers)
    _assert_error(response, 400, "VALIDATION_ERROR", "post_id")


async def test_unknown_routes_use_the_error_shape(stack: Stack, tenant: Tenant) -> None:
    _assert_error(await stack.api.get("/v1/nothing-here", headers=tenant.headers), 404, "NOT_FOUND")
    response = await stack.api.delete("/healthz")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "METHOD_NOT_ALLOWED"


async def test_request_ids_are_echoed_or_made(stack: Stack, tenant: Tenant) -> None:
    echoed = await stack.api.get("/healthz", headers={"X-Request-Id": "client-123"})
    assert echoed.headers["X-Request-Id"] == "client-123"
    made = await stack.api.get("/healthz")
    assert made.headers["X-Request-Id"].startswith("req_")
    failed = await stack.api.get("/v1/accounts", headers={"X-Request-Id": "abc-9"})
    assert failed.json()["error"]["request_id"] == "abc-9"


async def test_health_and_readiness(stack: Stack) -> None:
    assert (await stack.api.get("/healthz")).json() == {"status": "ok"}
    ready = await stack.api.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["database"] == "ok" and ready.json()["temporal"] == "ok"


async def test_openapi_documents_the_endpoints(stack: Stack) -> None:
    spec = (await stack.api.get("/openapi.json")).json()
    assert {"/v1/posts", "/v1/posts/{post_id}", "/v1/accounts", "/healthz", "/readyz"} <= set(
        spec["paths"]
    )
    assert (await stack.api.get("/docs")).status_code == 200
