"""CSV export through the API: 202 with an export id, the workflow writes the file to media
storage, the status answers a signed download URL, and the file parses with Python's csv
module to the same numbers the analytics endpoints answer."""

from __future__ import annotations

import asyncio
import csv
import io
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest

from herald.analytics.export_csv import COLUMNS
from herald.crypto import api_key_digest, new_api_key
from herald.db.models import ApiKey
from tests.integration.test_analytics_sync import sync
from tests.support.analytics import COUNTERS, advance_emulator, publish_one
from tests.support.stack import Stack, Tenant

# These move the shared emulator's clock.
pytestmark = pytest.mark.usefixtures("emulator_clock_restored")


def _z(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


async def _finished(stack: Stack, tenant: Tenant, export_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        answer = await stack.api.get(f"/v1/analytics/exports/{export_id}", headers=tenant.headers)
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        if body["status"] in ("done", "failed"):
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"export still {body['status']}")
        await asyncio.sleep(0.2)


async def _download(stack: Stack, url: str) -> bytes:
    parts = urlsplit(url)  # local storage: the API serves its own signed URLs
    answer = await stack.api.get(f"{parts.path}?{parts.query}")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv")
    return answer.content


def _number(cell: str) -> int | None:
    return int(cell) if cell else None


async def test_the_export_parses_to_the_numbers_the_api_answers(stack: Stack) -> None:
    tenant = await stack.new_tenant(("mastodon", "x"))
    posts = [
        await publish_one(stack, tenant, platform, f'exported, {platform} "quoted"')
        for platform in ("mastodon", "x", "x")
    ]
    await advance_emulator(stack, 2)
    for platform in ("mastodon", "x"):
        await sync(stack, tenant.accounts[platform])
    await advance_emulator(stack, 1)
    for platform in ("mastodon", "x"):
        await sync(stack, tenant.accounts[platform], backfill=True)

    now = datetime.now(UTC)
    started = await stack.api.post(
        "/v1/analytics/export",
        json={
            "brand_id": str(tenant.brand_id),
            "from": _z(now - timedelta(days=1)),
            "to": _z(now + timedelta(minutes=1)),
            "format": "csv",
        },
        headers=tenant.headers,
    )
    assert started.status_code == 202, started.text
    done = await _finished(stack, tenant, started.json()["export_id"])
    assert done["status"] == "done", done
    data = await _download(stack, done["download_url"])
    assert b"\r\n" in data and data.decode("utf-8")
    reader = csv.DictReader(io.StringIO(data.decode("utf-8"), newline=""))
    assert tuple(reader.fieldnames or ()) == COLUMNS
    rows = list(reader)
    assert len(rows) == done["rows"]

    post_rows = [r for r in rows if r["kind"] == "post"]
    assert {r["post_id"] for r in post_rows} == {p["id"] for p in posts}
    for post in posts:
        analytics = (
            await stack.api.get(f"/v1/analytics/posts/{post['id']}", headers=tenant.headers)
        ).json()
        [target] = analytics["targets"]
        for row in (r for r in post_rows if r["target_id"] == target["target_id"]):
            day = [s for s in target["series"] if s["sampled_at"][:10] == row["date"]]
            assert {n: _number(row[n]) for n in COUNTERS} == {n: day[-1][n] for n in COUNTERS}
            assert _number(row["engagement"]) == day[-1]["engagement"]
            assert row["platform_post_id"] == target["platform_post_id"]
    for platform in ("mastodon", "x"):
        account_id = str(tenant.accounts[platform])
        mine = [r for r in rows if r["kind"] == "account" and r["account_id"] == account_id]
        series = (
            await stack.api.get(f"/v1/analytics/accounts/{account_id}", headers=tenant.headers)
        ).json()
        assert _number(mine[-1]["followers"]) == series["followers"]
        assert mine[-1]["platform"] == platform


async def test_exports_need_analytics_export_and_stay_in_their_workspace(stack: Stack) -> None:
    tenant = await stack.new_tenant(("mastodon",))
    other = await stack.new_tenant(("mastodon",))
    key = new_api_key()
    async with stack.resources.sessions() as session, session.begin():
        session.add(
            ApiKey(
                workspace_id=tenant.workspace_id,
                name="viewer",
                key_digest=api_key_digest(key),
                key_prefix=key[:10],
                permissions=["analytics.view"],
            )
        )
    body = {
        "brand_id": str(tenant.brand_id),
        "from": "2026-01-01T00:00:00Z",
        "to": "2026-01-02T00:00:00Z",
        "format": "csv",
    }
    viewer = {"Authorization": f"Bearer {key}"}
    refused = await stack.api.post("/v1/analytics/export", json=body, headers=viewer)
    assert refused.status_code == 403, refused.text
    foreign = await stack.api.post("/v1/analytics/export", json=body, headers=other.headers)
    assert foreign.status_code == 400, foreign.text  # another workspace's brand: none here
    wrong = await stack.api.post(
        "/v1/analytics/export", json={**body, "format": "xlsx"}, headers=tenant.headers
    )
    assert wrong.status_code == 400, wrong.text
    started = await stack.api.post("/v1/analytics/export", json=body, headers=tenant.headers)
    assert started.status_code == 202
    export_id = started.json()["export_id"]
    empty = await _finished(stack, tenant, export_id)
    assert (empty["status"], empty["rows"]) == ("done", 0)
    header = (await _download(stack, empty["download_url"])).decode()
    assert header == ",".join(COLUMNS) + "\r\n"
    hidden = await stack.api.get(f"/v1/analytics/exports/{export_id}", headers=other.headers)
    assert hidden.status_code == 404
    missing = await stack.api.get(f"/v1/analytics/exports/{uuid.uuid4()}", headers=tenant.headers)
    assert missing.status_code == 404
