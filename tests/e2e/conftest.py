"""A Herald whose worker runs as a subprocess the tests may kill: API in process, worker via
`herald worker`, on SQLite and Postgres."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from api.gateway import TemporalGateway
from api.resources import Resources
from herald.migrate import migrate
from herald.schedules import reconciler_schedule_id
from herald.settings import Settings
from tests.support.servers import throwaway_postgres_database
from tests.support.stack import Stack, make_settings

BIN = Path(sys.executable).parent


# What a `herald api` or `herald worker` child needs of the test's settings: its database,
# Temporal, key and emulator, and the suite's short retries, polls and webhook settings.
CHILD_SETTINGS = (
    "database_url",
    "temporal_address",
    "temporal_task_queue",
    "secret_key",
    "data_dir",
    "emulator_port",
    "platform_apps",
    "platform_allow_hosts",
    "media_import_allow_hosts",
    "publish_retry_initial_s",
    "publish_retry_max_s",
    "reconcile_interval_s",
    "mirror_poll_interval_s",
    "webhook_allow_loopback",
    "webhook_poll_s",
    "webhook_retry_schedule_s",
    "webhook_dispatch_heartbeat_s",
    "rate_limit_per_caller",
    "rate_limit_per_workspace",
    "rate_limit_global",
)


def child_environment(settings: Settings) -> dict[str, str]:
    return {
        **os.environ,
        **settings.as_environment(*CHILD_SETTINGS),
        "HERALD_LOG_LEVEL": "WARNING",
    }


@pytest.fixture(params=["sqlite", "postgres"])
def crash_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'crash.db'}"
        migrate(url)
        yield url
    else:
        with throwaway_postgres_database() as url:
            migrate(url)
            yield url


@pytest.fixture
async def crash_stack(
    crash_db: str, temporal_env: WorkflowEnvironment, emulator_url: str, tmp_path: Path
) -> AsyncIterator[tuple[Stack, dict[str, str]]]:
    settings = make_settings(
        database_url=crash_db,
        data_dir=tmp_path / "data",
        temporal_address=temporal_env.client.service_client.config.target_host,
        temporal_task_queue=f"crash-{uuid.uuid4().hex[:8]}",
        emulator_port=int(emulator_url.rsplit(":", 1)[1]),
    )
    env = child_environment(settings)
    resources = Resources.build(settings)
    resources.temporal = TemporalGateway(settings, temporal_env.client)
    app = create_app(settings, resources)
    async with (
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://herald") as api,
        httpx.AsyncClient(base_url=emulator_url, timeout=10) as emulator,
    ):
        yield Stack("crash", settings, resources, api, emulator, resources.cipher), env
    await resources.close()
    # The worker created it; nothing polls this queue any more.
    with contextlib.suppress(RPCError):
        await temporal_env.client.get_schedule_handle(reconciler_schedule_id(settings)).delete()


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [str(BIN / "herald"), "worker"], env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT
    )
