"""A mirror from Bluesky to Mastodon and X, with the worker killed (SIGKILL) and started again
three times: existing content is backfilled, new source posts that pass the filters reach both
targets, filtered ones never do, no source post is republished twice, and a picture whose
import the kill interrupts still arrives, once, byte for byte."""

from __future__ import annotations

import asyncio
import signal
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from tests.e2e.conftest import start_worker
from tests.support.bluesky_author import BlueskyAuthor
from tests.support.media_files import png
from tests.support.stack import Stack, Tenant

TARGET_PLATFORMS = ("mastodon", "x")


async def _texts(stack: Stack, tenant: Tenant, platform: str) -> list[str]:
    posts = await stack.emulator_posts(platform, tenant.usernames[platform])
    return sorted(p["text"] for p in posts)


async def _until_targets_show(
    stack: Stack, tenant: Tenant, wanted: list[str], log: Path, timeout_s: float = 60.0
) -> None:
    seen: dict[str, list[str]] = {}
    for _ in range(int(timeout_s / 0.2)):
        seen = {p: await _texts(stack, tenant, p) for p in TARGET_PLATFORMS}
        if all(texts == sorted(wanted) for texts in seen.values()):
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"targets show {seen}, wanted {wanted}\n{_tail(log)}")


async def _until_blob_fetched(stack: Stack, did: str, log: Path) -> None:
    """Until an import asked the PDS for one of the account's blobs."""
    for _ in range(150):
        if await _blob_fetches(stack, did):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"no import began\n{_tail(log)}")


async def _blob_fetches(stack: Stack, did: str) -> list[dict[str, Any]]:
    found = await stack.emulator.get(
        "/_emulator/requests", params={"platform": "bluesky", "path": "sync.getBlob"}
    )
    return [r for r in found.json()["data"] if did in unquote(r["query"])]


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

        # Killed while the PDS is slow to serve a picture's blob, mid-import: the next worker
        # imports it again (its heartbeats stopped) and makes the copy once.
        slow = {"platform": "bluesky", "path": "sync.getBlob", "delay_s": 5, "count": 1}
        assert (await stack.emulator.post("/_emulator/faults", json=slow)).status_code == 200
        picture = png(36, 24, (20, 160, 60))
        await author.post("a picture #news", [(picture, "image/png", "a green field")])
        source_did = author.did
        await _until_blob_fetched(stack, source_did, log)  # and kept waiting 5 s
        _kill(worker)
        worker = start_worker(env, log)
        everything = ["a picture #news", *everything]
        await _until_targets_show(stack, tenant, everything, log, timeout_s=40)
        # Fetched twice: the kill did interrupt the import.
        assert len(await _blob_fetches(stack, source_did)) == 2
        await asyncio.sleep(2)  # a few more polls: still nothing twice
        await _until_targets_show(stack, tenant, everything, log)
    finally:
        await stack.emulator.delete("/_emulator/faults")
        worker.terminate()
        worker.wait(30)
    [copy] = [
        p
        for p in await stack.emulator_posts("mastodon", tenant.usernames["mastodon"])
        if p["media"]
    ]
    [attachment] = copy["media"]
    assert (await stack.emulator.get(attachment["url"])).content == picture
    assert attachment["description"] == "a green field"

    mirror_posts = await stack.api.get(
        f"/v1/mirrors/{created.json()['id']}/posts", headers=tenant.headers
    )
    by_status: dict[str, int] = {}
    for item in mirror_posts.json()["data"]:
        by_status[item["derived_status"]] = by_status.get(item["derived_status"], 0) + 1
    assert by_status.get("filtered_out") == 2, mirror_posts.json()
    assert len(mirror_posts.json()["data"]) == 6
