"""The `herald` command: `dev` runs everything; `api`, `worker`, `emulator`, `migrate` one part.

The one module of the core package that imports upward (`api.app`, `worker`, and the emulator
by name): it is the console script's entry point, the composition root that picks which part
to run. Those imports are made inside each subcommand, so importing herald never loads the API
or the worker, and no module imports this one."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from herald.logs import configure_logging
from herald.settings import get_settings
from herald.tracing import start_tracing, stop_tracing


def _api() -> int:
    import uvicorn

    from api.app import create_app
    from api.http_protocol import PROTOCOL

    settings = get_settings()
    start_tracing("herald-api")
    uvicorn.run(
        create_app(settings),
        host=settings.api_host,
        port=settings.api_port,
        log_level=settings.log_level.lower(),
        proxy_headers=True,
        http=PROTOCOL,
    )
    return 0


def _worker() -> int:
    from worker import run_worker

    settings = get_settings()

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await run_worker(settings, stop)

    start_tracing("herald-worker")
    try:
        asyncio.run(main())
    finally:
        stop_tracing()
    return 0


def _emulator() -> int:
    import uvicorn

    settings = get_settings()
    uvicorn.run(
        "emulator.app:create_app",
        factory=True,
        host=settings.emulator_host,
        port=settings.emulator_port,
        log_level="warning",
    )
    return 0


def _migrate() -> int:
    from herald.migrate import migrate

    migrate(get_settings().resolved_database_url)
    print("database is at the newest revision")
    return 0


def _dev() -> int:
    from herald.dev import run_dev

    return asyncio.run(run_dev(get_settings()))


COMMANDS = {
    "dev": (_dev, "run everything: Temporal dev server, emulator, worker, API, demo data"),
    "api": (_api, "run the REST API"),
    "worker": (_worker, "run the Temporal worker"),
    "emulator": (_emulator, "run the platform emulator (sandbox networks)"),
    "migrate": (_migrate, "apply database migrations"),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="herald", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (_, help_text) in COMMANDS.items():
        sub.add_parser(name, help=help_text)
    args = parser.parse_args(argv)
    configure_logging(get_settings().log_level)
    return COMMANDS[args.command][0]()


if __name__ == "__main__":
    sys.exit(main())
