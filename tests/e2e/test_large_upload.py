"""A 2 GB video published to TikTok streams from storage: the worker process's peak RSS grows
by less than 100 MB while it uploads, and the emulated TikTok receives exactly the file's bytes
(its size and SHA-256, hashed as the chunks arrived).

The video is a real MP4 (PyAV, four seconds: Herald's probe decodes it, TikTok's rules take
it) followed by a `free` box that pads the file to 2 GB, sparse on disk: an MP4 may hold free
space anywhere at its top level, so the file stays valid and takes no disk space."""

from __future__ import annotations

import asyncio
import hashlib
import struct
import time
from pathlib import Path

import pytest

from herald.storage.base import upload_key
from herald.storage.local import LocalStorage
from tests.e2e.conftest import start_worker
from tests.support.media_files import mp4
from tests.support.stack import Stack, Tenant

# Decimal gigabytes: media sizes are 32-bit columns on Postgres (see the report of #19).
SIZE = 2_000_000_000
MB = 1024 * 1024
RSS_GROWTH_LIMIT = 100 * MB
PUBLIC = {"privacy_level": "PUBLIC_TO_EVERYONE"}


def _padded_mp4(path: Path, size: int) -> None:
    """A four-second MP4, then one 64-bit `free` box to `size` bytes, left sparse."""
    video = mp4(seconds=4, fps=5)
    with path.open("wb") as out:
        out.write(video)
        out.write(struct.pack(">I4sQ", 1, b"free", size - len(video)))
        out.truncate(size)


def _sha256_in_pieces(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while piece := handle.read(4 * MB):
            digest.update(piece)
    return digest.hexdigest()


def _status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no {field} for process {pid}")


def _reset_peak(pid: int) -> None:
    """VmHWM starts again from the current RSS (proc(5), clear_refs: 5)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


async def _register(stack: Stack, tenant: Tenant, file: Path) -> Path:
    """Stored the way an upload stores it: the file moved to where the upload URL writes,
    then `complete`, which probes and hashes it. Answers where it is stored."""
    started = await stack.api.post(
        "/v1/media/uploads",
        json={
            "brand_id": str(tenant.brand_id),
            "filename": "big.mp4",
            "mime_type": "video/mp4",
            "size": (await asyncio.to_thread(file.stat)).st_size,
        },
        headers=tenant.headers,
    )
    assert started.status_code == 201, started.text
    media_id = str(started.json()["media_id"])
    storage = stack.resources.storage
    assert isinstance(storage, LocalStorage)
    target = storage.path_of(upload_key(f"{tenant.workspace_id}/{media_id}"))
    await asyncio.to_thread(target.parent.mkdir, parents=True, exist_ok=True)
    await asyncio.to_thread(file.rename, target)
    done = await stack.api.post(f"/v1/media/{media_id}/complete", headers=tenant.headers)
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "ready", done.json()
    return storage.path_of(f"{tenant.workspace_id}/{media_id}")


async def _publish(stack: Stack, tenant: Tenant, text: str, stored: Path) -> dict[str, object]:
    created = await stack.api.post(
        "/v1/posts",
        json={
            "content": text,
            "publish_now": True,
            "media_ids": [stored.name],
            "targets": [{"account_id": str(tenant.accounts["tiktok"]), "options": PUBLIC}],
        },
        headers=tenant.headers,
    )
    assert created.status_code == 201, created.text
    return await stack.wait_for_post(tenant, created.json()["id"], timeout_s=120)


@pytest.mark.parametrize("crash_db", ["sqlite"], indirect=True)  # storage, not the database
async def test_a_2_gb_video_reaches_tiktok_without_the_worker_holding_it(
    crash_stack: tuple[Stack, dict[str, str]], tmp_path: Path
) -> None:
    stack, env = crash_stack
    tenant = await stack.new_tenant(("tiktok",))
    small, big = tmp_path / "small.mp4", tmp_path / "big.mp4"
    small.write_bytes(mp4(seconds=4, fps=5))
    _padded_mp4(big, SIZE)
    assert big.stat().st_size == SIZE and big.stat().st_blocks * 512 < 16 * MB  # sparse
    log = tmp_path / "worker.log"
    worker = start_worker(env, log)
    stored = big
    try:
        # A first, small video warms the worker up (imports, clients, the TikTok adapter):
        # what is measured afterwards is what the size of the second one costs.
        warm = await _publish(stack, tenant, "warm up", await _register(stack, tenant, small))
        assert warm["status"] == "published", (warm, log.read_text()[-3000:])
        stored = await _register(stack, tenant, big)
        expected = asyncio.create_task(asyncio.to_thread(_sha256_in_pieces, stored))

        before = _status_kb(worker.pid, "VmRSS")
        _reset_peak(worker.pid)
        began = time.monotonic()
        post = await _publish(stack, tenant, "two gigabytes", stored)
        took = time.monotonic() - began
        peak = _status_kb(worker.pid, "VmHWM")
        assert post["status"] == "published", (post, log.read_text()[-3000:])
        digest = await expected
    finally:
        worker.terminate()
        worker.wait(30)
        stored.unlink(missing_ok=True)
    growth = peak - before
    assert growth < RSS_GROWTH_LIMIT, (
        f"the worker's RSS grew by {growth / MB:.0f} MB (from {before / MB:.0f} MB) while "
        f"uploading {SIZE / 1e9:.0f} GB in {took:.1f} s"
    )
    posts = await stack.emulator_posts("tiktok", tenant.usernames["tiktok"])
    [media] = next(p for p in posts if p["text"] == "two gigabytes")["media"]
    assert (media["size"], media["sha256"]) == (SIZE, digest)
