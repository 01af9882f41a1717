"""`herald dev`: the whole of Herald on one machine, supervised; Ctrl-C stops it all.

Order: migrate, Temporal dev server (SQLite under data_dir, Herald's search attributes), emulator,
seed demo data, worker, API. Then it prints the facts (also written to data_dir/dev.json) and a
curl to try, and waits. If any part exits, everything is stopped and the exit code says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

# Dev tooling, the one place besides seed.py: `herald dev` runs the emulator and aims Herald at it.
from emulator.presets import emulated_apps
from herald import temporal as names
from herald.crypto import CredentialCipher, load_or_create_secret_key
from herald.db.engine import create_engine, create_session_factory
from herald.migrate import migrate
from herald.processes import Child, port_is_free, temporal_dev_server_command
from herald.seed import DemoData, seed_demo
from herald.settings import PLATFORMS, PlatformAppSettings, Settings
from platforms.base import PlatformApp

log = logging.getLogger("herald.dev")

# The worker's Prometheus port under herald dev unless HERALD_WORKER_METRICS_PORT names one.
DEV_WORKER_METRICS_PORT = 9464


async def _wait_for(
    what: str, probe: Callable[[], Awaitable[bool]], timeout_s: float, child: Child
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not child.running:
            raise RuntimeError(f"{child.name} exited while starting; see its output above")
        with contextlib.suppress(Exception):
            if await probe():
                return
        await asyncio.sleep(0.25)
    raise RuntimeError(f"{what} did not become ready within {timeout_s:.0f}s")


async def _http_ok(url: str) -> bool:
    async with httpx.AsyncClient(timeout=2) as client:
        return (await client.get(url)).status_code == 200


async def _temporal_ok(settings: Settings) -> bool:
    client = await names.connect(settings)
    await client.service_client.check_health()
    return True


def _over(preset: PlatformApp, explicit: PlatformAppSettings | None) -> PlatformAppSettings:
    given = explicit or PlatformAppSettings()
    preset_secret = SecretStr(preset.client_secret) if preset.client_secret else None
    return PlatformAppSettings(
        api_url=given.api_url or preset.api_url,
        authorize_url=given.authorize_url or preset.authorize_url,
        token_url=given.token_url or preset.token_url,
        client_id=given.client_id or preset.client_id,
        client_secret=given.client_secret or preset_secret,
    )


def with_emulator_apps(settings: Settings) -> Settings:
    """`settings` whose `platform_apps` point every OAuth platform at the emulator, its URLs and
    OAuth client (when `platforms_use_emulator` is on): how `herald dev`, the tests and the
    benchmark hand the emulator to Herald's API and worker, which read only `platform_apps`.
    Explicit values win field by field, as they do over production."""
    if not settings.platforms_use_emulator:
        return settings
    apps = dict(settings.platform_apps)
    for platform, preset in emulated_apps(settings.emulator_url).items():
        apps[platform] = _over(preset, apps.get(platform))
    return settings.model_copy(update={"platform_apps": apps})


def _check_ports(settings: Settings) -> None:
    temporal_host, temporal_port = settings.temporal_address.rsplit(":", 1)
    wanted = [
        ("Temporal", temporal_host, int(temporal_port), "HERALD_TEMPORAL_ADDRESS"),
        ("Temporal UI", temporal_host, settings.temporal_ui_port, "HERALD_TEMPORAL_UI_PORT"),
        ("emulator", settings.emulator_host, settings.emulator_port, "HERALD_EMULATOR_PORT"),
        ("API", settings.api_host, settings.api_port, "HERALD_API_PORT"),
        (
            "worker metrics",
            settings.worker_metrics_host,
            worker_metrics_port(settings),
            "HERALD_WORKER_METRICS_PORT",
        ),
    ]
    busy = [w for w in wanted if not port_is_free(w[1], w[2])]
    if busy:
        lines = [
            f"  {name} port {host}:{port} is in use (set {env})" for name, host, port, env in busy
        ]
        raise RuntimeError("cannot start: another process holds a port\n" + "\n".join(lines))


def _write_private(path: Path, text: str) -> None:
    """Readable by its owner only: dev.json holds the demo workspace's API key."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)  # an older file kept its mode
    with os.fdopen(descriptor, "w") as out:
        out.write(text)


def worker_metrics_port(settings: Settings) -> int:
    return settings.worker_metrics_port or DEV_WORKER_METRICS_PORT


def dev_facts(settings: Settings, demo: DemoData) -> dict[str, Any]:
    worker_metrics = f"http://{settings.worker_metrics_host}:{worker_metrics_port(settings)}"
    return {
        "api_url": settings.api_url,
        "metrics_urls": {
            "api": f"{settings.api_url}/metrics",
            "worker": f"{worker_metrics}/metrics",
        },
        "api_key": demo.api_key,
        "user_email": demo.user_email,
        "user_password": demo.user_password,
        "workspace_id": str(demo.workspace_id),
        "brand_id": str(demo.brand_id),
        "temporal_address": settings.temporal_address,
        "temporal_ui_url": settings.temporal_ui_url,
        "emulator_url": settings.emulator_url,
        "accounts": [
            {"id": str(a.id), "platform": a.platform, "username": a.username} for a in demo.accounts
        ],
    }


