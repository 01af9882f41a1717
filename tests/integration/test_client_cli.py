"""`herald-client`, the CLI of clients/python, as a user runs it: a subprocess against the
suite's Herald over HTTP, its credentials in a config dir of the test's own."""

from __future__ import annotations

import asyncio
import io
import json
import os
import random
import stat
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from herald.db.models import Member, User
from herald.passwords import hash_password
from herald.roles import EDITOR
from tests.support.stack import Stack

CLI = Path(sys.executable).parent / "herald-client"
PROGRESS_THRESHOLD = 512 * 1024

# The CLI only speaks HTTP: the database behind Herald changes nothing it does.
pytestmark = pytest.mark.sqlite_only


def _noise_png(width: int, height: int) -> bytes:
    """A PNG that does not compress: its size is about width x height x 3 bytes."""
    pixels = random.Random(7).randbytes(width * height * 3)
    out = io.BytesIO()
    Image.frombytes("RGB", (width, height), pixels).save(out, format="PNG")
    return out.getvalue()


async def _run(
    config_dir: Path, *args: str, stdin: str | None = None, timeout_s: float = 90
) -> tuple[int, str, str]:
    """The CLI as a subprocess (asynchronously: the suite's worker shares this event loop)."""
    env = {k: v for k, v in os.environ.items() if k not in ("HERALD_API_KEY", "HERALD_URL")}
    env["HERALD_CLIENT_CONFIG_DIR"] = str(config_dir)
    process = await asyncio.create_subprocess_exec(
        str(CLI),
        *args,
        env=env,
        stdin=asyncio.subprocess.DEVNULL if stdin is None else asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(
            process.communicate(stdin.encode() if stdin is not None else None), timeout_s
        )
    except TimeoutError:
        process.kill()
        raise AssertionError(f"herald-client {' '.join(args)} ran over {timeout_s} s") from None
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_the_cli_posts_an_image_to_two_accounts_and_watches_both_publish(
    stack: Stack, tmp_path: Path
) -> None:
    tenant = await stack.new_tenant(("mastodon", "bluesky"))
    config_dir = tmp_path / "config"

    code, _, err = await _run(config_dir, "accounts")
    assert code == 3 and "not logged in" in err

    code, out, err = await _run(
        config_dir, "login", "--api-key", tenant.api_key, "--url", stack.settings.api_url
    )
    assert code == 0, err
    stored = config_dir / "config.json"
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert json.loads(stored.read_text())["api_key"] == tenant.api_key

    code, out, err = await _run(config_dir, "accounts", "--json")
    assert code == 0, err
    accounts: list[dict[str, Any]] = json.loads(out)
    assert {a["platform"] for a in accounts} == {"mastodon", "bluesky"}

    code, out, err = await _run(config_dir, "post", "hi", "--to", "linkedin")
    assert code == 2 and "no account 'linkedin'" in err

    image = tmp_path / "picture.png"
    image.write_bytes(_noise_png(480, 480))
    assert PROGRESS_THRESHOLD < image.stat().st_size < 1_000_000  # Bluesky takes up to 1 MB
    code, out, err = await _run(
        config_dir,
        "post",
        "A picture for two networks",
        "--to",
        "mastodon,bluesky",
        "--media",
        str(image),
        "--json",
    )
    assert code == 0, err
    assert "100%" in err, "a large file's upload shows its progress"
    created: dict[str, Any] = json.loads(out)
    assert len(created["media_ids"]) == 1
    assert {t["platform"] for t in created["targets"]} == {"mastodon", "bluesky"}

    code, out, err = await _run(config_dir, "watch", created["id"], "--interval", "0.3")
    assert code == 0, (out, err)
    assert out.strip().splitlines()[-1] == f"post {created['id']}: published"
    for platform in ("mastodon", "bluesky"):
        assert any(platform in line and "published" in line for line in out.splitlines()), out

    code, out, err = await _run(config_dir, "watch", created["id"], "--json")
    assert code == 0, err
    final = json.loads(out.strip().splitlines()[-1])
    assert final["status"] == "published"
    assert all(t["status"] == "published" for t in final["targets"])

    code, out, err = await _run(config_dir, "posts", "--status", "published", "--json")
    assert code == 0, err
    assert [p["id"] for p in json.loads(out)] == [created["id"]]
    code, out, err = await _run(config_dir, "posts")
    assert code == 0 and created["id"] in out and "published" in out

    for platform in ("mastodon", "bluesky"):
        [made] = await stack.emulator_posts(platform, tenant.usernames[platform])
        assert made["text"] == "A picture for two networks"


async def test_cli_cancel_and_retry_answer_with_herald_s_refusals(
    stack: Stack, tmp_path: Path
) -> None:
    tenant = await stack.new_tenant()
    config_dir = tmp_path / "config"
    await _run(config_dir, "login", "--api-key", tenant.api_key, "--url", stack.settings.api_url)
    code, out, err = await _run(
        config_dir, "post", "later", "--to", "mastodon", "--at", "2099-12-24T09:00+01:00", "--json"
    )
    assert code == 0, err
    scheduled = json.loads(out)
    assert scheduled["status"] == "scheduled"
    assert scheduled["scheduled_at"].startswith("2099-12-24T08:00")

    code, out, err = await _run(config_dir, "cancel", scheduled["id"])
    assert code == 0, err
    assert "cancelled" in out.splitlines()[0]
    code, out, err = await _run(config_dir, "retry", scheduled["id"])
    assert code == 4 and "CONFLICT" in err  # nothing failed, so nothing to retry
    code, out, err = await _run(config_dir, "watch", scheduled["id"])
    assert code == 1, "a cancelled post is final but not published"


async def test_a_user_logs_in_with_a_password_and_an_expired_token_is_renewed(
    stack: Stack, tmp_path: Path
) -> None:
    tenant = await stack.new_tenant()
    email = f"u{uuid.uuid4().hex[:10]}@example.com"
    async with stack.resources.sessions() as session, session.begin():
        user = User(
            email=email, email_key=email, name="Ed", password_hash=await hash_password("s3cret!")
        )
        session.add(user)
        await session.flush()
        session.add(Member(workspace_id=tenant.workspace_id, user_id=user.id, role_id=EDITOR.id))
    config_dir = tmp_path / "config"
    url = stack.settings.api_url

    code, _, err = await _run(
        config_dir, "login", "--email", email, "--password-stdin", "--url", url, stdin="nope\n"
    )
    assert code == 3 and "UNAUTHORIZED" in err
    code, _, err = await _run(
        config_dir, "login", "--email", email, "--password-stdin", "--url", url, stdin="s3cret!\n"
    )
    assert code == 0, err
    stored_path = config_dir / "config.json"
    stored = json.loads(stored_path.read_text())
    assert stored["access_token"] and stored["refresh_token"] and "api_key" not in stored
    assert stat.S_IMODE(stored_path.stat().st_mode) == 0o600

    code, out, err = await _run(config_dir, "accounts", "--json")
    assert code == 0, err
    assert [a["id"] for a in json.loads(out)] == [str(tenant.accounts["mastodon"])]

    # The access token has run out: the next command renews it with the refresh token first.
    stored_path.write_text(json.dumps({**stored, "access_expires_at": 0}))
    code, out, err = await _run(config_dir, "posts", "--json")
    assert code == 0, err
    renewed = json.loads(stored_path.read_text())
    assert renewed["refresh_token"] != stored["refresh_token"]
    assert renewed["access_expires_at"] > 0
    assert stat.S_IMODE(stored_path.stat().st_mode) == 0o600
