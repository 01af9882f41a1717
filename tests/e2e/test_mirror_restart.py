"""A mirror from Bluesky to Mastodon and X, with the worker killed (SIGKILL) and started again
twice: existing content is backfilled, new source posts that pass the filters reach both
targets, filtered ones never do, and no source post is republished twice."""

from __future__ import annotations

import asyncio
import signal
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import start_worker
from tests.support.stack import Stack, Tenant

TARGET_PLATFORMS = ("mastodon", "x")


class BlueskyAuthor:
    """Writes posts on the emulated Bluesky PDS as one user, the way any client would."""

    def __init__(self, emulator: httpx.AsyncClient, username: str, app_password: str) -> None:
        self._emulator = emulator
        self._identifier = f"{username}.bsky.emulator"
        self._password = app_password
        self._session: dict[str, Any] | None = None

    async def post(self, text: str) -> None:
        if self._session is None:
            created = await self._emulator.post(
                "/bluesky/xrpc/com.atproto.server.createSession",
                json={"identifier": self._identifier, "password": self._password},
            )
            created.raise_for_status()
            self._session = created.json()
        record: dict[str, Any] = {
            "$type": "app.bsky.feed.post",
            "text": text,
            "createdAt": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "facets": _hashtag_facets(text),
        }
        response = await self._emulator.post(
            "/bluesky/xrpc/com.atproto.repo.createRecord",
            json={
                "repo": self._session["did"],
                "collection": "app.bsky.feed.post",
                "record": record,
            },
            headers={"Authorization": f"Bearer {self._session['accessJwt']}"},
        )
        response.raise_for_status()


def _hashtag_facets(text: str) -> list[dict[str, Any]]:
    facets = []
    data = text.encode()
    start = 0
    while (index := data.find(b"#", start)) >= 0:
        end = index + 1
        while end < len(data) and chr(data[end]).isalnum():
            end += 1
        tag = data[index + 1 : end].decode()
        facets.append(
            {
                "index": {"byteStart": index, "byteEnd": end},
                "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": tag}],
            }
        )
        start = end
    return facets


async def _texts(stack: Stack, tenant: Tenant, platform: str) -> list[str]:
    posts = await stack.emulator_posts(platform, tenant.usernames[platform])
    return sorted(p["text"] for p in posts)


async def _until_targets_show(stack: Stack, tenant: Tenant, wanted: list[str], log: Path) -> None:
    seen: dict[str, list[str]] = {}
    for _ in range(300):
        seen = {p: await _texts(stack, tenant, p) for p in TARGET_PLATFORMS}
        if all(texts == sorted(wanted) for texts in seen.values()):
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"targets show {seen}, wanted {wanted}\n{_tail(log)}")


def _tail(log: Path) -> str:
    return log.read_text()[-3000:]


def _kill(worker: subprocess.Popen[bytes]) -> None:
    worker.send_signal(signal.SIGKILL)
    worker.wait(10)


# On Postgres only: what a restart may break here is the mirror's unique key and the workflow's
# resumption, the same on both databases (the SIGKILL publish test runs on both), and each run
# costs half a minute of the suite's budget.
@pytest.mark.parametrize("crash_db", ["postgres"], indirect=True)
async def test_bluesky_mirror_survives_worker_restarts_without_duplicates(
    crash_stack: tuple[Stack, dict[str, str]], tmp_path: Path
) -> None:
    stack, env = crash_stack
    tenant = await stack.new_tenant(TARGET_PLATFORMS)
    source_id, source_name, source_password = await stack.add_account(tenant, "bluesky")
    author = BlueskyAuthor(stack.emulator, source_name, source_password)
    await author.post("old news #news")
    await author.post("old but skipped #skip")

    log = tmp_path / "worker.log"
    worker = start_worker(env, log)
    try:
        created = await stack.api.post(
            "/v1/mirrors",
            json={
                "name": "bluesky to mastodon and x",
                "source_account_id": str(source_id),
                "target_account_ids": [str(tenant.accounts[p]) for p in TARGET_PLATFORMS],
                "existing_content_enabled": True,
                "existing_content_config": {"limit": 10},
                "settings": {"content_filters": {"hashtags": {"exclude": ["skip"]}}},
            },
            headers=tenant.headers,
        )
        assert created.status_code == 201, created.text
        await _until_targets_show(stack, tenant, ["old news #news"], log)

        # Down while new posts appear: the restarted worker picks up from the stored cursor.
        _kill(worker)
        await author.post("while down #news")
        await author.post("filtered #skip")
        worker = start_worker(env, log)
        await _until_targets_show(stack, tenant, ["old news #news", "while down #news"], log)

        # Killed right after a new post, in the middle of polling and publishing it.
        await author.post("mid-flight #news")
        await asyncio.sleep(0.7)
        _kill(worker)
        worker = start_worker(env, log)
        everything = ["mid-flight #news", "old news #news", "while down #news"]
        await _until_targets_show(stack, tenant, everything, log)
        await asyncio.sleep(2)  # a few more polls: still nothing twice
        await _until_targets_show(stack, tenant, everything, log)
    finally:
        worker.terminate()
        worker.wait(30)

    mirror_posts = await stack.api.get(
        f"/v1/mirrors/{created.json()['id']}/posts", headers=tenant.headers
    )
    by_status: dict[str, int] = {}
    for item in mirror_posts.json()["data"]:
        by_status[item["derived_status"]] = by_status.get(item["derived_status"], 0) + 1
    assert by_status.get("filtered_out") == 2, mirror_posts.json()
    assert len(mirror_posts.json()["data"]) == 5
