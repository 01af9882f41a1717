"""Herald and the baseline laid out as they are deployed: Herald's API (`herald api`) and worker
(`herald worker`) each in a process of their own, and the baseline's worker in a process of its
own (`python -m bench.baseline_worker`). The benchmark's process drives both sides, over HTTP
and gRPC, and keeps the emulator, the Temporal server and the database it already started.

In one process, Herald's API and worker share one interpreter lock with the emulator and the
driver, while the baseline has only its worker there; that measured the lock more than Herald.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil

from bench.baseline_worker import BaselineQueues, baseline_queues
from herald.settings import Settings
from tests.support.servers import free_port

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parent.parent
READY_TIMEOUT_S = 60.0


@dataclass
class Children:
    """The processes of one side, for their CPU time."""

    processes: list[subprocess.Popen[bytes]]

    def cpu_seconds(self) -> float:
        total = 0.0
        for process in self.processes:
            with contextlib.suppress(psutil.Error):
                times = psutil.Process(process.pid).cpu_times()
                total += times.user + times.system
        return total


def _environment(settings: Settings, **extra: str) -> dict[str, str]:
    """The settings of the benchmark's own Herald, for a child process to read."""
    secret = settings.secret_key.get_secret_value() if settings.secret_key else ""
    env = {
        **os.environ,
        "HERALD_DATABASE_URL": settings.resolved_database_url,
        "HERALD_DATA_DIR": str(settings.data_dir),
        "HERALD_SECRET_KEY": secret,
        "HERALD_TEMPORAL_ADDRESS": settings.temporal_address,
        "HERALD_PLATFORM_ALLOW_HOSTS": json.dumps(settings.platform_allow_hosts),
        "HERALD_PLATFORM_CONCURRENCY": str(settings.platform_concurrency),
        "HERALD_EMULATOR_PORT": str(settings.emulator_port),
        "HERALD_LOG_LEVEL": "WARNING",
    }
    env.update(extra)
    return env


@contextlib.contextmanager
def _started(
    commands: list[list[str]], env: dict[str, str], log: Path, *, read_stdout: bool = False
) -> Iterator[Children]:
    with log.open("ab") as sink:
        processes = [
            subprocess.Popen(
                command,
                env=env,
                cwd=ROOT,
                stdout=subprocess.PIPE if read_stdout else sink,
                stderr=sink,
            )
            for command in commands
        ]
    try:
        yield Children(processes)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _failed(children: Children, log: Path, what: str) -> RuntimeError:
    tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
    codes = [p.poll() for p in children.processes]
    return RuntimeError(f"{what} did not start (exit codes {codes}); log {log}:\n{tail}")


@contextlib.asynccontextmanager
async def herald_processes(settings: Settings, queue: str) -> AsyncIterator[tuple[str, Children]]:
    """`herald api` and `herald worker` on `queue`: (the API's base URL, the two processes).
    The worker is known to poll once posts publish; the caller's warm-up sees to that."""
    port = free_port()
    env = _environment(
        settings,
        HERALD_TEMPORAL_TASK_QUEUE=queue,
        HERALD_API_HOST="127.0.0.1",
        HERALD_API_PORT=str(port),
    )
    log = settings.data_dir / "herald-processes.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    herald = str(BIN / "herald")
    url = f"http://127.0.0.1:{port}"
    with _started([[herald, "api"], [herald, "worker"]], env, log) as children:
        deadline = time.monotonic() + READY_TIMEOUT_S
        async with httpx.AsyncClient(base_url=url, timeout=2) as probe:
            while True:
                if any(p.poll() is not None for p in children.processes):
                    raise _failed(children, log, "herald api / herald worker")
                with contextlib.suppress(httpx.HTTPError):
                    if (await probe.get("/healthz")).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise _failed(children, log, "herald api")
                await asyncio.sleep(0.2)
        yield url, children


@contextlib.asynccontextmanager
async def baseline_process(settings: Settings) -> AsyncIterator[tuple[BaselineQueues, Children]]:
    """The baselines' worker in a process of its own, polling once it says `ready`."""
    queues = baseline_queues()
    log = settings.data_dir / "baseline-worker.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "bench.baseline_worker", "--queue", queues.workflows]
    with _started([command], _environment(settings), log, read_stdout=True) as children:
        (worker,) = children.processes
        assert worker.stdout is not None
        try:
            line = await asyncio.wait_for(
                asyncio.to_thread(worker.stdout.readline), READY_TIMEOUT_S
            )
        except TimeoutError as err:
            raise _failed(children, log, "the baseline worker") from err
        if line.strip() != b"ready":
            raise _failed(children, log, "the baseline worker")
        yield queues, children