def _banner(facts: dict[str, Any]) -> str:
    account = next(iter(facts["accounts"]), None)
    curl = ""
    if account:
        body = json.dumps(
            {
                "content": "Hello from Herald!",
                "targets": [{"account_id": account["id"]}],
                "publish_now": True,
            }
        )
        curl = (
            f"\n  Try it:\n    curl -s {facts['api_url']}/v1/posts \\\n"
            f"      -H 'Authorization: Bearer {facts['api_key']}' \\\n"
            f"      -H 'Content-Type: application/json' \\\n      -d '{body}'\n"
        )
    accounts = "\n".join(
        f"    {a['platform']:<10} @{a['username']}  {a['id']}" for a in facts["accounts"]
    )
    return (
        "\nHerald is ready.\n"
        f"  API          {facts['api_url']}  (docs: {facts['api_url']}/docs)\n"
        f"  API key      {facts['api_key']}\n"
        f"  Log in as    {facts['user_email']} / {facts['user_password']}  "
        "(POST /v1/auth/login; the demo workspace's owner)\n"
        f"  Workspace    {facts['workspace_id']}\n"
        f"  Brand        {facts['brand_id']}\n"
        f"  Temporal     {facts['temporal_address']}  (UI: {facts['temporal_ui_url']})\n"
        f"  Emulator     {facts['emulator_url']}\n"
        f"  Metrics      {facts['metrics_urls']['api']}  {facts['metrics_urls']['worker']}\n"
        "  Webhooks     may point at any port of this machine (http://127.0.0.1:...): "
        "herald dev only\n"
        f"  Accounts\n{accounts}\n{curl}"
        "  Ctrl-C stops everything.\n"
    )


async def _seed(settings: Settings) -> DemoData:
    engine = create_engine(settings.resolved_database_url)
    try:
        cipher = CredentialCipher(load_or_create_secret_key(settings))
        return await seed_demo(create_session_factory(engine), settings, cipher, list(PLATFORMS))
    finally:
        await engine.dispose()


async def run_dev(settings: Settings) -> int:
    settings = with_emulator_apps(settings)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    _check_ports(settings)
    log.info("migrating %s", settings.resolved_database_url.split("@")[-1])
    await asyncio.to_thread(migrate, settings.resolved_database_url)
    # The console script, not `python -m`: that would put the working directory on sys.path,
    # where a folder named like one of Herald's packages would shadow it.
    herald = [str(Path(sys.executable).parent / "herald")]
    logs = settings.data_dir / "logs"
    children = [
        Child("temporal", temporal_dev_server_command(settings), logs / "temporal.log"),
        Child("emulator", [*herald, "emulator"]),
        Child("worker", [*herald, "worker"]),
        Child("api", [*herald, "api"]),
    ]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    exit_code = 0
    try:
        temporal, emulator, worker, api = children
        log.info("starting the Temporal dev server (log: %s)", logs / "temporal.log")
        await temporal.start()
        await _wait_for("Temporal", lambda: _temporal_ok(settings), 60, temporal)
        await emulator.start()
        await _wait_for("the emulator", lambda: _http_ok(settings.emulator_url + "/"), 30, emulator)
        demo = await _seed(settings)
        # The OAuth platforms talk to the emulator (with_emulator_apps, above); accounts
        # connected through the API may point at loopback there.
        sandbox = settings.as_environment("platform_apps")
        # A receiver on the developer's own machine may subscribe (never a deployment's default).
        sandbox["HERALD_WEBHOOK_ALLOW_LOOPBACK"] = "true"
        metrics_port = {"HERALD_WORKER_METRICS_PORT": str(worker_metrics_port(settings))}
        emulator_host = f"{settings.emulator_host}:{settings.emulator_port}"
        # Mirrors import the media the sandbox's posts carry, from the emulator.
        imports = settings.media_import_allow_hosts or [emulator_host]
        await worker.start(
            env={
                **sandbox,
                **metrics_port,
                "HERALD_MEDIA_IMPORT_ALLOW_HOSTS": json.dumps(imports),
            }
        )
        allow = settings.platform_allow_hosts or [emulator_host]
        await api.start(env={**sandbox, "HERALD_PLATFORM_ALLOW_HOSTS": json.dumps(allow)})
        await _wait_for("the API", lambda: _http_ok(settings.api_url + "/readyz"), 60, api)
        facts = dev_facts(settings, demo)
        _write_private(settings.data_dir / "dev.json", json.dumps(facts, indent=2) + "\n")
        print(_banner(facts), flush=True)
        exits = [asyncio.create_task(child.wait()) for child in children]
        stopper = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait([*exits, stopper], return_when=asyncio.FIRST_COMPLETED)
        if stopper not in done:
            dead = [c.name for c in children if not c.running]
            log.error("%s exited; stopping everything", ", ".join(dead))
            exit_code = 1
        stopper.cancel()
    except RuntimeError as err:
        log.error("%s", err)
        exit_code = 1
    finally:
        log.info("stopping")
        # Reverse order: API and worker finish their requests before Temporal goes away.
        for child in reversed(children):
            await child.stop()
    return exit_code
