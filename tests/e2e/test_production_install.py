"""A fresh production-shaped install, every part a process of its own as docker-compose runs
them, and no `herald dev`: `herald migrate` on an empty Postgres database, `herald api` and
`herald worker`, then `herald admin create-user` and `create-api-key` give the operator a way
in. The owner logs in and connects a sandbox (emulator) Mastodon account; the key publishes a
post to it, which the platform receives once."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
from cryptography.fernet import Fernet
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from herald.schedules import reconciler_schedule_id
from herald.settings import Settings
from tests.support.servers import free_port, throwaway_postgres_database

BIN = Path(sys.executable).parent
PASSWORD = "a long operator password"


def _herald(env: dict[str, str], *args: str, stdin: str = "") -> dict[str, str]:
    done = subprocess.run(
        [str(BIN / "herald"), *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"herald {' '.join(args)}: {done.stderr}"
    lines = done.stdout.strip().splitlines()
    printed: dict[str, str] = json.loads(lines[-1]) if lines and lines[-1].startswith("{") else {}
    return printed


@contextlib.contextmanager
def _running(env: dict[str, str], log: Path, *commands: str) -> Iterator[None]:
    processes = [
        subprocess.Popen(
            [str(BIN / "herald"), command], env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT
        )
        for command in commands
    ]
    try:
        yield
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


async def _until(check: object, what: str, log: Path, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if await check():  # type: ignore[operator]
                return
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, f"{what} within {timeout_s} s; see {log}"
        await asyncio.sleep(0.5)


async def test_a_fresh_install_publishes_with_the_admin_credentials(
    temporal_env: WorkflowEnvironment, emulator_url: str, tmp_path: Path
) -> None:
    emulator = emulator_url.removeprefix("http://")
    port = free_port()
    api_url = f"http://127.0.0.1:{port}"
    queue = f"install-{uuid.uuid4().hex[:8]}"
    log = tmp_path / "herald.log"
    with throwaway_postgres_database() as database_url:
        # What an operator sets (docker-compose.yml), nothing of the test suite's settings:
        # Herald's default retries, limits and signup.
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("HERALD_")},
            "HERALD_DATABASE_URL": database_url,
            "HERALD_SECRET_KEY": Fernet.generate_key().decode(),
            "HERALD_DATA_DIR": str(tmp_path / "data"),
            "HERALD_TEMPORAL_ADDRESS": temporal_env.client.service_client.config.target_host,
            "HERALD_TEMPORAL_TASK_QUEUE": queue,
            "HERALD_API_PORT": str(port),
            "HERALD_PUBLIC_URL": api_url,
            # The sandbox network stands in for mastodon.social: a local address, so named.
            "HERALD_PLATFORM_ALLOW_HOSTS": json.dumps([emulator]),
            "HERALD_LOG_LEVEL": "WARNING",
        }
        await asyncio.to_thread(_herald, env, "migrate")
        with _running(env, log, "api", "worker"):
            async with httpx.AsyncClient(base_url=api_url, timeout=30) as api:

                async def ready() -> bool:
                    answer = await api.get("/readyz")
                    return answer.status_code == 200

                await _until(ready, "the API was not ready", log)
                owner = await asyncio.to_thread(
                    _herald,
                    env,
                    "admin",
                    "create-user",
                    "--email",
                    "ops@example.com",
                    "--password-stdin",
                    "--workspace",
                    "Acme",
                    stdin=PASSWORD + "\n",
                )
                keyed = await asyncio.to_thread(
                    _herald,
                    env,
                    "admin",
                    "create-api-key",
                    "--workspace",
                    owner["workspace_id"],
                    "--name",
                    "publisher",
                )
                key = {"Authorization": f"Bearer {keyed['api_key']}"}

                login = await api.post(
                    "/v1/auth/login", json={"email": "ops@example.com", "password": PASSWORD}
                )
                assert login.status_code == 200, login.text
                as_owner = {"Authorization": f"Bearer {login.json()['access_token']}"}
                username = f"ops{uuid.uuid4().hex[:8]}"
                made = await api.post(
                    f"{emulator_url}/_emulator/accounts",
                    json={"platform": "mastodon", "username": username},
                )
                made.raise_for_status()
                connected = await api.post(
                    "/v1/accounts",
                    json={
                        "brand_id": owner["brand_id"],
                        "platform": "mastodon",
                        "credentials": {
                            "instance_url": f"{emulator_url}/mastodon",
                            "access_token": made.json()["token"],
                        },
                    },
                    headers=as_owner,
                )
                assert connected.status_code == 201, connected.text

                created = await api.post(
                    "/v1/posts",
                    json={
                        "content": "Hello from a fresh install",
                        "publish_now": True,
                        "targets": [{"account_id": connected.json()["id"]}],
                    },
                    headers=key,
                )
                assert created.status_code == 201, created.text
                post_id = created.json()["id"]

                async def published() -> bool:
                    post = (await api.get(f"/v1/posts/{post_id}", headers=key)).json()
                    assert post["status"] not in ("failed", "partial"), post
                    return bool(post["status"] == "published")

                await _until(published, "the post was not published", log)
                statuses = (
                    await api.get(
                        f"{emulator_url}/_emulator/posts",
                        params={"platform": "mastodon", "account": username},
                    )
                ).json()["data"]
                assert [s["text"] for s in statuses if not s.get("deleted")] == [
                    "Hello from a fresh install"
                ]
    settings = Settings(_env_file=None, temporal_task_queue=queue)  # type: ignore[call-arg]
    with contextlib.suppress(RPCError):  # the worker made it; nothing polls its queue now
        await temporal_env.client.get_schedule_handle(reconciler_schedule_id(settings)).delete()
