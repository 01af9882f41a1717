"""A whole Herald in this process, built the way the test suite builds it: a Temporal dev server
from the venv's `temporal` binary, the emulator over HTTP in a thread, the API through httpx's
ASGITransport and the real workers (worker.running_workers).

`open_stack(args)` reuses the stack `python -m bench` opened for every benchmark, so running
all of them starts Temporal once; a benchmark run on its own opens and closes its own.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil
from cryptography.fernet import Fernet
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from api.gateway import TemporalGateway
from api.resources import Resources
from bench.baseline_activities import Destination
from bench.processes import Children
from emulator.app import create_app as create_emulator
from herald import temporal as names
from herald.crypto import CredentialCipher
from herald.db.engine import READ_ONLY, create_engine
from herald.dev import with_emulator_apps
from herald.gc_tuning import freeze_startup_objects
from herald.migrate import migrate
from herald.settings import Settings
from tests.support.servers import free_port, serve_in_thread, throwaway_postgres_database
from tests.support.stack import UNLIMITED, Stack, Tenant
from worker import running_workers

BIN = Path(sys.executable).parent
# The benchmarks measure the engine, not Mastodon's 300-calls-per-5-minutes budget: the
# emulator they start never throttles (both Herald and the baselines talk to it).
EMULATOR_RATE_LIMIT = 1_000_000_000

log = logging.getLogger("bench")


@dataclass
class BenchTenant:
    """A workspace (key, brand) and its Mastodon accounts, in creation order."""

    tenant: Tenant
    account_ids: list[uuid.UUID]
    usernames: list[str]

    @property
    def headers(self) -> dict[str, str]:
        return self.tenant.headers

    @property
    def workspace_id(self) -> uuid.UUID:
        return self.tenant.workspace_id

    @property
    def brand_id(self) -> uuid.UUID:
        return self.tenant.brand_id


@dataclass
class BenchStack:
    database: str
    stack: Stack
    client: Client
    emulator_url: str

    @property
    def api(self) -> httpx.AsyncClient:
        return self.stack.api

    @property
    def emulator(self) -> httpx.AsyncClient:
        return self.stack.emulator

    @property
    def settings(self) -> Any:
        return self.stack.settings

    @property
    def sessions(self) -> Any:
        return self.stack.resources.sessions

    async def tenant_with_accounts(self, count: int) -> BenchTenant:
        """A fresh workspace with `count` fresh Mastodon accounts on the emulator."""
        tenant = await self.stack.new_tenant(("mastodon",))
        accounts = [tenant.accounts["mastodon"]]
        usernames = [tenant.usernames["mastodon"]]
        for _ in range(count - 1):
            account_id, username, _token = await self.stack.add_account(tenant, "mastodon")
            accounts.append(account_id)
            usernames.append(username)
        return BenchTenant(tenant, accounts, usernames)

    async def emulator_account(self) -> tuple[str, str]:
        """A fresh Mastodon account on the emulator alone (for baselines): (username, token)."""
        username = f"b{uuid.uuid4().hex[:10]}"
        created = await self.emulator.post(
            "/_emulator/accounts", json={"platform": "mastodon", "username": username}
        )
        created.raise_for_status()
        return username, str(created.json()["token"])

    async def emulator_destinations(self, count: int) -> tuple[list[str], list[Destination]]:
        """`count` fresh emulator accounts as the baselines post to them: (usernames, where)."""
        accounts = [await self.emulator_account() for _ in range(count)]
        instance_url = f"{self.emulator_url}/mastodon"
        return [username for username, _ in accounts], [
            Destination(instance_url=instance_url, token=token) for _, token in accounts
        ]

    async def emulator_posts(self, username: str) -> list[dict[str, Any]]:
        return await self.stack.emulator_posts("mastodon", username)


def bench_settings(**overrides: Any) -> Settings:
    """Herald's defaults (platform concurrency, attempts, timeouts) plus what an in-process
    stack needs: a fresh credential key, the emulator on 127.0.0.1 allowed (as host:port, the
    only form the setting takes), webhook receivers on this machine allowed (webhook_delivery's;
    herald dev's setting), and the OAuth platforms pointed at the emulator (emulator_port is
    among the overrides)."""
    port = overrides.get("emulator_port")
    values: dict[str, Any] = {
        "secret_key": Fernet.generate_key().decode(),
        "platform_allow_hosts": [f"127.0.0.1:{port}"] if port else [],
        "platforms_use_emulator": True,
        "webhook_allow_loopback": True,
        # The benchmarks call faster than Herald's default limits allow one key: every request
        # is still counted (bench/request_overhead.py measures what that costs).
        **UNLIMITED,
    }
    values.update(overrides)
    return with_emulator_apps(Settings(_env_file=None, **values))  # type: ignore[call-arg]


@contextlib.contextmanager
def _database(kind: str, folder: Path) -> Iterator[str]:
    if kind == "postgres":
        with throwaway_postgres_database() as url:
            yield url
    else:
        yield f"sqlite+aiosqlite:///{folder / 'herald.db'}"


@contextlib.asynccontextmanager
async def build_stack(database: str) -> AsyncIterator[BenchStack]:
    with tempfile.TemporaryDirectory(prefix="herald-bench-") as tmp:
        folder = Path(tmp)
        env = await WorkflowEnvironment.start_local(
            dev_server_existing_path=str(BIN / "temporal"),
            search_attributes=names.SEARCH_ATTRIBUTES,
            data_converter=pydantic_data_converter,
            dev_server_log_level="error",
        )
        try:
            emulator_app = create_emulator(rate_limit=EMULATOR_RATE_LIMIT)
            with (
                serve_in_thread(emulator_app, free_port()) as emulator_url,
                _database(database, folder) as url,
            ):
                # Alembic runs its own event loop: off this one.
                await asyncio.to_thread(migrate, url)
                settings = bench_settings(
                    database_url=url,
                    data_dir=folder / "data",
                    temporal_address=env.client.service_client.config.target_host,
                    temporal_task_queue=f"herald-bench-{uuid.uuid4().hex[:8]}",
                    emulator_port=int(emulator_url.rsplit(":", 1)[1]),
                )
                resources = Resources.build(settings)
                resources.temporal = TemporalGateway(settings, env.client)
                app = create_app(settings, resources)
                try:
                    async with (
                        running_workers(settings, env.client),
                        httpx.AsyncClient(
                            transport=httpx.ASGITransport(app=app),
                            base_url="http://herald",
                            timeout=60,
                        ) as api,
                        httpx.AsyncClient(base_url=emulator_url, timeout=30) as emulator,
                    ):
                        stack = Stack(
                            name=database,
                            settings=settings,
                            resources=resources,
                            api=api,
                            emulator=emulator,
                            cipher=CredentialCipher(
                                settings.secret_key.get_secret_value().encode()  # type: ignore[union-attr]
                            ),
                        )
                        freeze_startup_objects()  # as the API and the worker do
                        yield BenchStack(database, stack, env.client, emulator_url)
                finally:
                    await resources.close()
        finally:
            await env.shutdown()


@contextlib.asynccontextmanager
async def open_stack(args: argparse.Namespace) -> AsyncIterator[BenchStack]:
    shared: BenchStack | None = getattr(args, "stack", None)
    if shared is not None:
        yield shared
        return
    async with build_stack(getattr(args, "database", "sqlite")) as stack:
        yield stack


@contextlib.asynccontextmanager
async def measuring_engine(stack: BenchStack, *, read_only: bool = False) -> AsyncIterator[Any]:
    """An engine of the benchmark's own, so polling the database never takes a connection
    from the API's or the worker's pool. `read_only`: on SQLite its transactions start as plain
    BEGIN, so polling never takes the write lock Herald's writers queue for."""
    engine = create_engine(stack.settings.resolved_database_url)
    try:
        yield engine.execution_options(**{READ_ONLY: True}) if read_only else engine
    finally:
        await engine.dispose()


