"""Input that once reached a library unchecked and answered 500 (hardening finding 5 and the
time zone half of 8): every one is now the contract's 400, on both databases."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.support.stack import Stack

FAR_FUTURE = "9999-12-31T23:59:59-12:00"
FAR_PAST = "0001-01-01T00:00:00+14:00"
NOT_ZONES = ("A" * 300, "localtime", "Factory", "posix/Europe/Paris", "right/UTC", "../etc")


def _assert_400(answered: Any, path: str) -> None:
    assert answered.status_code == 400, answered.text
    error = answered.json()["error"]
    assert error["code"] == "VALIDATION_ERROR", answered.text
    assert any(path in d["path"] for d in error["details"]), answered.text


@pytest.mark.parametrize("when", [FAR_FUTURE, FAR_PAST, "2100-01-01T00:00:00Z"])
async def test_instants_out_of_range_are_refused_everywhere(stack: Stack, when: str) -> None:
    tenant = await stack.new_tenant()
    account = str(tenant.accounts["mastodon"])
    create = {"content": "x", "scheduled_at": when, "targets": [{"account_id": account}]}
    _assert_400(
        await stack.api.post("/v1/posts", json=create, headers=tenant.headers), "scheduled_at"
    )
    draft = await stack.new_draft(tenant, "edge")
    post = f"/v1/posts/{draft['id']}"
    for method, path, body in (
        ("POST", f"{post}/schedule", {"scheduled_at": when}),
        ("PATCH", post, {"scheduled_at": when}),
        ("POST", f"{post}/recurrence", {"freq": "daily", "time": "09:00", "until": when}),
        ("POST", f"{post}/recurrence", {"freq": "daily", "time": "09:00", "start_at": when}),
    ):
        answered = await stack.api.request(method, path, json=body, headers=tenant.headers)
        assert answered.status_code == 400, (path, answered.text)
    listed = await stack.api.get("/v1/posts", params={"from": when}, headers=tenant.headers)
    _assert_400(listed, "from")


@pytest.mark.parametrize("zone", NOT_ZONES)
async def test_only_iana_zone_names_are_time_zones(stack: Stack, zone: str) -> None:
    tenant = await stack.new_tenant()
    queue = await stack.api.put(
        f"/v1/accounts/{tenant.accounts['mastodon']}/queue",
        json={"timezone": zone, "slots": [{"weekday": 0, "time": "09:00"}]},
        headers=tenant.headers,
    )
    _assert_400(queue, "timezone")
    draft = await stack.new_draft(tenant, "edge")
    series = await stack.api.post(
        f"/v1/posts/{draft['id']}/recurrence",
        json={"freq": "daily", "time": "09:00", "timezone": zone},
        headers=tenant.headers,
    )
    _assert_400(series, "timezone")


async def test_validate_refuses_media_that_create_would_refuse(stack: Stack) -> None:
    tenant = await stack.new_tenant()
    body = {
        "content": "with a picture",
        "publish_now": True,
        "media_ids": [str(uuid.uuid4())],
        "targets": [{"account_id": str(tenant.accounts["mastodon"])}],
    }
    checked = await stack.api.post("/v1/posts/validate", json=body, headers=tenant.headers)
    _assert_400(checked, "media_ids.0")
    created = await stack.api.post("/v1/posts", json=body, headers=tenant.headers)
    _assert_400(created, "media_ids.0")


async def test_a_series_never_ends_before_it_starts(stack: Stack) -> None:
    tenant = await stack.new_tenant()
    draft = await stack.new_draft(tenant, "edge")
    path = f"/v1/posts/{draft['id']}/recurrence"
    body = {"freq": "daily", "time": "09:00", "start_at": "2031-01-10T00:00:00Z"}
    created = await stack.api.post(path, json=body, headers=tenant.headers)
    assert created.status_code == 201, created.text
    earlier = {"freq": "daily", "time": "09:00", "until": "2031-01-05T00:00:00Z"}
    _assert_400(await stack.api.patch(path, json=earlier, headers=tenant.headers), "until")
    await stack.api.delete(path, headers=tenant.headers)
