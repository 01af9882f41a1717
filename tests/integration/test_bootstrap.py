"""`herald bootstrap` gives a fresh deployment its first credential: the printed key calls the
API, in the workspace it created, with the brand it created."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
from cryptography.fernet import Fernet

from api.app import create_app
from api.resources import Resources
from herald.migrate import migrate
from herald.settings import Settings

BIN = Path(sys.executable).parent


async def test_the_bootstrapped_key_calls_the_api(tmp_path: Path) -> None:
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
    await asyncio.to_thread(migrate, database_url)
    secret = Fernet.generate_key().decode()
    env = {
        **os.environ,
        "HERALD_DATABASE_URL": database_url,
        "HERALD_SECRET_KEY": secret,
        "HERALD_DATA_DIR": str(tmp_path),
    }
    made = await asyncio.to_thread(
        subprocess.run,
        [str(BIN / "herald"), "bootstrap", "--workspace", "Acme", "--brand", "Acme news"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    printed = json.loads(made.stdout.strip().splitlines()[-1])
    assert printed["api_key"].startswith("hk_")
    settings = Settings(
        _env_file=None, database_url=database_url, secret_key=secret, data_dir=tmp_path
    )  # type: ignore[call-arg]
    resources = Resources.build(settings)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(settings, resources)),
            base_url="http://herald",
            headers={"Authorization": f"Bearer {printed['api_key']}"},
        ) as api:
            listed = await api.get("/v1/accounts")
            assert listed.status_code == 200 and listed.json()["data"] == []
            # The brand is the workspace's: an upload for it is accepted.
            upload = await api.post(
                "/v1/media/uploads",
                json={
                    "brand_id": printed["brand_id"],
                    "filename": "a.png",
                    "mime_type": "image/png",
                    "size": 10,
                },
            )
            assert upload.status_code == 201, upload.text
            refused = await api.get(
                "/v1/accounts", headers={"Authorization": "Bearer hk_not-a-key"}
            )
            assert refused.status_code == 401
    finally:
        await resources.close()


async def test_admin_commands_make_the_first_owner_and_a_key(tmp_path: Path) -> None:
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
    await asyncio.to_thread(migrate, database_url)
    secret = Fernet.generate_key().decode()
    env = {
        **os.environ,
        "HERALD_DATABASE_URL": database_url,
        "HERALD_SECRET_KEY": secret,
        "HERALD_DATA_DIR": str(tmp_path),
    }

    def admin(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN / "herald"), "admin", *args],
            env=env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
        )

    make_owner = ("create-user", "--email", "Ops@Example.com", "--password-stdin")
    made = await asyncio.to_thread(admin, *make_owner, "--workspace", "Acme", stdin="s3cret-pass\n")
    assert made.returncode == 0, made.stderr
    user = json.loads(made.stdout.strip().splitlines()[-1])
    again = await asyncio.to_thread(admin, *make_owner, stdin="s3cret-pass\n")
    assert again.returncode == 2 and "has an account already" in again.stderr
    keyed = await asyncio.to_thread(
        admin, "create-api-key", "--workspace", user["workspace_id"], "--name", "deploy"
    )
    assert keyed.returncode == 0, keyed.stderr
    key = json.loads(keyed.stdout.strip().splitlines()[-1])["api_key"]

    settings = Settings(
        _env_file=None, database_url=database_url, secret_key=secret, data_dir=tmp_path
    )  # type: ignore[call-arg]
    resources = Resources.build(settings)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(settings, resources)),
            base_url="http://herald",
        ) as api:
            login = await api.post(
                "/v1/auth/login", json={"email": "ops@example.com", "password": "s3cret-pass"}
            )
            assert login.status_code == 200, login.text
            me = await api.get(
                "/v1/auth/me", headers={"Authorization": f"Bearer {login.json()['access_token']}"}
            )
            [workspace] = me.json()["workspaces"]
            assert workspace["id"] == user["workspace_id"] and workspace["role"]["name"] == "owner"
            listed = await api.get("/v1/accounts", headers={"Authorization": f"Bearer {key}"})
            assert listed.status_code == 200
    finally:
        await resources.close()