class CpuMeter:
    """CPU seconds spent by this process (the driver, the emulator thread and, in-process, the
    API and workers), by the Temporal dev server it started and by `children` (the side's own
    processes, when it runs in them), between `start()` and `stop()`. Postgres, when used,
    runs outside and is not counted."""

    def __init__(self, children: Children | None = None) -> None:
        me = psutil.Process()
        self._servers = [p for p in me.children(recursive=True) if "temporal" in p.name()]
        self._children = children
        self._started: tuple[float, float, dict[str, float]] = (0.0, 0.0, {})

    def _now(self) -> tuple[float, float, dict[str, float]]:
        server = 0.0
        for process in self._servers:
            with contextlib.suppress(psutil.Error):
                times = process.cpu_times()
                server += times.user + times.system
        children = self._children.cpu_seconds() if self._children is not None else {}
        return time.process_time(), server, children

    def start(self) -> None:
        self._started = self._now()

    def stop(self) -> dict[str, float]:
        """Seconds spent: `process_s`, `temporal_server_s`, `children_s` (all the side's own
        processes) and `<name>_s` for each of them."""
        own, server, children = self._now()
        by_child = {
            f"{name}_s": s - self._started[2].get(name, 0.0) for name, s in children.items()
        }
        return {
            "process_s": own - self._started[0],
            "temporal_server_s": server - self._started[1],
            "children_s": sum(by_child.values()),
            **by_child,
        }


def cpu_ms_per(spent: dict[str, float], units: int) -> dict[str, float]:
    """`CpuMeter.stop()`'s seconds as milliseconds per unit of work, by the same names
    without their `_s`."""
    return {name.removesuffix("_s"): round(s * 1000 / units, 2) for name, s in spent.items()}
