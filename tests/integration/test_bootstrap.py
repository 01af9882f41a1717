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
