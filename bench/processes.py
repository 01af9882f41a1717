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
import os
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil

from bench.baseline_worker import BaselineQueues, baseline_queues
from herald.processes import Child
from herald.settings import Settings
from tests.support.servers import free_port

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parent.parent
READY_TIMEOUT_S = 60.0


@dataclass
class Children:
    """The processes of one side (herald.processes.Child: they die with the benchmark even if
    it is killed), for their CPU time."""

    children: list[Child]

    def cpu_seconds(self) -> dict[str, float]:
        """CPU seconds so far, by the child's name (`api`, `worker`, `baseline`)."""
        spent: dict[str, float] = {}
        for child in self.children:
            spent[child.name] = 0.0
            with contextlib.suppress(psutil.Error):
                assert child.process is not None
                times = psutil.Process(child.process.pid).cpu_times()
                spent[child.name] = times.user + times.system
        return spent


def child_environment(settings: Settings, **extra: str) -> dict[str, str]:
    """The settings of the benchmark's own Herald, for a child process to read (on top of this
    process's environment); `bench` itself is found from the repository's root."""
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    env = {
        "PYTHONPATH": path,
        "HERALD_DATABASE_URL": settings.resolved_database_url,
        **settings.as_environment(
            "data_dir",
            "secret_key",
            "temporal_address",
            "platform_allow_hosts",
            "platform_concurrency",
            "platform_apps",
            "emulator_port",
            "webhook_allow_loopback",
            "rate_limit_per_caller",
            "rate_limit_per_workspace",
            "rate_limit_global",
        ),
        "HERALD_LOG_LEVEL": "WARNING",
    }
    env.update(extra)
    return env


@contextlib.asynccontextmanager
async def started_children(
    commands: dict[str, list[str]], env: dict[str, str], log: Path
) -> AsyncIterator[Children]:
    """Starts each command, its output appended to `log`, and stops them all at the end."""
    log.parent.mkdir(parents=True, exist_ok=True)
    children = [Child(name, command, log) for name, command in commands.items()]
    try:
        for child in children:
            await child.start(env)
        yield Children(children)
    finally:
        await asyncio.gather(*(child.stop() for child in children))


def _failed(children: Children, log: Path, what: str) -> RuntimeError:
    tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
    codes = [c.process.returncode if c.process else None for c in children.children]
    return RuntimeError(f"{what} did not start (exit codes {codes}); log {log}:\n{tail}")


@contextlib.asynccontextmanager
async def herald_processes(settings: Settings, queue: str) -> AsyncIterator[tuple[str, Children]]:
    """`herald api` and `herald worker` on `queue`: (the API's base URL, the two processes).
    The worker is known to poll once posts publish; the caller's warm-up sees to that."""
    port = free_port()
    env = child_environment(
        settings,
        HERALD_TEMPORAL_TASK_QUEUE=queue,
        HERALD_API_HOST="127.0.0.1",
        HERALD_API_PORT=str(port),
    )
    log = settings.data_dir / "herald-processes.log"
    herald = str(BIN / "herald")
    url = f"http://127.0.0.1:{port}"
    commands = {"api": [herald, "api"], "worker": [herald, "worker"]}
    async with started_children(commands, env, log) as children:
        await wait_healthy(url, children, log)
        yield url, children


async def wait_healthy(url: str, children: Children, log: Path) -> None:
    """Until the API at `url` answers /healthz (an error, with `log`'s tail, if one of
    `children` exits or READY_TIMEOUT_S passes first)."""
    names = " / ".join(child.name for child in children.children)
    deadline = time.monotonic() + READY_TIMEOUT_S
    async with httpx.AsyncClient(base_url=url, timeout=2) as probe:
        while True:
            if not all(child.running for child in children.children):
                raise _failed(children, log, names)
            with contextlib.suppress(httpx.HTTPError):
                if (await probe.get("/healthz")).status_code == 200:
                    return
            if time.monotonic() > deadline:
                raise _failed(children, log, names)
            await asyncio.sleep(0.2)


@contextlib.asynccontextmanager
async def baseline_process(settings: Settings) -> AsyncIterator[tuple[BaselineQueues, Children]]:
    """The baselines' worker in a process of its own, polling once its log says `ready`."""
    queues = baseline_queues()
    log = settings.data_dir / "baseline-worker.log"
    log.unlink(missing_ok=True)
    command = [sys.executable, "-m", "bench.baseline_worker", "--queue", queues.workflows]
    async with started_children(
        {"baseline": command}, child_environment(settings), log
    ) as children:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not (log.exists() and "ready" in log.read_text(errors="replace").splitlines()):
            if not all(child.running for child in children.children):
                raise _failed(children, log, "the baseline worker")
            if time.monotonic() > deadline:
                raise _failed(children, log, "the baseline worker")
            await asyncio.sleep(0.1)
        yield queues, children
